// Commands that change while the daemon runs (a module set with setModule,
// as the upstream relay does): which name wins, what the core does with
// them (raw params, JSON text results, verbatim errors), and `which`/`help`.

import assert from "node:assert/strict";
import { JsonText, MiError } from "./jsonrpc.ts";
import type { CommandSpec } from "./registry.ts";
import { testMi } from "./testkit.ts";

const call = (method: string, params?: unknown, id: unknown = 1) =>
  JSON.stringify({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }), id });

function relayed(name: string, handler: CommandSpec["handler"], extra = {}): CommandSpec {
  return { name, help: "", recipes: [], anyParams: true, handler, ...extra };
}

Deno.test("setModule: static commands keep their names, the first changing module wins, each hiding logged once", async () => {
  const m = testMi();
  m.registry.setModule({
    name: "upstream:a",
    commands: [relayed("uptime", () => "a"), relayed("x.one", () => "a1")],
  });
  m.registry.setModule({
    name: "upstream:b",
    commands: [relayed("x.one", () => "b1"), relayed("x.two", () => "b2")],
  });
  assert.equal(
    await m.send(call("uptime")).then((r) => JSON.parse(r!).result["Up time"] !== undefined),
    true,
  );
  assert.equal(await m.send(call("x.one")), '{"jsonrpc":"2.0","result":"a1","id":1}');
  assert.equal(await m.send(call("x.two")), '{"jsonrpc":"2.0","result":"b2","id":1}');
  const warned = m.lines.filter((l) => l.includes("hidden"));
  assert.equal(warned.length, 2, m.lines.join("\n"));
  assert.match(warned[0], /'uptime' of upstream:a \(core has it\)/);
  assert.match(warned[1], /'x\.one' of upstream:b \(upstream:a has it\)/);
  // Setting the same commands again logs nothing new.
  m.registry.setModule({
    name: "upstream:b",
    commands: [relayed("x.one", () => "b1"), relayed("x.two", () => "b2")],
  });
  assert.equal(m.lines.filter((l) => l.includes("hidden")).length, 2);
  // Once a goes, b's x.one has the name.
  m.registry.removeModule("upstream:a");
  assert.equal(await m.send(call("x.one")), '{"jsonrpc":"2.0","result":"b1","id":1}');
  assert.ok(!m.registry.names().includes("uptime") || m.registry.get("uptime")!.module === "core");
  assert.deepEqual(m.registry.names().slice(-2), ["x.one", "x.two"]);
  // A static module's name cannot be set as a changing one.
  assert.throws(() => m.registry.setModule({ name: "core", commands: [] }), /static/);
});

Deno.test("anyParams: the handler reads the request as sent; JSON text and verbatim errors pass through", async () => {
  const seen: unknown[] = [];
  const m = testMi();
  m.registry.setModule({
    name: "upstream:a",
    commands: [
      relayed("r.echo", (_p, _ctx, req) => {
        seen.push([req.params, req.idText]);
        return new JsonText('{"b":0.500000,"a":12345678901234567890}');
      }),
      relayed("r.fail", () => {
        throw new MiError(
          404,
          "unknown MI command",
          undefined,
          '{"code":404,"message":"x","z":[1]}',
        );
      }),
    ],
  });
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"r.echo","params":{"any":[1,"x"]},"id":1.50}'),
    '{"jsonrpc":"2.0","result":{"b":0.500000,"a":12345678901234567890},"id":1.50}',
  );
  assert.equal(
    await m.send(call("r.echo", ["a", "b", "c"], "s")),
    '{"jsonrpc":"2.0","result":{"b":0.500000,"a":12345678901234567890},"id":"s"}',
  );
  assert.deepEqual(seen, [[{ any: [1, "x"] }, "1.50"], [["a", "b", "c"], '"s"']]);
  assert.equal(
    await m.send(call("r.fail")),
    '{"jsonrpc":"2.0","error":{"code":404,"message":"x","z":[1]},"id":1}',
  );
  // Counted per command, like any command (counters made at first use).
  const mi = JSON.parse((await m.send(call("get_statistics", [["mi:"]])))!).result;
  assert.equal(mi["mi:cmd_r_echo"], 2);
  assert.equal(mi["mi:cmd_r_fail_errors"], 1);
  assert.equal(mi["mi:cmd_r_unused"], undefined);
});

Deno.test("which and help answer for a command whose help and recipes live elsewhere", async () => {
  const m = testMi();
  m.registry.setModule({
    name: "upstream:a",
    commands: [
      relayed("r.cmd", () => "x", {
        describe: {
          help: () => Promise.resolve("does r"),
          recipes: () => Promise.resolve([[], ["level"]]),
        },
      }),
      relayed("r.down", () => "x", {
        describe: {
          help: () => Promise.reject(new MiError(502, "Bad Gateway", "upstream a: down")),
          recipes: () => Promise.reject(new MiError(502, "Bad Gateway", "upstream a: down")),
        },
      }),
    ],
  });
  assert.equal(
    await m.send(call("which", ["r.cmd"])),
    '{"jsonrpc":"2.0","result":[[],["level"]],"id":1}',
  );
  assert.equal(
    await m.send(call("help", ["r.cmd"])),
    '{"jsonrpc":"2.0","result":{"Help":"does r","Exported by":"upstream:a"},"id":1}',
  );
  assert.equal(
    await m.send(call("help", ["r.down"])),
    '{"jsonrpc":"2.0","error":{"code":502,"message":"Bad Gateway","data":"upstream a: down"},"id":1}',
  );
  assert.ok(JSON.parse((await m.send(call("which")))!).result.includes("r.cmd"));
});

Deno.test("resolver: a name nobody has is looked for once more; nothing to look at answers at once", async () => {
  const m = testMi();
  const asked: string[] = [];
  m.registry.resolver = (name) => {
    asked.push(name);
    if (!name.startsWith("late.")) return undefined;
    return new Promise<void>((r) =>
      setTimeout(() => {
        m.registry.setModule({ name: "upstream:late", commands: [relayed("late.cmd", () => 7)] });
        r();
      }, 10)
    );
  };
  const nope = m.ep.handle(call("nope"));
  assert.equal(typeof nope, "string", "answered synchronously");
  assert.equal(
    nope,
    '{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}',
  );
  assert.equal(await m.send(call("late.cmd")), '{"jsonrpc":"2.0","result":7,"id":1}');
  assert.equal(
    await m.send(call("late.other")),
    '{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}',
  );
  assert.equal(
    await m.send(call("help", ["late.cmd"])),
    '{"jsonrpc":"2.0","result":{"Help":"not available for this command","Exported by":"upstream:late"},"id":1}',
  );
  assert.deepEqual(asked, ["nope", "late.cmd", "late.other"]);
});
