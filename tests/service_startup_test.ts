// The boot profile: the config's `startup` calls run after the listeners
// are up and before READY=1; a failure shows in STATUS= and the log, and
// `startup_failure` decides whether the daemon stays up or stops.

import assert from "node:assert/strict";
import { sipmi, startDaemon } from "./helpers/daemon.ts";
import { FakeSystemd } from "./helpers/fake_systemd.ts";
import { py, req } from "./helpers/python.ts";

Deno.test('startup_failure "continue": every call runs, the failure shows in STATUS= and service status', async () => {
  await using systemd = new FakeSystemd();
  await using d = await startDaemon((c) => ({
    ...c,
    startup: [
      { method: "uptime" },
      { method: "log_level", params: [99] },
      { method: "log_level", params: [4] },
    ],
  }), { env: { NOTIFY_SOCKET: systemd.address } });
  const ready = await systemd.waitFor((m) => m.fields.READY === "1", "READY=1");
  const status = systemd.messages[ready].fields.STATUS;
  assert.match(status, /startup FAILED: log_level: -32602 Invalid params \(Bad log level 99/);
  const log = d.lines.join("\n");
  assert.match(log, /ERROR attendant: startup call 2 log_level failed: -32602 Invalid params/);
  assert.match(log, /INFO attendant: startup call 3 log_level: \{"New global log level":4\}/);
  // The calls ran before READY=1: the STATUS= sent with it counted them.
  const level = await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: req("log_level") });
  assert.equal(JSON.parse(level.reply).result.Processes[0]["Log level"], 4);

  const s = await sipmi("service", "status", "--via", `udp:127.0.0.1:${d.udpPort}`);
  assert.equal(s.code, 0, s.err);
  assert.match(s.out, /boot profile: startup FAILED: log_level/);
  assert.match(s.out, / {2}1\. uptime: ok\n {2}2\. log_level: FAILED -32602 Invalid params/);
  const j = await sipmi("service", "status", "--via", `udp:127.0.0.1:${d.udpPort}`, "--json");
  const report = JSON.parse(j.out);
  assert.deepEqual(report.tuning.startup.calls.map((c: { ok: boolean }) => c.ok), [
    true,
    false,
    true,
  ]);
  assert.equal(report.phase, "ready");
  assert.equal((await d.stop()).code, 0);
});

Deno.test('startup_failure "exit": the daemon stops with a clear message and never says READY=1', async () => {
  await using systemd = new FakeSystemd();
  await using d = await startDaemon((c) => ({
    ...c,
    startup: [{ method: "log_level", params: [99] }, { method: "log_level", params: [4] }],
    startup_failure: "exit",
  }), { env: { NOTIFY_SOCKET: systemd.address }, expectFailure: true });
  const { code, stderr } = await d.exited();
  assert.equal(code, 1);
  assert.match(
    stderr,
    /startup call log_level failed and startup_failure is "exit": sipmi stops \(-32602 Invalid params/,
  );
  assert.doesNotMatch(stderr, /startup call 2/);
  assert.doesNotMatch(stderr, /sipmi ready/);
  assert.equal(systemd.with("READY").length, 0);
  const stopping = systemd.with("STOPPING", "1");
  assert.equal(stopping.length, 1);
  assert.match(stopping[0].fields.STATUS, /startup FAILED: log_level/);
  // The listeners were stopped and their files removed.
  assert.equal(await Deno.lstat(d.fifo).then(() => true, () => false), false);
  assert.equal(await Deno.lstat(d.sock).then(() => true, () => false), false);
});
