import assert from "node:assert/strict";
import { GroupValues, StatsRegistry } from "./stats.ts";

Deno.test("counters, gauges and computed values; registering twice returns the same counter", async () => {
  const s = new StatsRegistry();
  const c = s.counter("mi", "requests");
  c.inc();
  assert.equal(s.counter("mi", "requests"), c);
  s.gauge("mi", "open").set(3);
  s.computed("core", "answer", () => 42);
  assert.deepEqual(await s.lookup("requests"), [{
    group: "mi",
    name: "requests",
    value: 1,
    incremental: true,
    kind: "counter",
  }]);
  assert.deepEqual((await s.lookup("core:answer"))[0].value, 42);
  assert.throws(() => s.gauge("mi", "requests"), /another kind/);
  assert.throws(() => s.counter("mi", "bad name"), /bad statistic/);
});

Deno.test("computed groups collect on read, async allowed", async () => {
  const s = new StatsRegistry();
  let n = 0;
  s.collector("softnet", async () => {
    await Promise.resolve();
    n++;
    return [["cpu0_dropped", n]];
  });
  assert.deepEqual(await s.lookup("softnet:"), [{
    group: "softnet",
    name: "cpu0_dropped",
    value: 1,
    incremental: false,
    kind: "gauge",
  }]);
  assert.deepEqual((await s.lookup("cpu0_dropped"))[0].value, 2);
  assert.throws(() => s.counter("softnet", "x"), /computed/);
  assert.throws(() => s.collector("softnet", () => []), /exists/);
  assert.equal(await s.reset("softnet:cpu0_dropped"), true);
  assert.equal(await s.reset("softnet:nope"), false);
});

Deno.test("a computed group's kind and its labelled family members", async () => {
  const s = new StatsRegistry();
  s.collector("softnet", () => [
    ["dropped", 7],
    ["cpu0_dropped", 7, { family: "dropped", labels: { cpu: "0" } }],
  ], { kind: "counter" });
  s.gauge("mi", "open");
  assert.deepEqual(await s.lookup("softnet:"), [
    { group: "softnet", name: "dropped", value: 7, incremental: false, kind: "counter" },
    {
      group: "softnet",
      name: "cpu0_dropped",
      value: 7,
      incremental: false,
      kind: "counter",
      member: { family: "dropped", labels: { cpu: "0" } },
    },
  ]);
  assert.equal((await s.lookup("mi:open"))[0].kind, "gauge");
});

/** get_statistics's answer built stat by stat, as for items naming single statistics. */
async function byObject(s: StatsRegistry, items: string[]): Promise<string> {
  const out: Record<string, number> = {};
  for (const item of items) {
    for (const v of await s.lookup(item)) out[`${v.group}:${v.name}`] = v.value;
  }
  return JSON.stringify(out);
}

Deno.test("encode: whole groups answer the same JSON as stat by stat, a sample encoded once", async () => {
  const s = new StatsRegistry();
  s.counter("mi", "requests").inc(7);
  s.gauge("mi", "open").set(NaN);
  s.computed("core", "uptime", () => 12);
  const sample = new GroupValues([["cpu0_processed", 5], ["cpu1_processed", 1e21]]);
  let age = 0;
  s.collector("softnet", () => ({ sample, live: [["sample_age_ms", ++age]] }));
  s.collector("udp", () => [["InErrors", 3]]);
  s.collector("empty", () => []);
  for (
    const items of [
      ["all"],
      ["softnet:"],
      ["mi:", "softnet:", "MI:", "all"],
      ["empty:", "nope:"],
      ["udp:", "core:"],
    ]
  ) {
    const encoded = await s.encode(items);
    assert.ok(encoded !== undefined, String(items));
    // The age is read anew each time: compare with it taken out.
    const strip = (j: string) => JSON.stringify({ ...JSON.parse(j), "softnet:sample_age_ms": 0 });
    assert.equal(strip(encoded), strip(await byObject(s, items)), String(items));
  }
  assert.equal(await s.encode(["empty:"]), "{}");
  // The shared sample's members are encoded once and kept.
  assert.equal(sample.json("softnet"), sample.json("softnet"));
  assert.match(
    sample.json("softnet"),
    /^"softnet:cpu0_processed":5,"softnet:cpu1_processed":1e\+21$/,
  );
  // Single statistics are answered stat by stat.
  assert.equal(await s.encode(["all", "mi:requests"]), undefined);
  assert.equal(await s.encode(["requests"]), undefined);
  assert.equal(await s.encode([":"]), undefined);
});

Deno.test("a sampled group keeps its members' families; its live values are gauges", async () => {
  const s = new StatsRegistry();
  const sample = new GroupValues([["cpu0_dropped", 4, {
    family: "dropped",
    labels: { cpu: "0" },
  }]]);
  s.collector("softnet", () => ({ sample, live: [["sample_age_ms", 12]] }), { kind: "counter" });
  assert.deepEqual(await s.lookup("softnet:"), [
    {
      group: "softnet",
      name: "cpu0_dropped",
      value: 4,
      incremental: false,
      kind: "counter",
      member: { family: "dropped", labels: { cpu: "0" } },
    },
    { group: "softnet", name: "sample_age_ms", value: 12, incremental: false, kind: "gauge" },
  ]);
  assert.equal(
    await s.encode(["softnet:"]),
    '{"softnet:cpu0_dropped":4,"softnet:sample_age_ms":12}',
  );
});
