import assert from "node:assert/strict";
import { StatsRegistry } from "./stats.ts";

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
