// `sipmi mi` as a client: exit codes (0 result, 1 error reply, 2 transport
// failure), timeouts, cleanup of its reply FIFO, and talking to a stand-in
// for OpenSIPS that frames and times its answers as OpenSIPS's source does.

import assert from "node:assert/strict";
import { constants, openSync } from "node:fs";
import { closeSync } from "node:fs";
import { mkfifo } from "../sys/libc.ts";
import { freeTcpPort, freeUdpPort, sipmi, startDaemon } from "./helpers/daemon.ts";
import { pySpawn } from "./helpers/python.ts";

Deno.test("sipmi mi: result 0, error reply 1, --raw; no daemon or no answer is 2", async () => {
  await using d = await startDaemon();
  const [ok, err, raw] = await Promise.all([
    sipmi("mi", "--unix", d.sock, "help", "uptime"),
    sipmi("mi", "--http", d.url, "which", "nope"),
    sipmi("mi", "--fifo", d.fifo, "--reply-dir", d.replyDir, "--raw", "log_level", "2"),
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out)["Exported by"], "core");
  assert.equal(err.code, 1);
  assert.equal(err.err.trim(), "error 404: unknown MI command");
  assert.equal(raw.code, 0, raw.err);
  assert.match(
    raw.out.trim(),
    /^\{"jsonrpc":"2.0","result":\{"New global log level":2\},"id":\d+\}$/,
  );

  const dir = d.dir;
  mkfifo(`${dir}/deaf_fifo`, 0o600); // a FIFO nobody reads
  const [noFifo, deaf, noSock, noHttp, silentUdp] = await Promise.all([
    sipmi("mi", "--fifo", `${dir}/nothing`, "uptime"),
    sipmi("mi", "--fifo", `${dir}/deaf_fifo`, "uptime"),
    sipmi("mi", "--unix", `${dir}/nothing.sock`, "uptime"),
    sipmi("mi", "--http", `http://127.0.0.1:${freeTcpPort()}/mi`, "uptime"),
    sipmi("mi", "--udp", `127.0.0.1:${freeUdpPort()}`, "--timeout", "300", "uptime"),
  ]);
  for (const r of [noFifo, deaf, noSock, noHttp, silentUdp]) assert.equal(r.code, 2, r.err);
  assert.match(noFifo.err, /nothing does not exist \(is the MI daemon running\?\)/);
  assert.match(deaf.err, /no process reads .*deaf_fifo/);
  assert.match(noSock.err, /nothing.sock does not exist/);
  assert.match(noHttp.err, /cannot reach the server: .*Connection refused/);
  assert.match(silentUdp.err, /no reply within 300 ms/);
});

Deno.test("sipmi mi: a FIFO server that never answers times out and the reply FIFO is removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_test_" });
  try {
    mkfifo(`${dir}/silent`, 0o600);
    // Someone reads the FIFO but never answers.
    const reader = openSync(`${dir}/silent`, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const r = await sipmi(
        "mi",
        "--fifo",
        `${dir}/silent`,
        "--reply-dir",
        dir,
        "--timeout",
        "300",
        "uptime",
      );
      assert.equal(r.code, 2);
      assert.match(r.err, /no reply within 300 ms/);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["silent"]);
    } finally {
      closeSync(reader);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sipmi mi: talks to OpenSIPS's framing (FIFO with 80 ms retries, datagram)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_test_" });
  const fake = pySpawn({ op: "fake_opensips", fifo: `${dir}/opensips_fifo`, reply_dir: dir });
  try {
    const lines = fake.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await lines.read();
    const { udp_port } = JSON.parse(first.value ?? "{}");
    const fifo = await sipmi("mi", "--fifo", `${dir}/opensips_fifo`, "--reply-dir", dir, "version");
    assert.equal(fifo.code, 0, fifo.err);
    assert.deepEqual(JSON.parse(fifo.out), { Server: "OpenSIPS (3.6.8 (x86_64/linux))" });
    const udp = await sipmi("mi", "--udp", `127.0.0.1:${udp_port}`, "version");
    assert.equal(udp.code, 0, udp.err);
    const missing = await sipmi("mi", "--udp", `127.0.0.1:${udp_port}`, "nope");
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim(), "error -32601: Method not found");
    await lines.cancel();
  } finally {
    await fake.stdin.close();
    await fake.status;
    await fake.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
