// The I/O path switch (`fifo.io`, `datagram.io`): `config check` names a bad
// value's position, and a daemon that cannot use FFI at start says so once
// and serves its FIFO and datagram listeners on the Deno path instead of failing.

import assert from "node:assert/strict";
import { sipmi, startDaemon } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

Deno.test("sipmi config check: an unknown io value is refused with its key and position", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_io_" });
  try {
    const cfg = `${dir}/sipmi.jsonc`;
    await Deno.writeTextFile(cfg, '{\n  "datagram": {\n    "io": "uring"\n  }\n}\n');
    const r = await sipmi("config", "check", "--config", cfg);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /sipmi\.jsonc:3:11: 'datagram\.io' must be "ffi" or "deno", not "uring"/);
    await Deno.writeTextFile(cfg, '{"fifo": {"io": "deno"}, "datagram": {"io": "ffi"}}');
    const ok = await sipmi("config", "check", "--config", cfg);
    assert.equal(ok.code, 0, ok.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without FFI at start, the FIFO and datagram listeners use the Deno path, said once", async () => {
  // The config asks for "ffi"; Deno refuses every dlopen.
  await using d = await startDaemon(undefined, { io: "ffi", denyFfi: true });
  const u = await py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: req("uptime", 3) });
  assert.equal(JSON.parse(u.reply).id, 3);
  const x = await py({ op: "unix", path: d.sock, data: req("uptime", "u"), bind_dir: d.dir });
  assert.equal(JSON.parse(x.reply).id, "u");
  const f = await py({
    op: "fifo",
    fifo: d.fifo,
    reply_dir: d.replyDir,
    request: { jsonrpc: "2.0", id: "f", method: "uptime", params: {} },
  });
  assert.equal(JSON.parse(f.reply).id, "f");
  const said = d.lines.filter((l) => l.includes("FFI is unavailable"));
  assert.equal(said.length, 1, d.lines.join("\n"));
  assert.match(said[0], /FFI is unavailable \(Requires ffi access to "libc\.so\.6"/);
  assert.match(said[0], /use Deno's own I\/O/);
});
