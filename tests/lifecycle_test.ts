// The daemon's lifecycle: the graceful stop with requests in flight,
// listeners that cannot start (reported with their cause; fatal unless
// optional), files that are not ours, and stale leftovers of a killed daemon.

import assert from "node:assert/strict";
import { mkfifo } from "../sys/libc.ts";
import { freeTcpPort, makePaths, startDaemon } from "./helpers/daemon.ts";
import { py, pySpawn, req } from "./helpers/python.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Reads one HTTP response with a Content-Length from a connection. */
async function readResponse(conn: Deno.Conn): Promise<{ status: number; body: string }> {
  let text = "";
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const m = /content-length: (\d+)/i.exec(text.slice(0, end));
    if (m && text.length >= end + 4 + Number(m[1])) {
      return {
        status: Number(text.split(" ")[1]),
        body: text.slice(end + 4, end + 4 + Number(m[1])),
      };
    }
  }
  throw new Error(`no complete response: ${JSON.stringify(text)}`);
}

Deno.test("lifecycle: SIGTERM with requests in flight answers them all, removes its files, exits 0", async () => {
  await using d = await startDaemon((c, p) => ({
    ...c,
    fifo: { path: p.fifo, reply_dir: p.replyDir, reply_timeout_ms: 3000 },
    service: { shutdown_timeout_ms: 5000 },
  }));
  // 1. FIFO: 30 requests written, their clients not yet reading their reply FIFOs.
  const many = pySpawn({ op: "many_fifo", fifo: d.fifo, reply_dir: d.replyDir, count: 30 });
  const out = many.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("written\n")) {
    const { value, done } = await out.read();
    if (done) throw new Error(`the FIFO clients ended early: ${said}`);
    said += value;
  }
  // 2. HTTP: a request whose body is still on its way.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: d.httpPort });
  const body = req("uptime", "http-in-flight");
  await conn.write(enc.encode(
    `POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${
      body.slice(0, 10)
    }`,
  ));
  // 3. UDP: a request just before the signal.
  const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  await udp.send(enc.encode(req("version", "udp-in-flight")), {
    transport: "udp",
    hostname: "127.0.0.1",
    port: d.udpPort,
  });
  try {
    const [udpReply] = await udp.receive();
    assert.equal(JSON.parse(dec.decode(udpReply)).id, "udp-in-flight");

    await new Promise((r) => setTimeout(r, 100)); // let the daemon read the FIFO requests
    d.proc.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    await conn.write(enc.encode(body.slice(10)));
    const res = await readResponse(conn);
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).id, "http-in-flight");

    // The FIFO clients now open their reply FIFOs: every request is answered.
    const w = many.stdin.getWriter();
    await w.write(enc.encode("go\n"));
    await w.close();
    while (!said.trimEnd().endsWith("}")) {
      const { value, done } = await out.read();
      if (done) break;
      said += value;
    }
    const { replies } = JSON.parse(said.slice(said.indexOf("{")));
    assert.equal(replies.length, 30);
    replies.forEach((r: string | null, i: number) => {
      assert.ok(r !== null, `FIFO request ${i} was not answered`);
      assert.equal(JSON.parse(r).id, String(i));
    });

    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /SIGTERM: stopping/);
    assert.match(stopped.stderr, /sipmi stopped/);
    assert.equal(await exists(d.fifo), false, "FIFO removed");
    assert.equal(await exists(d.sock), false, "unix socket removed");
  } finally {
    udp.close();
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
    try {
      many.kill("SIGKILL"); // still waiting for its go when an assertion failed
    } catch {
      // Exited already.
    }
    await many.status;
    await many.stderr.cancel();
  }
});

Deno.test("lifecycle: a port in use is reported with its cause; optional listeners are left out", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: freeTcpPort() });
  const port = (blocker.addr as Deno.NetAddr).port;
  try {
    const paths = await makePaths();
    await using d = await startDaemon(
      (c) => ({ ...c, http: { listen: `127.0.0.1:${port}` } }),
      { paths, expectFailure: true },
    );
    const r = await d.exited();
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `cannot start listener http:127.0.0.1:${port}: cannot listen: Address already in use`,
      ),
    );
    // What had started before is gone again.
    assert.equal(await exists(paths.fifo), false);
    assert.equal(await exists(paths.sock), false);

    await using o = await startDaemon((c) => ({
      ...c,
      http: { listen: `127.0.0.1:${port}`, optional: true },
    }));
    const ps = await py({ op: "udp", host: "127.0.0.1", port: o.udpPort, data: req("ps") });
    const types = JSON.parse(ps.reply).result.Processes.map((p: { Type: string }) => p.Type);
    assert.equal(types.some((t: string) => t.startsWith("HTTPD")), false);
    assert.equal(types.includes("MI FIFO"), true);
    assert.ok(o.lines.some((l) => l.includes("optional listener not started")));
    assert.equal((await o.stop()).code, 0);
  } finally {
    blocker.close();
  }
});

