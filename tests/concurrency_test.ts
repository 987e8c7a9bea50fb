// 50 concurrent clients over every transport, 200 requests each: every reply
// carries the id of its own request, none is lost, and the FIFO serves
// interleaved clients (one request FIFO, one reply FIFO each) without
// cross-talk.

import assert from "node:assert/strict";
import { startDaemon } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

interface ClientResult {
  kind: string;
  ok: number;
  mismatched: number;
  lost: number;
  errors: string[];
}

Deno.test("concurrency: 50 clients x 200 requests over FIFO, UDP, unix and HTTP", async () => {
  await using d = await startDaemon();
  const n = 200;
  // Synchronous and asynchronous commands (version, list_statistics) mixed.
  const methods = ["uptime", "ps", "version", "which", "list_statistics", "log_level"];
  const counts = { fifo: 13, udp: 13, unix: 12, http: 12 };
  const r = await py({
    op: "load",
    clients: [
      { kind: "fifo", count: counts.fifo, n, methods, fifo: d.fifo, reply_dir: d.replyDir },
      { kind: "udp", count: counts.udp, n, methods, port: d.udpPort },
      { kind: "unix", count: counts.unix, n, methods, path: d.sock, bind_dir: d.dir },
      { kind: "http", count: counts.http, n, methods, port: d.httpPort },
    ],
  }, 120000);
  const clients = r.clients as ClientResult[];
  assert.equal(clients.length, 50);
  for (const c of clients) {
    assert.deepEqual(
      { ok: c.ok, mismatched: c.mismatched, lost: c.lost },
      { ok: n, mismatched: 0, lost: 0 },
      `${c.kind} client: ${c.errors.join(" | ")}`,
    );
  }
  // The daemon counted every one of them.
  const s = await py({
    op: "udp",
    host: "127.0.0.1",
    port: d.udpPort,
    data: req("get_statistics", 1, [["mi:"]]),
  });
  const stats = JSON.parse(s.reply).result;
  assert.equal(stats["mi:fifo_requests"], counts.fifo * n);
  assert.equal(stats["mi:unix_requests"], counts.unix * n);
  assert.equal(stats["mi:http_requests"], counts.http * n);
  assert.equal(stats["mi:udp_requests"], counts.udp * n + 1);
  assert.equal(stats["mi:errors"], 0);
  console.log(`10,000 requests from 50 clients in ${r.seconds.toFixed(2)} s`);
  assert.equal((await d.stop()).code, 0);
});
