// docs/protocol.md, "Core commands": every core command's result shape, exact bytes where
// the reply is deterministic.

import assert from "node:assert/strict";
import { testMi } from "./testkit.ts";
import { ctime, serverString } from "./core_cmds.ts";
import { REVISION } from "./version.ts";

const call = (method: string, params?: unknown) =>
  JSON.stringify(
    params === undefined
      ? { jsonrpc: "2.0", method, id: 1 }
      : { jsonrpc: "2.0", method, params, id: 1 },
  );

async function result(m: ReturnType<typeof testMi>, method: string, params?: unknown) {
  const reply = JSON.parse((await m.send(call(method, params)))!);
  assert.equal(reply.error, undefined, JSON.stringify(reply.error));
  return reply.result;
}

Deno.test("which: every command name, in registration order", async () => {
  const m = testMi();
  assert.equal(
    await m.send(call("which")),
    '{"jsonrpc":"2.0","result":["get_statistics","get_statistics_detail","list_statistics","reset_statistics",' +
      '"reset_all_statistics",' +
      '"uptime","version","pwd","arg","which","help","ps","log_level"],"id":1}',
  );
});

Deno.test("which command: its recipes; unknown → 404", async () => {
  const m = testMi();
  assert.equal(
    await m.send(call("which", ["log_level"])),
    '{"jsonrpc":"2.0","result":[[],["level"],["level","pid"]],"id":1}',
  );
  assert.equal(
    await m.send(call("which", { command: "uptime" })),
    '{"jsonrpc":"2.0","result":[[]],"id":1}',
  );
  assert.equal(
    await m.send(call("which", ["nope"])),
    '{"jsonrpc":"2.0","error":{"code":404,"message":"unknown MI command"},"id":1}',
  );
});

Deno.test("help: usage string; help mi_cmd: text and module; unknown → 404", async () => {
  const m = testMi();
  assert.equal(
    await m.send(call("help")),
    `{"jsonrpc":"2.0","result":"Usage: help mi_cmd - returns information about 'mi_cmd'","id":1}`,
  );
  assert.equal(
    await m.send(call("help", ["get_statistics"])),
    '{"jsonrpc":"2.0","result":{"Help":"prints the statistics (all, group or one) realtime values.","Exported by":"statistics"},"id":1}',
  );
  assert.deepEqual(Object.keys(await result(m, "help", ["uptime"])), ["Help", "Exported by"]);
  assert.equal(
    await m.send(call("help", { mi_cmd: "nope" })),
    '{"jsonrpc":"2.0","error":{"code":404,"message":"unknown MI command"},"id":1}',
  );
});

Deno.test("uptime: Now, Up since, Up time in ctime format", async () => {
  const m = testMi();
  const r = await result(m, "uptime");
  assert.deepEqual(Object.keys(r), ["Now", "Up since", "Up time"]);
  const CTIME =
    /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123][0-9] \d\d:\d\d:\d\d \d{4}$/;
  assert.match(r.Now, CTIME);
  assert.match(r["Up since"], CTIME);
  assert.match(r["Up time"], /^\d+ \[sec\]$/);
});

Deno.test("ctime pads the day of month with a space", () => {
  assert.equal(ctime(new Date(2026, 10, 3, 7, 4, 9)), "Tue Nov  3 07:04:09 2026");
  assert.equal(ctime(new Date(2026, 10, 23, 17, 54, 49)), "Mon Nov 23 17:54:49 2026");
});

Deno.test("version: Server string; with revision adds git", async () => {
  const m = testMi();
  assert.equal(serverString(), `sipmi (0.1.0 (${Deno.build.arch}/${Deno.build.os}))`);
  assert.equal(
    await m.send(call("version")),
    `{"jsonrpc":"2.0","result":{"Server":"${serverString()}"},"id":1}`,
  );
  const r = await result(m, "version", ["yes"]);
  assert.deepEqual(Object.keys(r), ["Server", "git"]);
  // A source checkout is not stamped (the release build stamps REVISION).
  assert.equal(r.git, REVISION);
});

Deno.test("pwd and arg", async () => {
  const m = testMi({ argv: ["/usr/bin/sipmi", "serve", "--config", "/x.jsonc"] });
  assert.equal(
    await m.send(call("pwd")),
    `{"jsonrpc":"2.0","result":{"WD":${JSON.stringify(Deno.cwd())}},"id":1}`,
  );
  assert.equal(
    await m.send(call("arg")),
    '{"jsonrpc":"2.0","result":["/usr/bin/sipmi","serve","--config","/x.jsonc"],"id":1}',
  );
});