Deno.test("lifecycle: a file that is not a FIFO is never replaced; a FIFO in use is refused", async () => {
  const paths = await makePaths();
  await Deno.writeTextFile(paths.fifo, "keep me");
  await using d = await startDaemon((c) => c, { paths, expectFailure: true });
  const r = await d.exited();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /exists and is a regular file; not replacing it/);
  assert.equal(await Deno.readTextFile(paths.fifo), "keep me");

  // A second daemon on the FIFO and socket of a running one.
  await using first = await startDaemon();
  const again = await makePaths();
  await using second = await startDaemon(
    (c, p) => ({
      ...c,
      fifo: { path: first.fifo, reply_dir: p.replyDir },
      datagram: { enabled: false },
      http: { enabled: false },
    }),
    { paths: again, expectFailure: true },
  );
  const r2 = await second.exited();
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /is in use: another process reads it/);
  await using third = await startDaemon(
    (c) => ({
      ...c,
      fifo: { enabled: false },
      datagram: { listen: [`unix:${first.sock}`] },
      http: { enabled: false },
    }),
    { expectFailure: true },
  );
  const r3 = await third.exited();
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /is in use: another process receives on it/);
  // The first daemon still serves.
  const ok = await py({
    op: "fifo",
    fifo: first.fifo,
    reply_dir: first.replyDir,
    request: req("uptime", "x"),
  });
  assert.equal(JSON.parse(ok.reply).id, "x");
});

Deno.test("lifecycle: stale FIFO and socket are replaced; mode and owner; unknown user; reply_dir must exist", async () => {
  const paths = await makePaths();
  mkfifo(paths.fifo, 0o600);
  Deno.listenDatagram({ transport: "unixpacket", path: paths.sock }).close(); // leaves the file
  assert.equal(await exists(paths.sock), true);
  await using d = await startDaemon((c, p) => ({
    ...c,
    fifo: { path: p.fifo, reply_dir: p.replyDir, mode: "0640", user: "root", group: "0" },
    datagram: { listen: [`unix:${p.sock}`], mode: "0600", user: "0" },
  }), { paths });
  const r = await py({ op: "unix", path: d.sock, bind_dir: d.dir, data: req("uptime", 5) });
  assert.equal(JSON.parse(r.reply).id, 5);
  assert.equal((await Deno.lstat(d.fifo)).mode! & 0o777, 0o640);
  assert.equal((await Deno.lstat(d.sock)).mode! & 0o777, 0o600);
  assert.equal((await Deno.lstat(d.fifo)).uid, 0);
  assert.equal((await d.stop()).code, 0);

  await using who = await startDaemon(
    (c, p) => ({ ...c, fifo: { path: p.fifo, reply_dir: p.replyDir, user: "no_such_user_x" } }),
    { expectFailure: true },
  );
  const rw = await who.exited();
  assert.equal(rw.code, 1);
  assert.match(rw.stderr, /cannot start listener fifo:.*: unknown user 'no_such_user_x'/);

  await using bad = await startDaemon(
    (c, p) => ({ ...c, fifo: { path: p.fifo, reply_dir: `${p.dir}/nope/` } }),
    { expectFailure: true },
  );
  const rb = await bad.exited();
  assert.equal(rb.code, 1);
  assert.match(rb.stderr, /fifo.reply_dir .*nope\/ does not exist/);
});

Deno.test("lifecycle: a second SIGTERM during the shutdown still ends in a clean exit 0", async () => {
  await using d = await startDaemon((c) => ({ ...c, service: { shutdown_timeout_ms: 1500 } }));
  // An HTTP request whose body never completes keeps the shutdown waiting.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: d.httpPort });
  try {
    await conn.write(enc.encode(
      "POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    ));
    await new Promise((r) => setTimeout(r, 100));
    d.proc.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    const stopped = await d.stop("SIGTERM");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /SIGTERM: already stopping/);
    assert.match(stopped.stderr, /sipmi stopped/);
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the server.
    }
  }
});
