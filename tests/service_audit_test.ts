// The audit trail on a running daemon: a command that changes state leaves
// exactly one record naming transport, listener, peer, identity and params,
// over every transport; a read-only call leaves none, nor does a command
// a listener's policy refused.

import assert from "node:assert/strict";
import { startDaemon } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

const TOKEN = "s3cret-token";

Deno.test("audit: one record per mutating command on every transport, none for reads", async () => {
  let tokenFile = "";
  await using d = await startDaemon((c, p) => {
    tokenFile = `${p.dir}/token`;
    Deno.writeTextFileSync(tokenFile, TOKEN + "\n");
    return {
      ...c,
      http: { listen: `127.0.0.1:${p.httpPort}`, auth: { token_file: tokenFile } },
      datagram: {
        listen: [
          `udp:127.0.0.1:${p.udpPort}`,
          `unix:${p.sock}`,
          // A read-only listener: its refusals are not audited.
          { address: `unix:${p.dir}/ro.sock`, commands: { read_only: true } },
        ],
      },
    };
  });
  const send = (transport: string, text: string) => {
    switch (transport) {
      case "fifo":
        return py({ op: "fifo", fifo: d.fifo, reply_dir: d.replyDir, request: text });
      case "udp":
        return py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: text });
      case "unix":
        return py({ op: "unix", path: d.sock, bind_dir: d.dir, data: text });
      case "ro":
        return py({ op: "unix", path: `${d.dir}/ro.sock`, bind_dir: d.dir, data: text });
      default:
        return py({
          op: "http",
          url: d.url,
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
          body: text,
        });
    }
  };
  const transports = ["fifo", "udp", "unix", "http"];
  for (const t of transports) {
    const r = await send(t, req("log_level", `${t}-set`, [3]));
    assert.match(r.reply ?? r.body, /"New global log level":3/, t);
    await send(t, req("log_level", `${t}-get`));
    await send(t, req("uptime", `${t}-up`));
    await send(t, req("get_statistics", `${t}-stats`, [["mi:requests"]]));
  }
  const refused = await send("ro", req("reset_all_statistics", "ro"));
  assert.match(refused.reply, /"code":403/);

  // Records are written before the reply; the stderr pipe may lag a little.
  const deadline = Date.now() + 5000;
  const audit = () => d.lines.filter((l) => / audit: /.test(l));
  while (audit().length < transports.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const records = audit();
  assert.equal(records.length, transports.length, records.join("\n"));
  const listeners: Record<string, string> = {
    fifo: `fifo:${d.fifo}`,
    udp: `udp:127.0.0.1:${d.udpPort}`,
    unix: `unix:${d.sock}`,
    http: `http:127.0.0.1:${d.httpPort}`,
  };
  for (const [i, t] of transports.entries()) {
    const rec = records[i];
    assert.match(rec, /^\S+ NOTICE audit: /, rec);
    assert.ok(rec.includes(` transport=${t} listener=${listeners[t]} `), rec);
    // The peer each transport names: the sender's address, the client's
    // bound unix socket, the reply FIFO's name.
    const peers: Record<string, RegExp> = {
      fifo: / peer=opensips_fifo_reply_\S+ /,
      udp: / peer=127\.0\.0\.1:\d+ /,
      unix: new RegExp(` peer=${d.dir.replaceAll(".", "\\.")}/\\S+ `),
      http: / peer=127\.0\.0\.1:\d+ /,
    };
    assert.match(rec, peers[t], rec);
    assert.doesNotMatch(rec, / peer=- /, rec);
    assert.ok(
      rec.includes(` identity=${t === "http" ? `token:${tokenFile}` : "-"} `),
      rec,
    );
    assert.ok(rec.endsWith(" method=log_level params=[3]"), rec);
  }
  assert.equal((await d.stop()).code, 0);
});
