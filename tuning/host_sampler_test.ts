import assert from "node:assert/strict";
import { StatsRegistry } from "../mi/stats.ts";
import { HostSampler, SAMPLE_AGE } from "./host_sampler.ts";

/** Host groups over a reader that counts its reads and finishes each when the test says. */
function setup(maxAgeMs: number) {
  const reads: { group: string; done: (v: [string, number][]) => void }[] = [];
  const warned: string[] = [];
  const sampler = new HostSampler(
    (group) => new Promise((done) => reads.push({ group, done })),
    maxAgeMs,
    (m) => warned.push(m),
  );
  const stats = new StatsRegistry();
  sampler.register(stats, ["irq", "softirq"]);
  return { reads, warned, sampler, stats };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("host sampler: a sample younger than the max age is served without a read, with its age", async () => {
  const { reads, stats } = setup(60_000);
  const first = stats.group("irq");
  await settle();
  assert.equal(reads.length, 1);
  reads[0].done([["38", 7]]);
  const got = await first;
  assert.deepEqual(got.map((v) => v.name), ["38", SAMPLE_AGE]);
  assert.equal(got[0].value, 7);
  const age0 = got[1].value;
  await new Promise((r) => setTimeout(r, 20));
  const again = await stats.group("irq");
  assert.equal(reads.length, 1, "served from the sample");
  assert.equal(again[0].value, 7);
  // The age counts from the start of the read and grows while the sample is served.
  assert.ok(again[1].value >= age0 + 15 && again[1].value < 60_000, `age ${again[1].value}`);
  // A young sample is encoded without a promise: get_statistics then answers in the same turn.
  const encoded = stats.encode(["irq:"]);
  assert.equal(typeof encoded, "string", "no promise for a young sample");
  const json = JSON.parse(encoded as string);
  assert.deepEqual(Object.keys(json), ["irq:38", `irq:${SAMPLE_AGE}`]);
  assert.equal(json["irq:38"], 7);
  assert.equal(reads.length, 1);
});

Deno.test("host sampler: max age 0 reads for every request; requests during a read share it", async () => {
  const { reads, stats, sampler } = setup(0);
  const a = stats.group("irq"), b = stats.encode(["irq:", "softirq:"]), c = stats.group("softirq");
  assert.ok(b instanceof Promise, "groups that must be read make a promise");
  await settle();
  assert.deepEqual(reads.map((r) => r.group), ["irq", "softirq"], "one read per group");
  reads[0].done([["38", 1]]);
  reads[1].done([["NET_RX", 2]]);
  assert.equal((await a)[0].value, 1);
  assert.equal(JSON.parse((await b)!)["softirq:NET_RX"], 2);
  assert.equal((await c)[0].value, 2);
  const d = stats.group("irq");
  await settle();
  assert.equal(reads.length, 3, "read live again");
  reads[2].done([["38", 3]]);
  assert.equal((await d)[0].value, 3);
  // A reload raises the max age: the last sample is now young enough.
  sampler.maxAgeMs = 60_000;
  assert.equal((await stats.group("irq"))[0].value, 3);
  assert.equal(reads.length, 3);
});

Deno.test("host sampler: a group that yields nothing has no age; a failed read is logged and tried again", async () => {
  const { reads, stats, warned } = setup(60_000);
  const empty = stats.group("softirq");
  await settle();
  reads[0].done([]);
  assert.deepEqual(await empty, []);

  let fail = true;
  const sampler = new HostSampler(
    () => fail ? Promise.reject(new Error("the worker stopped")) : Promise.resolve([["x", 1]]),
    60_000,
    (m) => warned.push(m),
  );
  sampler.register(stats, ["nic"]);
  assert.deepEqual(await stats.group("nic"), []);
  assert.match(warned[0], /statistics group nic: the worker stopped/);
  fail = false;
  assert.deepEqual((await stats.group("nic")).map((v) => v.name), ["x", SAMPLE_AGE]);
});
