// Config reloads on a running daemon (SIGHUP, the `reload` MI command,
// `sipmi service reload`): only changed listeners restart and the others
// answer every request meanwhile; a bad config or a listener that cannot
// start changes nothing; a reload through the listener it changes still
// gets its reply.

import assert from "node:assert/strict";
import {
  type ConfigObject,
  freeTcpPort,
  freeUdpPort,
  type Paths,
  sipmi,
  startDaemon,
} from "./helpers/daemon.ts";
import { FakeSystemd } from "./helpers/fake_systemd.ts";
import { py, req } from "./helpers/python.ts";

const LOAD = new URL("./helpers/steady_load.py", import.meta.url).pathname;
const JSON_TYPE = { "Content-Type": "application/json" };

async function httpCall(url: string, method: string, params?: unknown) {
  const r = await py({ op: "http", url, headers: JSON_TYPE, body: req(method, 1, params) });
  return { status: r.status as number, body: JSON.parse(r.body) };
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionRefused;
  }
}

async function writeConfig(p: Paths, c: ConfigObject): Promise<void> {
  // Written whole, then renamed: the daemon never reads half a file.
  await Deno.writeTextFile(`${p.config}.new`, JSON.stringify(c, null, 2));
  await Deno.rename(`${p.config}.new`, p.config);
}

/** SIGHUP, then the READY=1 that ends the reload. */
async function hangup(
  d: { proc: Deno.ChildProcess },
  systemd: FakeSystemd,
): Promise<Record<string, string>> {
  const from = systemd.messages.length;
  d.proc.kill("SIGHUP");
  const r = await systemd.waitFor((m) => m.fields.RELOADING === "1", "RELOADING=1", { from });
  const ready = await systemd.waitFor((m) => m.fields.READY === "1", "READY=1", { from: r });
  return systemd.messages[ready].fields;
}

Deno.test("reload under load: a new HTTP port answers, the old one is closed, FIFO and UDP miss nothing", async () => {
  await using systemd = new FakeSystemd();
  let config: ConfigObject = {};
  await using d = await startDaemon((c) => (config = c), {
    env: { NOTIFY_SOCKET: systemd.address },
  });
  await systemd.waitFor((m) => m.fields.READY === "1", "READY=1");
  const load = new Deno.Command("python3", {
    args: [
      LOAD,
      JSON.stringify({
        fifo: d.fifo,
        reply_dir: d.replyDir,
        udp_port: d.udpPort,
        max_seconds: 60,
        max_requests: 200000,
      }),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const out = load.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  try {
    while (!said.includes("started\n")) {
      const { value, done } = await out.read();
      if (done) throw new Error(`the load ended early: ${said}`);
      said += value;
    }
    const newPort = freeTcpPort();
    await writeConfig(d, {
      ...config,
      http: { ...(config.http as object), listen: `127.0.0.1:${newPort}` },
    });
    const ready = await hangup(d, systemd);
    assert.match(ready.STATUS, new RegExp(`http:127\\.0\\.0\\.1:${newPort}`));
    assert.match(ready.STATUS, /last reload ok/);
    const moved = await httpCall(`http://127.0.0.1:${newPort}/mi`, "uptime");
    assert.equal(moved.status, 200);
    assert.ok("Up time" in moved.body.result);
    assert.ok(await refused(d.httpPort), "the old HTTP port still accepts connections");
    // Load on after the reload too.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    const w = load.stdin.getWriter();
    await w.write(new TextEncoder().encode("stop\n")).catch(() => {});
    await w.close().catch(() => {});
  }
  while (true) {
    const { value, done } = await out.read();
    if (done) break;
    said += value;
  }
  await load.status;
  const result = JSON.parse(said.trim().split("\n").pop()!);
  for (const kind of ["fifo", "udp"]) {
    assert.equal(result[kind].lost, 0, `${kind}: ${JSON.stringify(result[kind])}`);
    assert.equal(result[kind].mismatched, 0, `${kind}: ${JSON.stringify(result[kind])}`);
    assert.ok(result[kind].ok >= 20, `${kind}: only ${result[kind].ok} requests`);
  }
  const done = d.lines.find((l) => l.includes("reload done"));
  assert.ok(done, d.lines.join("\n"));
  assert.match(done, new RegExp(`started \\[http:127\\.0\\.0\\.1:\\d+\\]`));
  assert.match(done, new RegExp(`stopped \\[http:127\\.0\\.0\\.1:${d.httpPort}\\]`));
  assert.match(done, /restarted \[\]/);
  assert.match(done, new RegExp(`unchanged \\[fifo:.*,udp:127\\.0\\.0\\.1:${d.udpPort},unix:`));
  assert.equal((await d.stop()).code, 0);
});

Deno.test("reload: a broken config is logged with its errors and the running one stays; then a good one applies live", async () => {
  await using systemd = new FakeSystemd();
  let config: ConfigObject = {};
  await using d = await startDaemon((c) => (config = c), {
    env: { NOTIFY_SOCKET: systemd.address },
  });
  await systemd.waitFor((m) => m.fields.READY === "1", "READY=1");
  await Deno.writeTextFile(
    d.config,
    '{\n  "http": { "listen": "127.0.0.1:1" },\n  "fifo": { "pth": "/x" },\n  "log_level": 9\n}\n',
  );
  const ready = await hangup(d, systemd);
  assert.match(ready.STATUS, /last reload FAILED/);
  const log = d.lines.join("\n");
  assert.match(log, /reload: .*sipmi\.jsonc:3:13: 'fifo\.pth' unknown key/);
  assert.match(
    log,
    /reload: .*sipmi\.jsonc:4:16: 'log_level' must be an integer from -3 to 4, not 9/,
  );
  assert.match(log, /bad configuration; the running one stays/);
  assert.equal((await httpCall(d.url, "uptime")).status, 200);

  // The same through `sipmi service reload`: exit 1, the errors on stderr.
  const via = `udp:127.0.0.1:${d.udpPort}`;
  const bad = await sipmi("service", "reload", "--via", via);
  assert.equal(bad.code, 1, bad.err);
  assert.match(bad.err, /not applied, the running configuration stays/);
  assert.match(bad.err, /'fifo\.pth' unknown key/);

  // A good config: applied live, nothing restarted.
  await writeConfig(d, { ...config, log_level: 4, mi: { max_batch: 7 } });
  const good = await sipmi("service", "reload", "--via", via);
  assert.equal(good.code, 0, good.err);
  assert.match(good.out, /applied live: log_level, mi\.max_batch/);
  assert.match(good.out, /unchanged: fifo:/);
  const level = await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: req("log_level") });
  assert.equal(JSON.parse(level.reply).result.Processes[0]["Log level"], 4);
  const batch = JSON.stringify(Array.from({ length: 8 }, (_, i) => JSON.parse(req("uptime", i))));
  const big = await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: batch });
  assert.match(big.reply, /mi\.max_batch/);

  const status = await sipmi("service", "status", "--via", via);
  assert.equal(status.code, 0, status.err);
  assert.match(status.out, /^sipmi 0\.1\.0 \(revision unknown\), pid \d+, ready/);
  assert.match(status.out, /last reload: \S+ ok \(MI udp\); applied log_level, mi\.max_batch/);
  assert.equal((await d.stop()).code, 0);
});

