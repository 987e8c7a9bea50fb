// Per-listener command policies (a read-only UDP listener, a deny list on
// HTTP) and HTTP bearer-token authentication, from the outside.

import assert from "node:assert/strict";
import { sipmi, startDaemon } from "./helpers/daemon.ts";
import { py, req } from "./helpers/python.ts";

Deno.test("policy: a read-only UDP listener refuses changes; HTTP denies by name; FIFO may", async () => {
  await using d = await startDaemon((c, p) => ({
    ...c,
    datagram: {
      listen: [
        { address: `udp:127.0.0.1:${p.udpPort}`, commands: { read_only: true } },
        `unix:${p.sock}`,
      ],
    },
    http: { listen: `127.0.0.1:${p.httpPort}`, commands: { deny: ["reset_*"] } },
  }));
  const udp = (text: string) => py({ op: "udp", host: "127.0.0.1", port: d.udpPort, data: text });
  const refused = JSON.parse((await udp(req("log_level", 1, [1]))).reply);
  assert.deepEqual(refused.error, {
    code: 403,
    message: "Forbidden",
    data: `command 'log_level' changes state; udp:127.0.0.1:${d.udpPort} is read-only`,
  });
  // Reading is allowed, also through the same command without params.
  assert.ok(JSON.parse((await udp(req("log_level", 2))).reply).result.Processes);
  // The unix listener of the same transport has no policy.
  const unix = await py({
    op: "unix",
    path: d.sock,
    bind_dir: d.dir,
    data: req("log_level", 3, [4]),
  });
  assert.deepEqual(JSON.parse(unix.reply).result, { "New global log level": 4 });

  const http = await py({
    op: "http",
    url: d.url,
    body: req("reset_all_statistics", 4),
    headers: { "Content-Type": "application/json" },
  });
  assert.equal(http.status, 200);
  assert.equal(
    JSON.parse(http.body).error.data,
    `command 'reset_all_statistics' is denied on http:127.0.0.1:${d.httpPort}`,
  );
  const fifo = await py({
    op: "fifo",
    fifo: d.fifo,
    reply_dir: d.replyDir,
    request: { jsonrpc: "2.0", id: "5", method: "reset_all_statistics", params: {} },
  });
  assert.equal(JSON.parse(fifo.reply).result, "OK");

  // sipmi mi shows the refusal and exits 1.
  const cli = await sipmi("mi", "--udp", `127.0.0.1:${d.udpPort}`, "log_level", "1");
  assert.equal(cli.code, 1);
  assert.equal(
    cli.err.trim(),
    `error 403: Forbidden (command 'log_level' changes state; udp:127.0.0.1:${d.udpPort} is read-only)`,
  );
});

Deno.test("auth: a bearer token from a file; 401 without it; sipmi mi with --token", async () => {
  await using d = await startDaemon((c, p) => {
    Deno.writeTextFileSync(`${p.dir}/token`, "s3cret-token\n");
    return {
      ...c,
      http: { listen: `127.0.0.1:${p.httpPort}`, auth: { token_file: `${p.dir}/token` } },
    };
  });
  const call = (headers: Record<string, string>) =>
    py({
      op: "http",
      url: d.url,
      body: req("uptime", 1),
      headers: { "Content-Type": "application/json", ...headers },
    });
  const attempts: Record<string, string>[] = [
    {},
    { Authorization: "Bearer wrong" },
    { Authorization: "Bearer s3cret-token2" },
  ];
  for (const h of attempts) {
    const r = await call(h);
    assert.equal(r.status, 401, JSON.stringify(h));
    assert.equal(r.headers["www-authenticate"], 'Bearer realm="sipmi"');
    assert.match(JSON.parse(r.body).error.data, /bearer token/);
  }
  const ok = await call({ Authorization: "Bearer s3cret-token" });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).id, 1);
  // Every route is behind the token, unknown paths too.
  const other = await py({ op: "http", url: `http://127.0.0.1:${d.httpPort}/x`, method: "GET" });
  assert.equal(other.status, 401);

  const good = await sipmi("mi", "--http", d.url, "--token", "s3cret-token", "uptime");
  assert.equal(good.code, 0, good.err);
  const fromFile = await sipmi("mi", "--http", d.url, "--token-file", `${d.dir}/token`, "uptime");
  assert.equal(fromFile.code, 0, fromFile.err);
  // Without --token, the config's token is used (the local daemon).
  const fromConfig = await sipmi("mi", "--config", d.config, "--http", d.url, "uptime");
  assert.equal(fromConfig.code, 0, fromConfig.err);
  const bad = await sipmi("mi", "--http", d.url, "--token", "nope", "uptime");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /HTTP 401 Unauthorized: missing or wrong bearer token/);

  const s = await py({
    op: "udp",
    host: "127.0.0.1",
    port: d.udpPort,
    data: req("get_statistics", 1, [["mi:http_auth_failures"]]),
  });
  assert.equal(JSON.parse(s.reply).result["mi:http_auth_failures"], 5);
});
