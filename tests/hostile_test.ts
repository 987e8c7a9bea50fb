// The hostile-input battery of issue 3, against one daemon: every bad input
// gets its specific answer (or none, where nobody can be answered), nothing
// outside reply_dir is written, no client can stall the others, and after
// the battery the daemon still answers and its statistics count the errors.

import assert from "node:assert/strict";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { mkfifo } from "../sys/libc.ts";
import { type Daemon, IO_PATHS, startDaemonOn } from "./helpers/daemon.ts";
import { type Json, py, req } from "./helpers/python.ts";
import { assertAddsUp, readStats } from "./helpers/stats.ts";

const PARSE_ERROR = '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}';

const stats = readStats;

async function globalLogLevel(d: Daemon): Promise<number> {
  const r = await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: req("log_level") });
  return JSON.parse(r.reply).result.Processes[0]["Log level"];
}

/** A python-opensips request on the FIFO; the reply text or null. */
async function fifo(d: Daemon, request: string | object, extra: Json = {}): Promise<Json> {
  return await py({ op: "fifo", fifo: d.fifo, reply_dir: d.replyDir, request, ...extra });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const io of IO_PATHS) {
  Deno.test(`hostile input: every transport, then the daemon still answers and counted it all [io: ${io}]`, async (t) => {
    await using d = await startDaemonOn(io, (c, p) => ({
      ...c,
      fifo: { path: p.fifo, reply_dir: p.replyDir, reply_timeout_ms: 1000 },
      datagram: {
        listen: [`udp:127.0.0.1:${p.udpPort}`, `udp:[::1]:${p.udpPort}`, `unix:${p.sock}`],
      },
      http: { listen: `127.0.0.1:${p.httpPort}`, body_limit: 4096 },
    }));
    const setLevel = req("log_level", 1, [1]); // a mutating command: must never run when refused

    await t.step("FIFO: reply names ../x, a/b, .x are refused and nothing is written", async () => {
      await Deno.writeTextFile(`${d.dir}/x`, "keep");
      await Deno.mkdir(`${d.replyDir}a`);
      await Deno.writeTextFile(`${d.replyDir}a/b`, "keep");
      await Deno.writeTextFile(`${d.replyDir}.x`, "keep");
      for (const name of ["../x", "a/b", ".x"]) {
        await fifo(d, setLevel, { name, mkfifo: false, open_reply: false });
      }
      await waitFor("3 refusals", async () => (await stats(d))["mi:fifo_reply_refused"] === 3);
      assert.equal(await Deno.readTextFile(`${d.dir}/x`), "keep");
      assert.equal(await Deno.readTextFile(`${d.replyDir}a/b`), "keep");
      assert.equal(await Deno.readTextFile(`${d.replyDir}.x`), "keep");
      assert.equal(await globalLogLevel(d), 3);
    });

    await t.step(
      "FIFO: a symlink (to a file or a FIFO) and a regular file are refused",
      async () => {
        await Deno.writeTextFile(`${d.dir}/target`, "keep");
        await Deno.symlink(`${d.dir}/target`, `${d.replyDir}link_file`);
        mkfifo(`${d.dir}/target_fifo`, 0o600);
        // We read the target FIFO ourselves: a server that followed the link could write to it.
        const watch = openSync(`${d.dir}/target_fifo`, constants.O_RDONLY | constants.O_NONBLOCK);
        await Deno.symlink(`${d.dir}/target_fifo`, `${d.replyDir}link_fifo`);
        await Deno.writeTextFile(`${d.replyDir}regular`, "keep");
        for (const name of ["link_file", "link_fifo", "regular"]) {
          await fifo(d, setLevel, { name, mkfifo: false, open_reply: false });
        }
        await waitFor("6 refusals", async () => (await stats(d))["mi:fifo_reply_refused"] === 6);
        // 0 = no writer ever opened the target FIFO.
        assert.equal(readSync(watch, new Uint8Array(16)), 0);
        closeSync(watch);
        assert.equal(await Deno.readTextFile(`${d.dir}/target`), "keep");
        assert.equal(await Deno.readTextFile(`${d.replyDir}regular`), "keep");
        assert.equal(await globalLogLevel(d), 3);
        assert.ok(
          d.lines.some((l) => l.includes("is a symbolic link, not a FIFO")),
          d.lines.join("\n"),
        );
      },
    );

    await t.step("FIFO: a client that never opens its reply FIFO costs a timer only", async () => {
      const before = await stats(d);
      mkfifo(`${d.replyDir}never`, 0o666);
      await fifo(d, setLevel, { name: "never", mkfifo: false, open_reply: false });
      // Another client is served meanwhile, while the first still waits (1 s reply timeout).
      const t0 = performance.now();
      const other = await fifo(d, req("uptime", "other"));
      assert.equal(JSON.parse(other.reply).id, "other");
      const waiting = await stats(d);
      if (performance.now() - t0 < 900) {
        assert.equal(waiting["mi:fifo_reply_timeouts"], before["mi:fifo_reply_timeouts"]);
      }
      await waitFor(
        "the reply timeout",
        async () =>
          (await stats(d))["mi:fifo_reply_timeouts"] === before["mi:fifo_reply_timeouts"] + 1,
      );
      // Nobody heard the answer, so the command did not run.
      assert.equal(await globalLogLevel(d), 3);
    });

    await t.step(
      "FIFO: a client that stops reading a large reply never blocks the others",
      async () => {
        mkfifo(`${d.replyDir}stuck`, 0o666);
        const stuck = openSync(`${d.replyDir}stuck`, constants.O_RDONLY | constants.O_NONBLOCK);
        try {
          // About 80 KB of reply: more than the pipe holds, so the writer must wait.
          const batch = JSON.stringify(
            Array.from({ length: 200 }, (_, i) => ({ jsonrpc: "2.0", method: "ps", id: i })),
          );
          await fifo(d, batch, { name: "stuck", mkfifo: false, open_reply: false });
          const other = await fifo(d, req("uptime", "meanwhile"));
          assert.equal(JSON.parse(other.reply).id, "meanwhile");
          await waitFor(
            "the writer to give up",
            () =>
              Promise.resolve(
                d.lines.some((l) => l.includes("the client read nothing for 1000 ms")),
              ),
          );
        } finally {
          closeSync(stuck);
        }
      },
    );

    await t.step("FIFO: malformed JSON gets -32700; an unfinished request gives way", async () => {
      for (const bad of ['{"jsonrpc":"2.0","method":"uptime","id":1,}', "garbage", '{"a" 1}']) {
        assert.equal((await fifo(d, bad)).reply, PARSE_ERROR, bad);
      }
      // A request cut short, then another client's request on the next line.
      const cut = fifo(d, '{"jsonrpc":"2.0",\n', { name: "cut", timeout: 5 });
      await new Promise((r) => setTimeout(r, 200));
      const next = await fifo(d, req("uptime", "next"));
      assert.equal((await cut).reply, PARSE_ERROR);
      assert.equal(JSON.parse(next.reply).id, "next");
    });

    await t.step(
      "FIFO: garbage and an oversize request, then the stream resynchronises",
      async () => {
        await py({ op: "fifo_raw", fifo: d.fifo, data: "hello, this is not a request\n" });
        const template = '{"jsonrpc":"2.0","method":"uptime","id":1,"pad":"@FILL@"}';
        const big = await fifo(d, template, { fill: 1100000, timeout: 10 });
        const e = JSON.parse(big.reply);
        assert.equal(e.error.code, -32600);
        const size = template.length - "@FILL@".length + 1100000;
        assert.equal(
          e.error.data,
          `request of ${size} bytes exceeds the limit of 1048576 bytes (mi.max_request_bytes)`,
        );
        const ok = await fifo(d, req("uptime", "after"));
        assert.equal(JSON.parse(ok.reply).id, "after");
        assert.ok((await stats(d))["mi:fifo_garbage"] >= 1);
      },
    );

    await t.step("FIFO: deleted while serving, it is created again", async () => {
      await Deno.remove(d.fifo);
      await waitFor("the FIFO to come back", async () => {
        try {
          return (await Deno.lstat(d.fifo)).isFifo === true;
        } catch {
          return false;
        }
      });
      const r = await fifo(d, req("uptime", "again"));
      assert.equal(JSON.parse(r.reply).id, "again");
      assert.equal((await stats(d))["mi:fifo_recreated"], 1);
    });

    await t.step(
      "datagram: UDP takes 65,507 bytes, more is the limit error; unix datagrams are not UDP",
      async () => {
        const data = req("uptime", "big");
        for (
          const job of [
            { op: "udp", host: "127.0.0.1", port: d.udpPort },
            { op: "unix", path: d.sock, bind_dir: d.dir },
          ]
        ) {
          const r = await py({ ...job, data, pad_to: 65507 });
          assert.equal(JSON.parse(r.reply).id, "big", JSON.stringify(job));
        }
        // Above: UDP over IPv6 carries up to 65,527 bytes; sipmi keeps UDP at 65,507.
        const v6 = await py({ op: "udp", host: "::1", port: d.udpPort, data, pad_to: 65508 });
        assert.equal(
          v6.reply,
          '{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request","data":' +
            `"request of 65508 bytes exceeds the limit of 65507 bytes (the datagram limit)"},"id":null}`,
        );
        // A unix datagram is limited by mi.max_request_bytes only (tests/datagram_limits_test.ts).
        const unix = await py({ op: "unix", path: d.sock, bind_dir: d.dir, data, pad_to: 65508 });
        assert.equal(JSON.parse(unix.reply).id, "big");
      },
    );

    await t.step(
      "datagram: a reply larger than a UDP datagram is the JSON error; unix and the FIFO carry it",
      async () => {
        const batch = JSON.stringify(
          Array.from({ length: 200 }, (_, i) => ({ jsonrpc: "2.0", method: "ps", id: i })),
        );
        const r = await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: batch });
        const e = JSON.parse(r.reply);
        assert.equal(e.id, null);
        assert.equal(e.error.code, -32603);
        assert.match(
          e.error.data,
          /^reply of \d+ bytes exceeds the datagram limit of 65507 bytes; use the FIFO or HTTP transport$/,
        );
        const u = await py({ op: "unix", path: d.sock, bind_dir: d.dir, data: batch });
        assert.ok(u.len > 65507, `unix reply of ${u.len} bytes`);
        assert.equal(JSON.parse(u.reply).length, 200);
        const f = await fifo(d, batch);
        assert.equal(JSON.parse(f.reply).length, 200);
      },
    );

    await t.step(
      "datagram: malformed JSON gets -32700, an empty datagram nothing, vanished clients are survived",
      async () => {
        for (
          const job of [
            { op: "udp", host: "127.0.0.1", port: d.udpPort },
            { op: "unix", path: d.sock, bind_dir: d.dir },
          ]
        ) {
          assert.equal((await py({ ...job, data: '{"jsonrpc":' })).reply, PARSE_ERROR);
          assert.equal((await py({ ...job, data: "", timeout: 0.3 })).reply, null);
          // The client leaves before its (slow, batched) reply is sent.
          const slow = JSON.stringify(
            Array.from({ length: 100 }, (_, i) => ({ jsonrpc: "2.0", method: "version", id: i })),
          );
          await py({ ...job, data: slow, wait: false });
        }
        const unbound = await py({
          op: "unix",
          path: d.sock,
          data: req("uptime"),
          bind: false,
          timeout: 0.3,
        });
        assert.equal(unbound.reply, null);
        await waitFor(
          "the failed unix send",
          async () => (await stats(d))["mi:unix_send_errors"] >= 1,
        );
      },
    );

    await t.step(
      "HTTP: methods, Content-Type, sizes, split bodies, notifications, paths",
      async () => {
        const post = (
          body: string,
          headers: Record<string, string> = { "Content-Type": "application/json" },
        ) => py({ op: "http", url: d.url, body, headers });
        const get = await py({ op: "http", url: d.url, method: "GET" });
        assert.equal(get.status, 405);
        assert.equal(get.headers.allow, "POST");
        assert.match(JSON.parse(get.body).error.data, /^method GET is not allowed/);
        const put = await py({ op: "http", url: d.url, method: "PUT", body: "{}" });
        assert.equal(put.status, 406);

        const plain = await post(req("uptime"), { "Content-Type": "text/plain" });
        assert.equal(plain.status, 415);
        assert.match(JSON.parse(plain.body).error.data, /send Content-Type: application\/json/);
        const withCharset = await post(req("uptime", 3), {
          "Content-Type": "application/json; charset=utf-8",
        });
        assert.equal(JSON.parse(withCharset.body).id, 3);

        const bigBody = `{"jsonrpc":"2.0","method":"uptime","id":1,"pad":"${"a".repeat(5000)}"}`;
        const big = await post(bigBody);
        assert.equal(big.status, 413);
        assert.equal(
          JSON.parse(big.body).error.data,
          `request of ${bigBody.length} bytes exceeds the limit of 4096 bytes (http.body_limit)`,
        );
        assert.equal((await post("{bad json")).body, PARSE_ERROR);
        const empty = await post("");
        assert.equal(empty.status, 400);
        const note = await post('{"jsonrpc":"2.0","method":"uptime"}');
        assert.equal(note.status, 202);
        assert.equal(note.headers["content-length"], "0");
        assert.equal(note.body, "");
        const nowhere = await py({
          op: "http",
          url: `http://127.0.0.1:${d.httpPort}/nowhere`,
          body: "{}",
        });
        assert.equal(nowhere.status, 400);

        // Raw TCP: no Content-Type; a chunked body over the limit; keep-alive
        // requests whose headers and bodies arrive in separate writes.
        const body = req("uptime", 11);
        const head = (extra: string) =>
          `POST /mi HTTP/1.1\r\nHost: x\r\n${extra}Content-Length: ${body.length}\r\n\r\n`;
        const raw = await py({
          op: "http_raw",
          port: d.httpPort,
          delay_ms: 60,
          steps: [
            { chunks: [head("") + body] },
            {
              chunks: [
                head("Content-Type: application/json\r\n"),
                body.slice(0, 10),
                body.slice(10),
              ],
            },
            {
              chunks: [
                head("Content-Type: application/json\r\n").slice(0, 20),
                head("Content-Type: application/json\r\n").slice(20) + body,
              ],
            },
          ],
        });
        const [noType, split1, split2] = raw.responses;
        assert.equal(noType.status, 415);
        assert.match(JSON.parse(noType.body).error.data, /^no Content-Type/);
        assert.equal(split1.status, 200);
        assert.equal(JSON.parse(split1.body).id, 11);
        assert.equal(split2.status, 200);
        assert.equal(JSON.parse(split2.body).id, 11);

        const chunk = "x".repeat(3000);
        const chunked = await py({
          op: "http_raw",
          port: d.httpPort,
          steps: [{
            chunks: [
              "POST /mi HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
              `${chunk.length.toString(16)}\r\n${chunk}\r\n`,
              `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
            ],
          }],
        });
        assert.equal(chunked.responses[0].status, 413);
      },
    );

    await t.step(
      "after the battery: uptime on every transport, and the statistics counted the errors",
      async () => {
        assert.equal(JSON.parse((await fifo(d, req("uptime", "f"))).reply).id, "f");
        for (
          const job of [
            { op: "udp", host: "127.0.0.1", port: d.udpPort },
            { op: "udp", host: "::1", port: d.udpPort },
            { op: "unix", path: d.sock, bind_dir: d.dir },
          ]
        ) {
          assert.equal(JSON.parse((await py({ ...job, data: req("uptime", "u") })).reply).id, "u");
        }
        const h = await py({
          op: "http",
          url: d.url,
          body: req("uptime", "h"),
          headers: { "Content-Type": "application/json" },
        });
        assert.equal(JSON.parse(h.body).id, "h");

        const s = await stats(d);
        assert.equal(s["mi:fifo_reply_refused"], 6);
        assert.equal(s["mi:fifo_reply_timeouts"], 1);
        assert.equal(s["mi:fifo_recreated"], 1);
        assert.ok(s["mi:fifo_garbage"] >= 1);
        // FIFO 4 (3 malformed + 1 cut short), UDP 1, unix 1, HTTP 1.
        assert.equal(s["mi:parse_errors"], 7);
        // FIFO 1, UDP 1, HTTP 2 (Content-Length and chunked).
        assert.equal(s["mi:oversize_requests"], 4);
        assert.equal(s["mi:udp_replies_too_large"], 1);
        assert.equal(s["mi:unix_replies_too_large"], 0);
        // The unbound client's reply fails to send. The batch of the unix client
        // that left fails to send too, or stops where its socket file was found
        // gone (the rest abandoned), or, when the client was descheduled between
        // its send and its exit (a loaded machine), reached it just before it
        // left: each member is counted once either way, and the daemon lives on.
        assert.ok(s["mi:unix_send_errors"] >= 1, `unix send errors: ${s["mi:unix_send_errors"]}`);
        assert.equal(s["mi:http_bad_method"], 2);
        assert.equal(s["mi:http_bad_content_type"], 2);
        for (const tr of ["fifo", "udp", "unix", "http"]) assert.ok(s[`mi:${tr}_errors`] > 0, tr);
        assertAddsUp(s, "after the battery");
        const stopped = await d.stop();
        assert.equal(stopped.code, 0, stopped.stderr);
      },
    );
  });
}