Deno.test("reload: a listener that cannot start puts everything back", async () => {
  let config: ConfigObject = {};
  await using d = await startDaemon((c) => (config = c));
  const taken = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: freeUdpPort(),
  });
  try {
    const takenPort = (taken.addr as Deno.NetAddr).port;
    const newHttp = freeTcpPort();
    await writeConfig(d, {
      ...config,
      log_level: 4,
      http: { ...(config.http as object), listen: `127.0.0.1:${newHttp}` },
      datagram: {
        listen: [`udp:127.0.0.1:${d.udpPort}`, `unix:${d.sock}`, `udp:127.0.0.1:${takenPort}`],
      },
    });
    const r = await py({
      op: "fifo",
      fifo: d.fifo,
      reply_dir: d.replyDir,
      request: req("reload", "r"),
    });
    const reply = JSON.parse(r.reply);
    assert.equal(reply.error.code, 500);
    assert.equal(reply.error.message, "Reload failed");
    assert.match(reply.error.data, new RegExp(`udp:127\\.0\\.0\\.1:${takenPort}.*bind`));
    // Nothing changed: the old HTTP port serves, the new one is closed, the level is 3.
    assert.equal((await httpCall(d.url, "uptime")).status, 200);
    assert.ok(await refused(newHttp));
    const level = await httpCall(d.url, "log_level");
    assert.equal(level.body.result.Processes[0]["Log level"], 3);
    assert.match(d.lines.join("\n"), /reload: not applied; the running configuration stays/);
  } finally {
    taken.close();
  }
  assert.equal((await d.stop()).code, 0);
});

Deno.test("reload through the listener it changes: the reply goes out, then that listener restarts", async () => {
  let config: ConfigObject = {};
  await using d = await startDaemon((c) => (config = c));
  await writeConfig(d, {
    ...config,
    http: { ...(config.http as object), commands: { read_only: true } },
  });
  const r = await httpCall(d.url, "reload");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.result.after_reply, [`http:127.0.0.1:${d.httpPort}`]);
  assert.deepEqual(r.body.result.restarted, []);
  // The new policy holds once the listener has restarted.
  const deadline = Date.now() + 10000;
  let refusedReply;
  while (Date.now() < deadline) {
    try {
      const x = await httpCall(d.url, "log_level", [2]);
      if (x.body.error?.code === 403) {
        refusedReply = x.body.error;
        break;
      }
    } catch {
      // Connection refused while it restarts.
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.ok(refusedReply, "the read-only policy never took effect");
  assert.match(refusedReply.data, /changes state; http:127\.0\.0\.1:\d+ is read-only/);
  assert.equal((await httpCall(d.url, "uptime")).status, 200);
  assert.equal((await d.stop()).code, 0);
});
