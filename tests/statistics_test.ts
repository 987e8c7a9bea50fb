// Statistics that add up: every kind of outcome, over every transport,
// against a real daemon. Each request a listener receives is counted once in
// mi:requests and once in its transport's counter, whatever becomes of it;
// errors and replies likewise — so the global counters always equal the sums
// of the per-transport ones (docs/protocol.md, "Statistics").

import assert from "node:assert/strict";
import { closeSync, constants, openSync } from "node:fs";
import { mkfifo } from "../sys/libc.ts";
import { IO_PATHS, startDaemonOn } from "./helpers/daemon.ts";
import { type Json, py, req } from "./helpers/python.ts";
import { assertAddsUp, Meter, type Stats } from "./helpers/stats.ts";

const TOKEN = "s3cret-token";
const JSON_HEADERS = { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` };

/** Requests, errors and replies a step added to one transport (and to the totals). */
function assertCounted(d: Stats, t: string, want: [number, number, number], what: string): void {
  const got = [d[`mi:${t}_requests`], d[`mi:${t}_errors`], d[`mi:${t}_replies`]];
  assert.deepEqual(got, want, `${t}: ${what}: [requests, errors, replies]`);
  assertAddsUp(d, `${t}: ${what}`);
}

for (const io of IO_PATHS) {
  Deno.test(`statistics: every outcome on every transport is counted once, and the totals add up [io: ${io}]`, async (t) => {
    await using d = await startDaemonOn(io, (c, p) => ({
      ...c,
      mi: { max_request_bytes: 16384 },
      fifo: {
        path: p.fifo,
        reply_dir: p.replyDir,
        reply_timeout_ms: 400,
        partial_timeout_ms: 300,
        commands: { deny: ["pwd"] },
      },
      datagram: {
        listen: [`udp:127.0.0.1:${p.udpPort}`, `unix:${p.sock}`],
        commands: { deny: ["pwd"] },
      },
      http: {
        listen: `127.0.0.1:${p.httpPort}`,
        auth: { token: TOKEN },
        commands: { deny: ["pwd"] },
      },
    }));
    const m = await Meter.start(d);
    // A batch: a result, an unknown method, a member that is no request.
    const batch = `[${req("uptime", "b1")},${req("nosuch", "b2")},42]`;
    // About 70 KB of reply from an 11 KB request: more than a UDP datagram or a pipe holds.
    const big = JSON.stringify(
      Array.from({ length: 250 }, (_, i) => ({ jsonrpc: "2.0", method: "which", id: i })),
    );
    const oversize = `{"jsonrpc":"2.0","method":"uptime","id":1,"pad":"${"x".repeat(20000)}"}`;

    // The outcomes every transport shares: [what, request, [requests, errors, replies]].
    const common: [string, string, [number, number, number]][] = [
      ["a result", req("uptime", "r"), [1, 0, 1]],
      ["an unknown method", req("nosuch", "u"), [1, 1, 1]],
      ["a parse error", '{"jsonrpc":"2.0","method":"uptime","id":1,}', [1, 1, 1]],
      ["an invalid request", '{"jsonrpc":"1.0","method":"uptime","id":1}', [1, 1, 1]],
      ["refused by the listener's policy", req("pwd", "p"), [1, 1, 1]],
      ["a notification", '{"jsonrpc":"2.0","method":"uptime"}', [1, 0, 0]],
      ["a batch", batch, [3, 2, 1]],
      ["over mi.max_request_bytes", oversize, [1, 1, 1]],
    ];

    await t.step("FIFO", async () => {
      const fifo = (request: string, extra: Json = {}) =>
        py({ op: "fifo", fifo: d.fifo, reply_dir: d.replyDir, request, ...extra });
      for (const [what, text, want] of common) {
        const r = await fifo(text, { timeout: want[2] === 0 ? 0.3 : 5 });
        if (want[2] === 1) assert.ok(r.reply, `${what}: no reply`);
        assertCounted(await m.step(), "fifo", want, what);
      }
      // `::` wants no reply: the command runs, its reply is produced and dropped.
      await py({ op: "fifo_raw", fifo: d.fifo, data: `::${req("uptime", "quiet")}` });
      assertCounted(await m.step((x) => x["mi:fifo_requests"] === 1), "fifo", [1, 0, 1], "'::'");

      // Unfinished: answered -32700 once fifo.partial_timeout_ms pass without a byte.
      const partial = await fifo("", { timeout: 5 });
      assert.match(partial.reply, /"code":-32700/);
      assertCounted(await m.step(), "fifo", [1, 1, 1], "':name:' and nothing");

      // Refused before the command: nobody can be answered, but it was received.
      await Deno.writeTextFile(`${d.replyDir}regular`, "keep");
      mkfifo(`${d.replyDir}never`, 0o666);
      const dropped: [string, string][] = [
        ["../escape", "a hostile reply name"],
        ["regular", "a reply file that is not a FIFO"],
        ["never", "a reply FIFO nobody opens"],
      ];
      for (const [name, what] of dropped) {
        await fifo(req("uptime"), { name, mkfifo: false, open_reply: false });
        const x = await m.step((x) => x["mi:fifo_requests"] === 1);
        assertCounted(x, "fifo", [1, 1, 0], what);
      }

      // The reply is written but never read to its end: undelivered.
      mkfifo(`${d.replyDir}stuck`, 0o666);
      const stuck = openSync(`${d.replyDir}stuck`, constants.O_RDONLY | constants.O_NONBLOCK);
      try {
        await fifo(big, { name: "stuck", mkfifo: false, open_reply: false });
        assertCounted(
          await m.step((x) => x["mi:fifo_errors"] === 1),
          "fifo",
          [250, 1, 1],
          "a reply the client stopped reading",
        );
      } finally {
        closeSync(stuck);
      }
    });

    for (const transport of ["udp", "unix"] as const) {
      await t.step(transport, async () => {
        const job = transport === "udp"
          ? { op: "udp", host: "127.0.0.1", port: d.udpPort }
          : { op: "unix", path: d.sock, bind_dir: d.dir };
        for (const [what, data, want] of common) {
          const r = await py({ ...job, data, timeout: want[2] === 0 ? 0.3 : 2 });
          if (want[2] === 1) assert.ok(r.reply, `${what}: no reply`);
          assertCounted(await m.step(), transport, want, what);
        }
        if (transport === "udp") {
          // Too large for one UDP datagram: replaced by an error naming the limit.
          const r = await py({ ...job, data: big });
          assert.match(JSON.parse(r.reply).error.data, /exceeds the datagram limit of 65507 bytes/);
          assertCounted(await m.step(), "udp", [250, 1, 1], "a reply too large for UDP");
        } else {
          // Sent whole over a unix socket.
          const r = await py({ ...job, data: big });
          assert.equal(JSON.parse(r.reply).length, 250);
          assertCounted(await m.step(), "unix", [250, 0, 1], "a 70 KB reply");
          // A client that did not bind its socket cannot be answered.
          await py({ ...job, data: req("uptime"), bind: false, timeout: 0.3 });
          assertCounted(
            await m.step((x) => x["mi:unix_errors"] === 1),
            "unix",
            [1, 1, 1],
            "an unbound client",
          );
        }
        // An empty datagram is no request: no reply, nothing counted.
        await py({ ...job, data: "", timeout: 0.3 });
        assertCounted(await m.step(), transport, [0, 0, 0], "an empty datagram");
      });
    }

    await t.step("HTTP", async () => {
      const http = (job: Json) => py({ op: "http", url: d.url, headers: JSON_HEADERS, ...job });
      for (const [what, body, want] of common) {
        const r = await http({ body });
        assert.equal(r.status, what.startsWith("over") ? 413 : want[2] === 0 ? 202 : 200, what);
        assertCounted(await m.step(), "http", want, what);
      }
      const refusals: [string, Json, number][] = [
        ["GET", { method: "GET" }, 405],
        ["PUT", { method: "PUT", body: "{}" }, 406],
        ["no JSON Content-Type", {
          body: req("uptime"),
          headers: { "Content-Type": "text/plain", Authorization: `Bearer ${TOKEN}` },
        }, 415],
        ["an empty body", { body: "" }, 400],
        ["another path", { url: `http://127.0.0.1:${d.httpPort}/elsewhere`, body: "{}" }, 400],
        [
          "no bearer token",
          { body: req("uptime"), headers: { "Content-Type": "application/json" } },
          401,
        ],
      ];
      for (const [what, job, status] of refusals) {
        const r = await http(job);
        assert.equal(r.status, status, what);
        assertCounted(await m.step(), "http", [1, 1, 1], what);
      }
    });

    await t.step("the totals over everything are the sums of the transports'", () => {
      const s = m.last;
      assertAddsUp(s, "final");
      for (const tr of ["fifo", "udp", "unix", "http"]) assert.ok(s[`mi:${tr}_requests`] > 0, tr);
    });
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  });
}