Deno.test("ps: the task table", async () => {
  const m = testMi();
  m.tasks.add("MI Datagram udp:127.0.0.1:8898");
  assert.equal(
    await m.send(call("ps")),
    `{"jsonrpc":"2.0","result":{"Processes":[{"ID":0,"PID":${Deno.pid},"Type":"attendant"},` +
      `{"ID":1,"PID":${Deno.pid},"Type":"MI Datagram udp:127.0.0.1:8898"}]},"id":1}`,
  );
});

Deno.test("log_level: list, set global, set per pid, Bad PID, range", async () => {
  const m = testMi();
  m.tasks.add("MI FIFO", 424242);
  assert.equal(
    await m.send(call("log_level")),
    `{"jsonrpc":"2.0","result":{"Processes":[{"PID":${Deno.pid},"Log level":3,"Type":"attendant"},` +
      `{"PID":424242,"Log level":3,"Type":"MI FIFO"}]},"id":1}`,
  );
  assert.equal(
    await m.send(call("log_level", [2, 424242])),
    '{"jsonrpc":"2.0","result":{"Log level":2},"id":1}',
  );
  assert.deepEqual(
    (await result(m, "log_level")).Processes.map((p: { "Log level": number }) => p["Log level"]),
    [3, 2],
  );
  assert.equal(
    await m.send(call("log_level", ["4"])),
    '{"jsonrpc":"2.0","result":{"New global log level":4},"id":1}',
  );
  // The global level replaces per-task levels, as in OpenSIPS.
  assert.deepEqual(
    (await result(m, "log_level")).Processes.map((p: { "Log level": number }) => p["Log level"]),
    [4, 4],
  );
  assert.equal(m.log.level, 4);
  assert.equal(
    await m.send(call("log_level", [1, 99999999])),
    '{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"Bad PID"},"id":1}',
  );
  assert.equal(
    await m.send(call("log_level", [5])),
    '{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"Bad log level 5, use -3 (alert) to 4 (debug)"},"id":1}',
  );
  assert.equal(m.log.level, 4);
});

function withStats() {
  const m = testMi();
  const c = m.stats.counter("sip", "rcv_requests");
  c.inc(5);
  m.stats.counter("sip", "fixed", { resettable: false }).inc(3);
  m.stats.gauge("sip", "active").set(2);
  m.stats.computed("calc", "answer", () => 42);
  m.stats.collector("host", () => [["cpu0_dropped", 7], ["cpu1_dropped", 0]]);
  return m;
}

Deno.test("get_statistics: group:, all, bare name, group:name; unknown omitted", async () => {
  const m = withStats();
  assert.equal(
    await m.send(call("get_statistics", [["sip:"]])),
    '{"jsonrpc":"2.0","result":{"sip:rcv_requests":5,"sip:fixed":3,"sip:active":2},"id":1}',
  );
  assert.equal(
    await m.send(
      call("get_statistics", {
        statistics: ["answer", "host:cpu0_dropped", "sip:active", "nope", "nope:"],
      }),
    ),
    '{"jsonrpc":"2.0","result":{"calc:answer":42,"host:cpu0_dropped":7,"sip:active":2},"id":1}',
  );
  assert.equal(
    await m.send(call("get_statistics", [["nope"]])),
    '{"jsonrpc":"2.0","result":{},"id":1}',
  );
  const all = await result(m, "get_statistics", [["all"]]);
  for (const k of ["core:uptime", "mi:requests", "sip:fixed", "calc:answer", "host:cpu1_dropped"]) {
    assert.ok(k in all, k);
  }
  // Group names match without regard to case.
  assert.deepEqual(await result(m, "get_statistics", [["HOST:"]]), {
    "host:cpu0_dropped": 7,
    "host:cpu1_dropped": 0,
  });
});

Deno.test("get_statistics: ['all'] is a bad type; [] is an empty array", async () => {
  const m = testMi();
  assert.equal(
    await m.send(call("get_statistics", ["all"])),
    `{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"Bad type for parameter 'statistics'"},"id":1}`,
  );
  assert.equal(
    await m.send(call("get_statistics", [[]])),
    `{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"Empty array in parameter 'statistics'"},"id":1}`,
  );
  assert.equal(
    await m.send(call("get_statistics", [[1]])),
    `{"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params","data":"Bad type for array item in parameter 'statistics'"},"id":1}`,
  );
});

