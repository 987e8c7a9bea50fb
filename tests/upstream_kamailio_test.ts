// The relay in front of a real Kamailio (Debian's package, jsonrpcs) over
// its FIFO (the reply FIFO named in a "reply_name" member), UDP and HTTP:
// dotted method names, its pretty-printed replies passed on token for token
// on one line, help from system.methodHelp, read-only listeners, and
// Kamailio killed and restarted under a running sipmi.

import assert from "node:assert/strict";
import { type Daemon, startDaemon } from "./helpers/daemon.ts";
import { kamailioMissing, startKamailio } from "./helpers/kamailio.ts";
import { py, req } from "./helpers/python.ts";

const missing = await kamailioMissing();
if (missing !== null) console.log(`tests/upstream_kamailio_test.ts: skipping: ${missing}`);

const udp = async (port: number, text: string): Promise<string> =>
  (await py({ op: "udp", host: "127.0.0.1", port, data: text, timeout: 10 })).reply;

/** Without any whitespace, inside strings too: equal when every other byte came through in order. */
const squeezed = (text: string) => text.replace(/\s+/g, "");

Deno.test({
  name:
    "relay to Kamailio over FIFO, UDP and HTTP: replies token for token, help, read-only, Kamailio killed and restarted",
  ignore: missing !== null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sipmi_kamailio_" });
    let k = await startKamailio(dir);
    let d: Daemon | undefined;
    try {
      d = await startDaemon((c, p) => ({
        ...c,
        datagram: {
          listen: [
            `udp:127.0.0.1:${p.udpPort}`,
            { address: `unix:${p.sock}`, commands: { read_only: true } },
          ],
        },
        upstream: [
          // UDP without a prefix: Kamailio's dotted names clash with none of sipmi's.
          { name: "kam", kind: "kamailio", via: `udp:127.0.0.1:${k.udpPort}`, timeout_ms: 700 },
          {
            name: "kam_fifo",
            kind: "kamailio",
            via: `fifo:${k.fifo}`,
            prefix: "f",
            reply_dir: k.replyDir,
            timeout_ms: 700,
          },
          { name: "kam_http", kind: "kamailio", via: k.url, prefix: "h", timeout_ms: 700 },
        ],
      }));
      const front = d;
      const viaFront = (text: string) => udp(front.udpPort, text);
      const requests = [
        '{"jsonrpc":"2.0","method":"core.echo","params":["a b","q\\"x","back\\\\slash\\\\","t\\tab"],"id":"e"}',
        '{"jsonrpc":"2.0","method":"tm.stats","id":12345678901234567890}',
        '{"jsonrpc":"2.0","method":"core.psx","id":1.5}',
        '{"jsonrpc":"2.0","method":"system.listMethods","id":null}',
        '{"jsonrpc":"2.0","method":"system.methodHelp","params":["nope.x"],"id":4}',
      ];
      for (const text of requests) {
        const direct = await udp(k.udpPort, text);
        const method = JSON.parse(text).method;
        for (const prefix of ["", "f.", "h."]) {
          const relayed = await viaFront(text.replace(`"${method}"`, `"${prefix}${method}"`));
          const what = `${prefix}${method}`;
          assert.ok(!/[\n\t]/.test(relayed), `${what}: one line: ${relayed}`);
          assert.ok(relayed.startsWith('{"jsonrpc":"2.0","'), what);
          const id = text.match(/"id":(.*)\}$/)![1];
          assert.ok(relayed.endsWith(`,"id":${id}}`), `${what}: the id as sent: ${relayed}`);
          const body = (t: string) => squeezed(t).replace(/,"id":[^,]*\}$/, "");
          assert.equal(body(relayed), body(direct), what);
          const [a, b] = [JSON.parse(relayed), JSON.parse(direct)];
          assert.deepEqual(a.result ?? a.error, b.result ?? b.error, what);
        }
      }

      // which and help: Kamailio's names with and without prefixes, its help texts.
      const names: string[] = JSON.parse(await viaFront(req("which"))).result;
      for (const n of ["core.uptime", "f.core.uptime", "h.tm.stats", "system.listMethods"]) {
        assert.ok(names.includes(n), n);
      }
      assert.deepEqual(JSON.parse(await viaFront(req("help", 1, ["f.core.echo"]))).result, {
        Help: "Returns back its parameters.",
        "Exported by": "upstream:kam_fifo",
      });
      assert.equal(
        await viaFront(req("which", 1, ["core.echo"])),
        '{"jsonrpc":"2.0","result":[],"id":1}',
      );

      // A read-only listener refuses Kamailio's commands that change state.
      const ro = async (text: string) =>
        JSON.parse(
          (await py({ op: "unix", path: front.sock, bind_dir: front.dir, data: text })).reply,
        );
      for (const m of ["stats.reset_statistics", "f.tm.cancel", "h.dns.delete_all", "core.kill"]) {
        const r = await ro(req(m, 1));
        assert.equal(r.error?.code, 403, `${m}: ${JSON.stringify(r)}`);
      }
      assert.ok((await ro(req("h.core.uptime"))).result.uptime >= 0);
      assert.ok(!front.lines.some((l) => l.includes("audit:")), "refusals leave no audit record");
      await viaFront(req("stats.reset_statistics", 1, ["all"]));
      assert.ok(
        front.lines.some((l) => /audit: transport=udp .*method=stats\.reset_statistics/.test(l)),
      );

      // Kamailio killed: errors naming it within the timeout, sipmi's own commands answer.
      await k.stop();
      for (const m of ["core.uptime", "f.core.uptime", "h.core.uptime"]) {
        const t0 = performance.now();
        const r = JSON.parse(await viaFront(req(m)));
        assert.ok([502, 504].includes(r.error?.code), `${m}: ${JSON.stringify(r)}`);
        assert.match(r.error.data, /^upstream kam(_fifo|_http)? \(/);
        assert.ok(performance.now() - t0 < 700 + 5000);
      }
      assert.ok(JSON.parse(await viaFront(req("uptime"))).result["Up time"]);

      // Restarted on the same FIFO and ports: relaying resumes without restarting sipmi.
      k = await startKamailio(dir, k);
      for (const m of ["core.uptime", "f.core.uptime", "h.core.uptime"]) {
        let r: { result?: { uptime: number } } = {};
        for (let i = 0; i < 50 && r.result === undefined; i++) {
          r = JSON.parse(await viaFront(req(m)));
          if (r.result === undefined) await new Promise((x) => setTimeout(x, 200));
        }
        assert.ok(r.result!.uptime >= 0, m);
      }
      const st = JSON.parse(await viaFront(req("get_statistics", 1, [["upstream:"]]))).result;
      assert.ok(st["upstream:kam_fifo_requests"] > 5 && st["upstream:kam_fifo_errors"] >= 1);
      assert.ok(!front.lines.some((l) => / ERROR /.test(l)), front.lines.join("\n"));
    } finally {
      await d?.[Symbol.asyncDispose]();
      await k.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
