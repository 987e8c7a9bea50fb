import assert from "node:assert/strict";
import { StatsRegistry } from "./stats.ts";
import { StatsLookup } from "./stats_lookup.ts";
import { testMi } from "./testkit.ts";

function registry(): { stats: StatsRegistry; reads: () => number } {
  const stats = new StatsRegistry();
  stats.counter("mi", "requests").inc(3);
  stats.counter("core", "Requests").inc(7); // the same name in a later group
  stats.gauge("core", "load").set(2);
  let reads = 0;
  stats.collector("net", () => {
    reads++;
    return [["rx", 10], ["requests", 99], ["tx", 20]];
  });
  return { stats, reads: () => reads };
}

Deno.test("stats lookup: the same answers as StatsRegistry.lookup, item by item", async () => {
  const { stats } = registry();
  const items = [
    "all",
    "mi:",
    "CORE:",
    "net:",
    "nope:",
    "mi:requests",
    "core:REQUESTS",
    "net:rx",
    "net:none",
    "requests",
    "load",
    "tx",
    "missing",
    ":x",
  ];
  const l = new StatsLookup(stats);
  for (const item of items) assert.deepEqual(await l.lookup(item), await stats.lookup(item), item);
  assert.deepEqual(
    await StatsLookup.resolve(stats, items),
    await Promise.all(items.map((i) => stats.lookup(i))),
  );
});

Deno.test("stats lookup: a request naming 20,000 statistics reads each group once", async () => {
  const { stats, reads } = registry();
  const items = Array.from({ length: 20000 }, (_, i) => `unknown_${i}`);
  items.push("net:rx", "net:tx", "rx");
  const out = await StatsLookup.resolve(stats, items);
  assert.equal(reads(), 1);
  assert.equal(out.filter((v) => v.length > 0).length, 3);
});

Deno.test("get_statistics, list_statistics, reset_statistics with many names stay linear", async () => {
  const m = testMi();
  let reads = 0;
  m.stats.collector("host", () => {
    reads++;
    return [["cpu0", 1]];
  });
  const names = Array.from({ length: 20000 }, (_, i) => `nope_${i}`);
  const get = JSON.parse(
    (await m.send(JSON.stringify({
      jsonrpc: "2.0",
      method: "get_statistics",
      params: [[...names, "host:cpu0", "mi:requests"]],
      id: 1,
    })))!,
  );
  assert.deepEqual(Object.keys(get.result), ["host:cpu0", "mi:requests"]);
  const reset = JSON.parse(
    (await m.send(JSON.stringify({
      jsonrpc: "2.0",
      method: "reset_statistics",
      params: [[...names, "mi:requests"]],
      id: 2,
    })))!,
  );
  assert.equal(reset.result, "OK");
  const list = JSON.parse(
    (await m.send(JSON.stringify({
      jsonrpc: "2.0",
      method: "list_statistics",
      params: [[...names, "cpu0"]],
      id: 3,
    })))!,
  );
  assert.deepEqual(list.result, { cpu0: "non-incremental" });
  assert.equal(reads, 3, "one read of the computed group per request");
});
