import assert from "node:assert/strict";
import { ConfigError, lineCol, loadConfig, parseConfig } from "./load.ts";
import { configSpec } from "./schema.ts";
import { defaults } from "./spec.ts";

function problems(text: string): string[] {
  try {
    parseConfig(text, "/etc/sipmi/sipmi.jsonc");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("defaults: every key has one; loopback listeners; sipmi's own paths and ports", () => {
  const c = defaults(configSpec);
  assert.equal(c.fifo.path, "/tmp/sipmi_fifo");
  assert.deepEqual(c.datagram.listen, [{ address: "udp:127.0.0.1:8898" }, {
    address: "unix:/tmp/sipmi.sock",
  }]);
  assert.equal(c.http.listen, "127.0.0.1:8899");
  assert.equal(c.mi.max_request_bytes, 1048576);
  assert.equal(c.log_level, 3);
  assert.deepEqual(parseConfig("", "x"), c);
  assert.deepEqual(parseConfig("// only a comment\n", "x"), c);
});

Deno.test("a file overrides keys; comments and trailing commas are allowed", () => {
  const c = parseConfig(`{
    // raise the limit
    "mi": { "max_request_bytes": 4096, },
    "datagram": { "listen": ["udp:[::1]:9000", {"address": "unix:/run/x.sock", "commands": {"read_only": true}}] },
    /* block */ "http": { "enabled": false },
  }`);
  assert.equal(c.mi.max_request_bytes, 4096);
  assert.equal(c.mi.max_depth, 64);
  assert.deepEqual(c.datagram.listen, [
    { address: "udp:[::1]:9000" },
    { address: "unix:/run/x.sock", commands: { allow: [], deny: [], read_only: true } },
  ]);
  assert.equal(c.http.enabled, false);
});

Deno.test("unknown keys and wrong types name the key, file, line and column", () => {
  const p = problems(`{
  "fifo": {
    "pth": "/tmp/x",
    "reply_timeout_ms": "2s"
  },
  "log_level": 9,
  "datagram": { "listen": ["udp:127.0.0.1"] }
}`);
  assert.deepEqual(p, [
    "/etc/sipmi/sipmi.jsonc:6:16: 'log_level' must be an integer from -3 to 4, not 9",
    "/etc/sipmi/sipmi.jsonc:3:5: 'fifo.pth' unknown key",
    `/etc/sipmi/sipmi.jsonc:4:25: 'fifo.reply_timeout_ms' must be an integer from 1 to 60000, not "2s"`,
    `/etc/sipmi/sipmi.jsonc:7:28: 'datagram.listen[0]' bad datagram address "udp:127.0.0.1" (a string "udp:HOST:PORT" or "unix:/path", or {"address": ..., "commands": {...}})`,
  ]);
});

Deno.test("syntax errors name the line", () => {
  assert.deepEqual(problems('{\n  "fifo": {\n    "path": "/x"\n  \n'), [
    "/etc/sipmi/sipmi.jsonc:5:1: syntax error: CloseBraceExpected",
  ]);
  assert.deepEqual(problems('{"a" 1}'), [
    "/etc/sipmi/sipmi.jsonc:1:6: syntax error: ColonExpected",
  ]);
});

Deno.test("value checks: modes, paths, roots, listen addresses, duplicates, top level", () => {
  assert.match(
    problems('{"fifo":{"mode":"660x"}}')[0],
    /'fifo.mode' must be an octal file mode such as "0660", not "660x"/,
  );
  assert.match(problems('{"fifo":{"path":"relative"}}')[0], /'fifo.path' must be an absolute path/);
  assert.match(
    problems('{"http":{"mi_root":"a/b"}}')[0],
    /'http.mi_root' must be letters, digits or '_'/,
  );
  assert.match(
    problems('{"http":{"listen":"localhost"}}')[0],
    /'http.listen' must be "HOST:PORT", not "localhost"/,
  );
  assert.match(problems('{"log_level":1,"log_level":2}')[0], /1:16: 'log_level' key given twice/);
  assert.match(problems("[1]")[0], /1:1: '\(top level\)' must be an object, not an array/);
  assert.match(
    problems('{"startup":[{"method":""}]}')[0],
    /'startup\[0\]' method must be a non-empty string/,
  );
  // Command lists are names with '*', matched in linear time (sys/pattern.ts).
  assert.match(
    problems('{"http":{"commands":{"deny":["(a+)+$"]}}}')[0],
    /'http.commands.deny\[0\]' '\(a\+\)\+\$' is not a command name or a name pattern with '\*'/,
  );
  assert.match(
    problems(
      '{"datagram":{"listen":[{"address":"udp:127.0.0.1:1","commands":{"allow":["x y*"]}}]}}',
    )[0],
    /commands.allow: 'x y\*' is not a command name or a name pattern with '\*'/,
  );
});

Deno.test("upstream: defaults, every key checked, names required and unique, reply_dir for FIFOs only", () => {
  const c = parseConfig('{"upstream":[{"name":"os","via":"fifo:/tmp/opensips_fifo"}]}');
  assert.deepEqual(c.upstream[0], {
    name: "os",
    via: "fifo:/tmp/opensips_fifo",
    kind: "opensips",
    prefix: "",
    timeout_ms: 2000,
    max_in_flight: 64,
    commands: { allow: [], deny: [], read_only: false },
    mutating: ["@default"],
    reply_dir: "",
  });
  assert.deepEqual(defaults(configSpec).upstream, []);
  const bad = problems(
    '{"upstream":[{"name":"a b","via":"ftp:x","kind":"asterisk","prefix":"1x","timeout_ms":0,' +
      '"mutating":["dlg end"],"oops":1}]}',
  );
  for (
    const want of [
      /'upstream\[0\]\.oops' unknown key/,
      /'upstream\[0\]\.name' must be 1 to 32 letters/,
      /'upstream\[0\]\.via' an MI address must be fifo:PATH, udp:HOST:PORT, unix:PATH or http/,
      /'upstream\[0\]\.kind' must be "opensips" or "kamailio", not "asterisk"/,
      /'upstream\[0\]\.prefix' must be empty or a letter/,
      /'upstream\[0\]\.timeout_ms' must be an integer from 1 to 60000, not 0/,
      /'upstream\[0\]\.mutating\[0\]' 'dlg end' is not a command name or a name pattern/,
    ]
  ) assert.ok(bad.some((p) => want.test(p)), `${want}: ${bad.join("\n")}`);
  const cross = problems(
    '{"upstream":[{"name":"a","via":"udp:127.0.0.1:8080","prefix":"p"},' +
      '{"name":"a","via":"http://127.0.0.1:8888/mi","prefix":"p","reply_dir":"/tmp/x/"},' +
      '{"via":"udp:127.0.0.1:8081"},{"name":"c"}]}',
  );
  assert.deepEqual(cross.map((p) => p.replace(/^[^ ]+ /, "")), [
    `'upstream[1].name' "a" names two upstreams`,
    `'upstream[1].prefix' "p" is the prefix of two upstreams`,
    "'upstream[1].reply_dir' is for an upstream reached over its FIFO only",
    "'upstream[2]' needs a name",
    "'upstream[3]' needs via (fifo:PATH, udp:HOST:PORT, unix:PATH or http://...)",
  ]);
  assert.match(cross[0], /:1:\d+: /);
});

Deno.test("a non-loopback HTTP listener needs a token", () => {
  assert.match(
    problems('{"http":{"listen":"0.0.0.0:8899"}}')[0],
    /1:19: 'http.listen' is not a loopback address, so http.auth.token or http.auth.token_file is required/,
  );
  assert.equal(
    parseConfig('{"http":{"listen":"0.0.0.0:8899","auth":{"token":"s3cret"}}}').http.auth.token,
    "s3cret",
  );
  assert.equal(parseConfig('{"http":{"listen":"[::1]:8899"}}').http.listen, "[::1]:8899");
});

Deno.test("loadConfig: an explicit missing file is an error; the default path falls back to defaults", async () => {
  await assert.rejects(
    loadConfig("/nonexistent/sipmi.jsonc"),
    (e) => e instanceof ConfigError && /cannot read/.test(e.message),
  );
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.jsonc`, '{"log_level": 4}');
    const { config, source } = await loadConfig(`${dir}/c.jsonc`);
    assert.equal(config.log_level, 4);
    assert.equal(source, `${dir}/c.jsonc`);
    // A relative path is relative to the working directory.
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      assert.equal((await loadConfig("c.jsonc")).source, `${dir}/c.jsonc`);
    } finally {
      Deno.chdir(cwd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lineCol", () => {
  assert.deepEqual(lineCol("ab\ncd", 4), { line: 2, col: 2 });
  assert.deepEqual(lineCol("ab", 0), { line: 1, col: 1 });
});

Deno.test("the README's example config is valid", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const block = /```jsonc\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README has a jsonc block");
  const c = parseConfig(block[1], "README.md");
  assert.equal(c.fifo.group, "opensips");
  assert.deepEqual(c.datagram.listen[1], {
    address: "unix:/run/sipmi/sipmi.sock",
    commands: { allow: [], deny: [], read_only: true },
  });
});

Deno.test("the HTTP roots may not overlap: each would hide the other", () => {
  assert.throws(
    () => parseConfig('{"http": {"html_root": "mi"}}', "/etc/sipmi/sipmi.jsonc"),
    /\/etc\/sipmi\/sipmi.jsonc:1:24: 'http.html_root' '\/mi' overlaps http.mi_root '\/mi': each needs its own path/,
  );
  assert.throws(
    () => parseConfig('{"http": {"metrics_path": "/html/metrics"}}'),
    /'http.metrics_path' '\/html\/metrics' overlaps http.html_root '\/html'/,
  );
  assert.equal(
    parseConfig('{"http": {"metrics_path": "/mimetrics"}}').http.metrics_path,
    "/mimetrics",
  );
});

Deno.test("fifo.io and datagram.io: ffi by default, deno on request, anything else named", () => {
  const c = defaults(configSpec);
  assert.equal(c.fifo.io, "ffi");
  assert.equal(c.datagram.io, "ffi");
  const d = parseConfig('{"fifo":{"io":"deno"},"datagram":{"io":"deno"}}');
  assert.equal(d.fifo.io, "deno");
  assert.equal(d.datagram.io, "deno");
  assert.deepEqual(problems('{\n  "fifo": {"io": "uring"},\n  "datagram": {"io": 1}\n}'), [
    `/etc/sipmi/sipmi.jsonc:2:18: 'fifo.io' must be "ffi" or "deno", not "uring"`,
    `/etc/sipmi/sipmi.jsonc:3:22: 'datagram.io' must be a string, not 1`,
  ]);
});
