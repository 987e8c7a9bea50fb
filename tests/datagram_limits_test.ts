// Unix datagrams are not UDP: a unix datagram request is limited by
// mi.max_request_bytes only, and a reply is sent whole when it fits the
// socket's send buffer; only UDP keeps 65,507 bytes (docs/protocol.md,
// "Datagram"). Python's socket module and `sipmi mi` are the clients.

import assert from "node:assert/strict";
import { IO_PATHS, sipmi, startDaemonOn } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";
import { assertAddsUp, readStats } from "./helpers/stats.ts";

const LIMIT_ERROR = (size: number, limit: number, key: string) =>
  '{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":' +
  `"request of ${size} bytes exceeds the limit of ${limit} bytes (${key})"},"id":null}`;

/** The size of a request over `limit` as the path measures it: Deno receives only `limit + 1`. */
function measured(io: string, size: number, limit: number): number {
  return io === "ffi" ? size : limit + 1;
}

for (const io of IO_PATHS) {
  Deno.test(`datagram: a 200,000-byte request gets its reply over unix, the limit error over UDP [io: ${io}]`, async () => {
    await using d = await startDaemonOn(io, (c, p) => ({
      ...c,
      datagram: {
        listen: [`udp:127.0.0.1:${p.udpPort}`, `udp:[::1]:${p.udpPort}`, `unix:${p.sock}`],
      },
    }));
    const request = req("uptime", "big");
    const unix = await py({
      op: "unix",
      path: d.sock,
      bind_dir: d.dir,
      data: request,
      pad_to: 200000,
    });
    assert.match(unix.reply, /^\{"jsonrpc":"2.0","result":\{"Now":.*"id":"big"\}$/);

    // UDP over IPv4 carries at most 65,507 bytes: the kernel refuses more, and
    // `sipmi mi --udp` says so before sending.
    // (Two words of 100,000: one argument may hold at most 128 KiB.)
    const words = ["a".repeat(100000), "b".repeat(100000)];
    const bigUdp = await sipmi("mi", "--udp", `127.0.0.1:${d.udpPort}`, "get_statistics", ...words);
    assert.equal(bigUdp.code, 2);
    assert.match(bigUdp.err, /does not fit in a UDP datagram \(65507 bytes\)/);
    // The server's own limit, over IPv6 where UDP carries up to 65,527 bytes.
    const v6 = await py({ op: "udp", host: "::1", port: d.udpPort, data: request, pad_to: 65527 });
    // The Deno path cannot measure past its buffer: "limit + 1" is all it knows.
    assert.equal(v6.reply, LIMIT_ERROR(measured(io, 65527, 65507), 65507, "the datagram limit"));

    // `sipmi mi --unix` sends and receives past 65,507 bytes as well.
    const viaCli = await sipmi("mi", "--raw", "--unix", d.sock, "get_statistics", ...words);
    assert.equal(viaCli.code, 0, viaCli.err);
    assert.deepEqual(JSON.parse(viaCli.out).result, {});

    assertAddsUp(await readStats(d), "after the big datagrams");
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  });
}

for (const io of IO_PATHS) {
  Deno.test(`datagram: a unix reply is sent whole up to the socket's send buffer; larger is an error naming it [io: ${io}]`, async () => {
    await using d = await startDaemonOn(io);
    // Echoed ids make the reply as large as the request (the python job
    // writes the ids: `@FILL@` becomes `fill` letters).
    const batch = JSON.stringify(
      Array.from({ length: 4 }, () => ({ jsonrpc: "2.0", method: "pwd", id: "@FILL@" })),
    );
    const sized = (bytes: number) => ({ data: batch, fill: Math.floor(bytes / 4) });
    const whole = await py({ op: "unix", path: d.sock, bind_dir: d.dir, ...sized(150000) });
    assert.equal(JSON.parse(whole.reply).length, 4);
    assert.ok(whole.len > 150000);

    // Larger than the server's send buffer (net.core.wmem_default); the
    // client raises its own (the kernel caps it at twice net.core.wmem_max).
    const wmemDefault = Number(await Deno.readTextFile("/proc/sys/net/core/wmem_default"));
    const wmemMax = Number(await Deno.readTextFile("/proc/sys/net/core/wmem_max"));
    const size = wmemDefault + 20000;
    if (2 * wmemMax < size + 1000 || size > 1000000) {
      console.log(
        `skipped the oversize unix reply: net.core.wmem_max ${wmemMax} cannot send ${size} bytes`,
      );
    } else {
      const r = await py({
        op: "unix",
        path: d.sock,
        bind_dir: d.dir,
        ...sized(size),
        sndbuf: 2 * size,
      });
      const e = JSON.parse(r.reply);
      assert.equal(e.id, null);
      assert.equal(e.error.code, -32603);
      assert.match(
        e.error.data,
        /^reply of \d+ bytes exceeds the send buffer of this socket, \d+ bytes; use the FIFO or HTTP transport$/,
      );
      const s = await readStats(d);
      assert.equal(s["mi:unix_replies_too_large"], 1);
      assertAddsUp(s, "after the oversize reply");
    }
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  });
}

for (const io of IO_PATHS) {
  Deno.test(`datagram: a unix request over mi.max_request_bytes gets the error naming that key [io: ${io}]`, async () => {
    await using d = await startDaemonOn(io, (c) => ({ ...c, mi: { max_request_bytes: 100000 } }));
    const r = await py({
      op: "unix",
      path: d.sock,
      bind_dir: d.dir,
      data: req("uptime", 1),
      pad_to: 150000,
    });
    assert.equal(
      r.reply,
      LIMIT_ERROR(measured(io, 150000, 100000), 100000, "mi.max_request_bytes"),
    );
    const ok = await py({
      op: "unix",
      path: d.sock,
      bind_dir: d.dir,
      data: req("uptime", 2),
      pad_to: 100000,
    });
    assert.equal(JSON.parse(ok.reply).id, 2);
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  });
}
