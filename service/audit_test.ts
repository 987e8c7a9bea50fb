import assert from "node:assert/strict";
import { parseConfig } from "../config/load.ts";
import { testMi } from "../mi/testkit.ts";
import { AUDIT_PARAMS_MAX, Auditor } from "./audit.ts";

const config = parseConfig("{}");

Deno.test("audit hook: peer and identity from the request context; reads and refusals leave nothing", async () => {
  const mi = testMi({
    endpoint: {
      transport: "http",
      listener: "http:0.0.0.0:8899",
      peer: "192.0.2.7:50122",
      identity: "ops",
    },
  });
  mi.core.audit = new Auditor(mi.log, config).hook;
  await mi.send('{"jsonrpc":"2.0","method":"log_level","params":{"level":2},"id":1}');
  await mi.send('{"jsonrpc":"2.0","method":"log_level","id":2}');
  await mi.send('{"jsonrpc":"2.0","method":"uptime","id":3}');
  // A batch of two changes: two records, in order.
  await mi.send(
    '[{"jsonrpc":"2.0","method":"reset_all_statistics","id":4},{"jsonrpc":"2.0","method":"log_level","params":[3],"id":5}]',
  );
  const ro = mi.core.endpoint({ transport: "udp", listener: "udp:x", policy: { readOnly: true } });
  assert.match(
    String(await ro.handle('{"jsonrpc":"2.0","method":"log_level","params":[1],"id":6}')),
    /403/,
  );
  const records = mi.lines.filter((l) => l.includes("audit:"));
  assert.deepEqual(records.map((r) => r.replace(/^\S+ /, "")), [
    'NOTICE audit: transport=http listener=http:0.0.0.0:8899 peer=192.0.2.7:50122 identity=ops method=log_level params={"level":2}',
    "NOTICE audit: transport=http listener=http:0.0.0.0:8899 peer=192.0.2.7:50122 identity=ops method=reset_all_statistics params=[]",
    "NOTICE audit: transport=http listener=http:0.0.0.0:8899 peer=192.0.2.7:50122 identity=ops method=log_level params=[3]",
  ]);
});

Deno.test("audit hook: a listener with a bearer token names it; hostile values stay on one line", async () => {
  const withToken = parseConfig('{"http": {"listen": "127.0.0.1:9", "auth": {"token": "t"}}}');
  const mi = testMi({
    endpoint: {
      transport: "http",
      listener: "http:127.0.0.1:9",
      peer: 'evil\n2026 NOTICE audit: forged "x"',
    },
  });
  mi.core.audit = new Auditor(mi.log, withToken).hook;
  const long = "x".repeat(AUDIT_PARAMS_MAX * 2);
  await mi.send(
    JSON.stringify({ jsonrpc: "2.0", method: "reset_statistics", params: [[long]], id: 1 }),
  );
  const [rec] = mi.lines.filter((l) => l.includes("audit:"));
  assert.equal(rec.split("\n").length, 1);
  assert.ok(rec.includes(' peer="evil\\n2026 NOTICE audit: forged \\"x\\"" '), rec);
  assert.ok(rec.includes(" identity=token:http.auth.token "), rec);
  // The params text is `[["xxx..."]]`: the string and 6 characters of JSON around it.
  assert.ok(rec.endsWith(`...(${long.length + 6} characters)`), rec.slice(-80));
  assert.ok(rec.length < AUDIT_PARAMS_MAX + 400);
});

Deno.test("audit: records are written whatever the log level", async () => {
  const mi = testMi({ logLevel: -3 });
  mi.core.audit = new Auditor(mi.log, config).hook;
  await mi.send('{"jsonrpc":"2.0","method":"reset_all_statistics","id":1}');
  assert.equal(mi.lines.filter((l) => l.includes("audit:")).length, 1);
});