Deno.test("list_statistics: incremental or non-incremental; a single stat keyed by its bare name", async () => {
  const m = withStats();
  assert.equal(
    await m.send(call("list_statistics", [["sip:", "answer"]])),
    '{"jsonrpc":"2.0","result":{"sip:rcv_requests":"incremental","sip:fixed":"non-incremental",' +
      '"sip:active":"non-incremental","answer":"non-incremental"},"id":1}',
  );
  const all = await result(m, "list_statistics");
  assert.equal(all["host:cpu0_dropped"], "non-incremental");
  assert.equal(all["mi:requests"], "incremental");
});

Deno.test("reset_statistics: OK, non-resettable left alone; unknown → 404", async () => {
  const m = withStats();
  assert.equal(
    await m.send(call("reset_statistics", [["rcv_requests", "sip:fixed", "active", "answer"]])),
    '{"jsonrpc":"2.0","result":"OK","id":1}',
  );
  assert.deepEqual(await result(m, "get_statistics", [["sip:"]]), {
    "sip:rcv_requests": 0,
    "sip:fixed": 3,
    "sip:active": 2,
  });
  assert.equal(
    await m.send(call("reset_statistics", [["nope", "sip:nope"]])),
    '{"jsonrpc":"2.0","error":{"code":404,"message":"Statistics Not Found"},"id":1}',
  );
  assert.equal(
    await m.send(call("reset_statistics", [["host:cpu0_dropped"]])),
    '{"jsonrpc":"2.0","result":"OK","id":1}',
  );
});

Deno.test("reset_all_statistics: OK, resets every resettable counter", async () => {
  const m = withStats();
  assert.equal(
    await m.send(call("reset_all_statistics")),
    '{"jsonrpc":"2.0","result":"OK","id":1}',
  );
  const r = await result(m, "get_statistics", [["sip:", "mi:requests"]]);
  assert.deepEqual(r, { "sip:rcv_requests": 0, "sip:fixed": 3, "sip:active": 2, "mi:requests": 1 });
});

Deno.test("policy: a read-only endpoint refuses mutating commands with a clear error", async () => {
  const m = testMi({ endpoint: { listener: "udp:127.0.0.1:8898", policy: { readOnly: true } } });
  assert.equal(
    await m.send(call("log_level", [4])),
    `{"jsonrpc":"2.0","error":{"code":403,"message":"Forbidden","data":"command 'log_level' changes state; udp:127.0.0.1:8898 is read-only"},"id":1}`,
  );
  assert.equal(m.log.level, 3);
  // Reading the levels is not a change.
  assert.ok((await result(m, "log_level")).Processes);
  assert.equal(
    await m.send(call("reset_all_statistics")),
    `{"jsonrpc":"2.0","error":{"code":403,"message":"Forbidden","data":"command 'reset_all_statistics' changes state; udp:127.0.0.1:8898 is read-only"},"id":1}`,
  );
});

Deno.test("policy: allow and deny lists, with prefix patterns", async () => {
  const m = testMi({
    endpoint: {
      transport: "http",
      policy: { allow: ["get_*", "uptime", "log_level"], deny: ["log_level"] },
    },
  });
  assert.ok(await result(m, "uptime"));
  assert.ok(await result(m, "get_statistics", [["all"]]));
  assert.equal(
    await m.send(call("pwd")),
    `{"jsonrpc":"2.0","error":{"code":403,"message":"Forbidden","data":"command 'pwd' is not allowed on http"},"id":1}`,
  );
  assert.equal(
    await m.send(call("log_level")),
    `{"jsonrpc":"2.0","error":{"code":403,"message":"Forbidden","data":"command 'log_level' is denied on http"},"id":1}`,
  );
  const stats = await testMi().stats.lookup("mi:refused_requests");
  assert.equal(stats.length, 1);
});

Deno.test("get_statistics_detail: the same selection with kinds and family labels", async () => {
  const m = testMi();
  m.stats.counter("sip", "rcv_requests").inc(5);
  m.stats.gauge("sip", "active").set(2);
  m.stats.collector("host", () => [
    ["dropped", 7],
    ["cpu0_dropped", 7, { family: "dropped", labels: { cpu: "0" } }],
  ], { kind: "counter" });
  assert.deepEqual(
    await result(m, "get_statistics_detail", [["sip:", "host:cpu0_dropped", "nope"]]),
    {
      "sip:rcv_requests": { value: 5, kind: "counter" },
      "sip:active": { value: 2, kind: "gauge" },
      "host:cpu0_dropped": { value: 7, kind: "counter", family: "dropped", labels: { cpu: "0" } },
    },
  );
  // get_statistics itself is unchanged: names and values only.
  assert.deepEqual(await result(m, "get_statistics", [["host:"]]), {
    "host:dropped": 7,
    "host:cpu0_dropped": 7,
  });
});
