// What a handler learns of a request: its transport, its listener and its
// peer (a datagram's sender, the HTTP client's address, the FIFO reply
// name), over real listeners and real sockets. The listeners run in-process
// here with a command that echoes its context; the clients are sipmi's own.

import assert from "node:assert/strict";
import { configSpec } from "../config/schema.ts";
import { defaults } from "../config/spec.ts";
import { createMi } from "../mi/instance.ts";
import type { MiModule, RequestContext } from "../mi/registry.ts";
import { Log } from "../sys/log.ts";
import { fifoCall, httpCall, udpCall, unixCall } from "../transports/client.ts";
import { DatagramListener } from "../transports/datagram.ts";
import { FifoListener } from "../transports/fifo.ts";
import { HttpListener } from "../transports/http.ts";
import type { Listener } from "../transports/listener.ts";
import { makePaths } from "./helpers/daemon.ts";

const context: MiModule = {
  name: "context",
  commands: [{
    name: "whoami",
    help: "the request's context as the handler sees it",
    recipes: [[], ["wait_ms"]],
    handler: async (p, ctx: RequestContext) => {
      const wait = p.has("wait_ms") ? p.int("wait_ms") : 0;
      // Read after the wait: by then the listener has received other requests.
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      return { transport: ctx.transport, listener: ctx.listener ?? null, peer: ctx.peer ?? null };
    },
  }],
};

const call = (params?: unknown) =>
  JSON.stringify({ jsonrpc: "2.0", method: "whoami", ...(params ? { params } : {}), id: 1 });

Deno.test("request context: transport, listener and peer on FIFO, UDP, unix and HTTP", async () => {
  const p = await makePaths();
  const cfg = defaults(configSpec);
  const log = new Log(3, { journal: false, sink: () => {} });
  const mi = createMi({ log, modules: () => [context] });
  const listeners: Listener[] = [
    new FifoListener(mi, { ...cfg.fifo, path: p.fifo, reply_dir: p.replyDir }),
    new DatagramListener(mi, cfg.datagram, { kind: "udp", host: "127.0.0.1", port: p.udpPort }),
    new DatagramListener(mi, cfg.datagram, { kind: "unix", path: p.sock }),
    new HttpListener(mi, { ...cfg.http, listen: `127.0.0.1:${p.httpPort}` }),
  ];
  try {
    for (const l of listeners) await l.start();
    const opts = { timeoutMs: 5000 };
    const result = (reply: string) => JSON.parse(reply).result;

    const f = result(await fifoCall(p.fifo, call(), { ...opts, replyDir: p.replyDir }));
    assert.equal(f.transport, "fifo");
    assert.equal(f.listener, `fifo:${p.fifo}`);
    assert.match(f.peer, /^sipmi_mi_reply_\d+_[0-9a-f]{16}$/);

    const u = result(await udpCall("127.0.0.1", p.udpPort, call(), opts));
    assert.deepEqual([u.transport, u.listener], ["udp", `udp:127.0.0.1:${p.udpPort}`]);
    assert.match(u.peer, /^127\.0\.0\.1:\d+$/);

    const x = result(await unixCall(p.sock, call(), opts));
    assert.deepEqual([x.transport, x.listener], ["unix", `unix:${p.sock}`]);
    assert.match(x.peer, /^\/.*sipmi_mi_[^/]+\/reply\.sock$/);

    const h = result(await httpCall(`http://127.0.0.1:${p.httpPort}/mi`, call(), opts));
    assert.deepEqual([h.transport, h.listener], ["http", `http:127.0.0.1:${p.httpPort}`]);
    assert.match(h.peer, /^127\.0\.0\.1:\d+$/);

    // Three UDP clients at once, the first command slow: each sees its own
    // sender, though the listener's receive buffer holds a later one by then.
    const replies = await Promise.all([
      udpCall("127.0.0.1", p.udpPort, call({ wait_ms: 100 }), opts),
      udpCall("127.0.0.1", p.udpPort, call(), opts),
      udpCall("127.0.0.1", p.udpPort, call({ wait_ms: 20 }), opts),
    ]);
    const seen = replies.map((r) => result(r).peer);
    assert.equal(new Set(seen).size, 3, seen.join(" "));
  } finally {
    for (const l of listeners) await l.stop(1000);
    await Deno.remove(p.dir, { recursive: true });
  }
});
