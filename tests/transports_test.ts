// Every transport driven by independent clients (python3 stdlib framing as
// python `opensips`, opensips-cli and curl do) and by `sipmi mi` itself,
// against `sipmi serve` running as a child process.

import assert from "node:assert/strict";
import { IO_PATHS, sipmi, startDaemonOn } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

for (const io of IO_PATHS) {
  Deno.test(`transports: uptime and ps over FIFO, UDP (v4, v6), unix and HTTP; sipmi mi on each [io: ${io}]`, async () => {
    await using d = await startDaemonOn(io, (c, p) => ({
      ...c,
      datagram: {
        listen: [`udp:127.0.0.1:${p.udpPort}`, `udp:[::1]:${p.udpPort}`, `unix:${p.sock}`],
      },
    }));

    // python `opensips` framing: string id, params {}, reply FIFO opened after writing.
    const fifo = await py({
      op: "fifo",
      fifo: d.fifo,
      reply_dir: d.replyDir,
      request: { jsonrpc: "2.0", id: "4242", method: "ps", params: {} },
    });
    const ps = JSON.parse(fifo.reply);
    assert.equal(ps.id, "4242");
    assert.deepEqual(ps.result.Processes.map((p: { Type: string }) => p.Type), [
      "attendant",
      "MI FIFO",
      `MI Datagram udp:127.0.0.1:${d.udpPort}`,
      `MI Datagram udp:[::1]:${d.udpPort}`,
      `MI Datagram unix:${d.sock}`,
      `HTTPD 127.0.0.1:${d.httpPort}`,
    ]);
    // About a millisecond, not OpenSIPS's 80 ms, though the client opens its FIFO late.
    assert.ok(fifo.ms < 60, `FIFO reply took ${fifo.ms} ms`);

    for (const host of ["127.0.0.1", "::1"]) {
      const u = await py({ op: "udp", host, port: d.udpPort, data: req("uptime", 7) });
      assert.match(
        u.reply,
        /^\{"jsonrpc":"2.0","result":\{"Now":".*","Up since":".*","Up time":"\d+ \[sec\]"\},"id":7\}$/,
      );
    }
    const x = await py({ op: "unix", path: d.sock, data: req("uptime", "u"), bind_dir: d.dir });
    assert.equal(JSON.parse(x.reply).id, "u");

    const h = await py({
      op: "http",
      url: d.url,
      body: req("uptime", 1),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(h.status, 200);
    assert.equal(h.headers["content-type"], "application/json");
    assert.equal(JSON.parse(h.body).id, 1);
    // Any path under the root, as OpenSIPS: /mi/anything.
    const sub = await py({
      op: "http",
      url: `${d.url}/anything?x=1`,
      body: req("uptime", 2),
      headers: { "Content-Type": "application/json" },
    });
    assert.equal(JSON.parse(sub.body).id, 2);

    const targets = [
      ["--fifo", d.fifo, "--reply-dir", d.replyDir],
      ["--udp", `127.0.0.1:${d.udpPort}`],
      ["--udp", `[::1]:${d.udpPort}`],
      ["--unix", d.sock],
      ["--http", d.url],
      ["--config", d.config], // the default: the config's FIFO
    ];
    const runs = await Promise.all(targets.map((t) => sipmi("mi", ...t, "uptime")));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 0, `${targets[i].join(" ")}: ${r.err}\n${d.lines.join("\n")}`);
      assert.match(JSON.parse(r.out)["Up time"], /^\d+ \[sec\]$/);
    }
    // No reply FIFO or socket left behind by any client.
    assert.deepEqual([...Deno.readDirSync(d.replyDir)], []);
    const stopped = await d.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  });
}
