// The CLI as an operator runs it: real child processes of `main.ts`.

import assert from "node:assert/strict";
import { parse } from "jsonc-parser";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

async function sipmi(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

Deno.test("sipmi mi --local: get_statistics, log_level, help (the README's examples)", async () => {
  const stats = await sipmi("mi", "--local", "get_statistics", '["mi:"]');
  assert.equal(stats.code, 0, stats.err);
  assert.equal(JSON.parse(stats.out)["mi:requests"], 1);
  const level = await sipmi("mi", "--local", "log_level", "4");
  assert.equal(level.code, 0, level.err);
  assert.deepEqual(JSON.parse(level.out), { "New global log level": 4 });
  const help = await sipmi("mi", "--local", "help", "uptime");
  assert.equal(help.code, 0, help.err);
  assert.equal(JSON.parse(help.out)["Exported by"], "core");
  const groups = await sipmi("mi", "--local", "get_statistics", "core:", "mi:requests");
  assert.deepEqual(Object.keys(JSON.parse(groups.out)).sort(), [
    "core:heap_used_bytes",
    "core:rss_bytes",
    "core:timestamp",
    "core:uptime",
    "mi:requests",
  ]);
});

Deno.test("sipmi mi --local: an error reply exits 1 with the error on stderr; --raw prints the reply", async () => {
  const r = await sipmi("mi", "--local", "which", "nope");
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.equal(r.err.trim(), "error 404: unknown MI command");
  const neg = await sipmi("mi", "--local", "--raw", "log_level", "-1");
  assert.equal(neg.code, 0, neg.err);
  assert.equal(neg.out.trim(), '{"jsonrpc":"2.0","result":{"New global log level":-1},"id":1}');
});

Deno.test("sipmi run: every call's reply on its own line; stops at the first error", async () => {
  const r = await sipmi("run", "examples/calls.jsonc");
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 4);
  assert.deepEqual(lines.map((l) => l.id), [1, 2, 3, 4]);
  assert.deepEqual(lines[1].result, { "New global log level": 4 });
  assert.deepEqual(lines[2].result, [[], ["level"], ["level", "pid"]]);
  assert.equal(lines[3].result["mi:requests"], 4);

  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.jsonc`, '[{"method":"nope"},{"method":"uptime"}]');
    const bad = await sipmi("run", `${dir}/bad.jsonc`);
    assert.equal(bad.code, 1);
    assert.equal(bad.out.trim().split("\n").length, 1);
    const keep = await sipmi("run", "--keep-going", `${dir}/bad.jsonc`);
    assert.equal(keep.out.trim().split("\n").length, 2);
    await Deno.writeTextFile(`${dir}/broken.jsonc`, '[\n  {"method": "uptime", "parms": []}\n]');
    const broken = await sipmi("run", `${dir}/broken.jsonc`);
    assert.equal(broken.code, 1);
    assert.match(broken.err, /broken\.jsonc:2:3: '\[0\]' unknown key 'parms'/);
    assert.match(broken.err, /^sipmi run: bad calls file:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad config file: the error names the key and line, nothing starts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/sipmi.jsonc`,
      '{\n  "fifo": {\n    "reply_timeout_ms": -5\n  }\n}\n',
    );
    const cfg = `${dir}/sipmi.jsonc`;
    for (
      const args of [["serve", "--config", cfg], ["mi", "--config", cfg, "--local", "uptime"], [
        "config",
        "check",
        "--config",
        cfg,
      ]]
    ) {
      const r = await sipmi(...args);
      assert.equal(r.code, 1, args.join(" "));
      assert.match(
        r.err,
        /sipmi\.jsonc:3:25: 'fifo\.reply_timeout_ms' must be an integer from 1 to 60000, not -5/,
      );
      assert.equal(r.out, "");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sipmi config print: the effective config, every key", async () => {
  const r = await sipmi("config", "print");
  assert.equal(r.code, 0, r.err);
  const c = parse(r.out);
  assert.equal(c.fifo.path, "/tmp/sipmi_fifo");
  assert.equal(c.fifo.partial_timeout_ms, 300);
  assert.equal(c.http.listen, "127.0.0.1:8899");
  assert.equal(c.http.metrics_path, "/metrics");
  // The output is a template: `config check` accepts it as a file.
  const dir = await Deno.makeTempDir({ prefix: "sipmi_cli_" });
  try {
    await Deno.writeTextFile(`${dir}/printed.jsonc`, r.out);
    const check = await sipmi("config", "check", "--config", `${dir}/printed.jsonc`);
    assert.equal(check.code, 0, check.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unknown subcommands and flags: one line, exit 2; --help on each subcommand", async () => {
  const unknown = await sipmi("frobnicate");
  assert.equal(unknown.code, 2);
  assert.equal(unknown.err.trim().split("\n").length, 1);
  assert.match(unknown.err, /unknown subcommand 'frobnicate'/);
  const flag = await sipmi("config", "print", "--frob");
  assert.equal(flag.code, 2);
  assert.equal(flag.err.trim().split("\n").length, 1);
  assert.match(flag.err, /Unknown option '--frob'/);
  for (const sub of ["serve", "mi", "run", "tune", "service", "config"]) {
    const h = await sipmi(sub, "--help");
    assert.equal(h.code, 0, sub);
    assert.match(h.out, /^Usage: sipmi /, sub);
  }
  const v = await sipmi("version");
  assert.match(v.out, /^sipmi \(0\.1\.0 \(/);
});
