// No silent FIFO: a request left unfinished is answered -32700 once no byte
// has arrived for fifo.partial_timeout_ms, not when the next client happens
// to write; a slow writer whose bytes keep coming is never cut; the stream
// goes on with the next request (docs/protocol.md, "FIFO").

import assert from "node:assert/strict";
import { IO_PATHS, startDaemonOn } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

const PARSE_ERROR = '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}';
const PARTIAL_MS = 500;
/** Room for a loaded 2-core machine; the reply cannot come before PARTIAL_MS. */
const MARGIN_MS = 2500;

for (const io of IO_PATHS) {
  Deno.test(`FIFO: every unfinished request shape is answered -32700 after fifo.partial_timeout_ms [io: ${io}]`, async (t) => {
    await using d = await startDaemonOn(io, (c, p) => ({
      ...c,
      fifo: { path: p.fifo, reply_dir: p.replyDir, partial_timeout_ms: PARTIAL_MS },
    }));
    const fifo = (request: string, extra: Record<string, unknown> = {}) =>
      py({ op: "fifo", fifo: d.fifo, reply_dir: d.replyDir, request, timeout: 10, ...extra });

    const shapes: [string, string][] = [
      ["':reply:' and nothing", ""],
      ["whitespace only", "  \n\t\n  "],
      ["JSON cut short", '{"jsonrpc":"2.0","method":"upt'],
      ["a string cut short", '"abc'],
      ["nested arrays never closed", "[[[1,"],
    ];
    for (const [what, request] of shapes) {
      await t.step(what, async () => {
        const r = await fifo(request);
        assert.equal(r.reply, PARSE_ERROR, what);
        // Timed from the end of the client's write: not before the timeout, not long after.
        assert.ok(r.ms >= PARTIAL_MS * 0.9, `${what}: answered after ${r.ms} ms`);
        assert.ok(r.ms < PARTIAL_MS + MARGIN_MS, `${what}: answered after ${r.ms} ms`);
        // The stream goes on with the next client's request.
        const next = await fifo(req("uptime", "next"));
        assert.equal(JSON.parse(next.reply).id, "next");
      });
    }

    await t.step("a slow writer whose bytes keep coming is never cut", async () => {
      // Cut before every ':' (each later write starts with one, as a new
      // client's would), 150 ms apart: most of a second in all, longer than
      // the partial timeout, but never PARTIAL_MS without a byte.
      const text = req("log_level", "slow", { level: 3 });
      const pieces = text.split(/(?=:)/);
      assert.equal(pieces.length, 6);
      const r = await fifo(pieces[0], { chunks: pieces.slice(1), chunk_delay_ms: 150 });
      assert.deepEqual(JSON.parse(r.reply), {
        jsonrpc: "2.0",
        result: { "New global log level": 3 },
        id: "slow",
      });
    });

    await t.step(
      "an unfinished request followed by another client's on the next line gives way at once",
      async () => {
        const cut = fifo('{"jsonrpc":"2.0",\n', { name: "cut" });
        await new Promise((r) => setTimeout(r, 50));
        const next = await fifo(req("uptime", "after_cut"));
        assert.equal(JSON.parse(next.reply).id, "after_cut");
        assert.equal((await cut).reply, PARSE_ERROR);
      },
    );

    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  });
}
