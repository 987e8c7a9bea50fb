// The daemon as systemd sees it: a fake notify socket, `sipmi serve` as a
// child with NOTIFY_SOCKET and WATCHDOG_USEC, and every message checked:
// READY=1 once every listener answers and the startup calls ran, STATUS=,
// WATCHDOG=1 from the event loop, RELOADING=1/READY=1 around SIGHUP,
// STOPPING=1 on SIGTERM.

import assert from "node:assert/strict";
import { startDaemon } from "./helpers/daemon.ts";
import { FakeSystemd } from "./helpers/fake_systemd.ts";
import { py, req } from "./helpers/python.ts";

const JSON_TYPE = { "Content-Type": "application/json" };
const WEDGE = new URL("./helpers/wedge_serve.ts", import.meta.url).pathname;

/** `uptime` over every transport; the ids that came back. */
async function askEveryTransport(d: Awaited<ReturnType<typeof startDaemon>>): Promise<unknown[]> {
  const replies = await Promise.all([
    py({ op: "fifo", fifo: d.fifo, reply_dir: d.replyDir, request: req("uptime", "fifo") }),
    py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: req("uptime", "udp") }),
    py({ op: "unix", path: d.sock, bind_dir: d.dir, data: req("uptime", "unix") }),
    py({ op: "http", url: d.url, headers: JSON_TYPE, body: req("uptime", "http") }),
  ]);
  return replies.map((r) => JSON.parse(r.reply ?? r.body).id);
}

Deno.test("sd_notify: READY=1 after listeners and startup, STATUS=, WATCHDOG=1, RELOADING=1/READY=1, STOPPING=1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_notify_" });
  try {
    await using systemd = new FakeSystemd(dir);
    await using d = await startDaemon(
      (c) => ({ ...c, startup: [{ method: "log_level", params: [4] }] }),
      { env: { NOTIFY_SOCKET: systemd.address, WATCHDOG_USEC: "200000" } },
    );
    const ready = await systemd.waitFor((m) => m.fields.READY === "1", "READY=1");
    // At READY=1 every listener answers, and the startup call has run.
    assert.deepEqual(await askEveryTransport(d), ["fifo", "udp", "unix", "http"]);
    const level = await py({
      op: "udp",
      host: "127.0.0.1",
      port: d.udpPort,
      data: req("log_level"),
    });
    assert.equal(JSON.parse(level.reply).result.Processes[0]["Log level"], 4);
    // READY=1 came once, and its STATUS= was written after the listeners
    // were serving and the startup call had run.
    assert.equal(systemd.with("READY").length, 1);
    const status = systemd.messages[ready].fields.STATUS;
    for (const l of [`fifo:${d.fifo}`, `udp:127.0.0.1:${d.udpPort}`, `unix:${d.sock}`]) {
      assert.ok(status.includes(l), `STATUS names ${l}: ${status}`);
    }
    assert.match(status, /startup: 1 of 1 calls ok/);

    // WATCHDOG_USEC=200000: a ping every 100 ms. Counted loosely (shared CPUs).
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    const pings = systemd.with("WATCHDOG", "1").filter((m) => m.at >= t0).length;
    assert.ok(pings >= 4, `only ${pings} WATCHDOG=1 in 1.5 s`);

    const before = systemd.messages.length;
    d.proc.kill("SIGHUP");
    const reloading = await systemd.waitFor((m) => m.fields.RELOADING === "1", "RELOADING=1", {
      from: before,
    });
    const usec = systemd.messages[reloading].fields.MONOTONIC_USEC;
    assert.match(usec, /^[0-9]+$/);
    // CLOCK_MONOTONIC is at most the time since boot.
    const uptimeUs = Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]) * 1e6;
    assert.ok(Number(usec) > 0 && Number(usec) <= uptimeUs + 1e6, `MONOTONIC_USEC=${usec}`);
    const again = await systemd.waitFor((m) => m.fields.READY === "1", "READY=1 after reload", {
      from: reloading,
    });
    assert.match(systemd.messages[again].fields.STATUS, /last reload ok/);

    const { code } = await d.stop("SIGTERM");
    assert.equal(code, 0);
    const stopping = systemd.with("STOPPING", "1");
    assert.equal(stopping.length, 1);
    assert.ok(stopping[0].at > systemd.messages[again].at);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sd_notify: an abstract @name socket; no WATCHDOG_USEC, no pings", async () => {
  await using systemd = new FakeSystemd();
  assert.ok(systemd.address.startsWith("@"));
  await using d = await startDaemon((c) => c, { env: { NOTIFY_SOCKET: systemd.address } });
  await systemd.waitFor((m) => m.fields.READY === "1", "READY=1");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(systemd.with("WATCHDOG").length, 0);
  assert.equal((await d.stop("SIGTERM")).code, 0);
  assert.equal(systemd.with("STOPPING", "1").length, 1);
});

Deno.test("watchdog: a wedged event loop stops the pings; they resume when it is free", async () => {
  await using systemd = new FakeSystemd();
  await using d = await startDaemon((c) => c, {
    env: { NOTIFY_SOCKET: systemd.address, WATCHDOG_USEC: "200000" },
    entry: WEDGE,
  });
  await systemd.waitFor((m) => m.fields.READY === "1", "READY=1");
  const from = systemd.messages.length;
  await systemd.waitFor((m) => m.fields.WATCHDOG === "1", "a ping", { from });
  d.proc.kill("SIGUSR2");
  const deadline = Date.now() + 15000;
  while (!d.lines.some((l) => l.includes("wedge: released")) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(d.lines.some((l) => l.includes("wedge: released")), d.lines.join("\n"));
  // Pings after the wedge.
  const after = systemd.messages.length;
  await systemd.waitFor((m) => m.fields.WATCHDOG === "1", "a ping after the wedge", {
    from: after,
  });
  const pings = systemd.with("WATCHDOG", "1").slice(-30).map((m) => m.at);
  const gaps = pings.slice(1).map((t, i) => t - pings[i]);
  // The 1.5 s wedge shows as one gap of well over a second among 100 ms ones.
  assert.ok(Math.max(...gaps) >= 1000, `largest gap ${Math.max(...gaps)} ms`);
  assert.equal((await d.stop("SIGTERM")).code, 0);
});
