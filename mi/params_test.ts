// docs/protocol.md, "Parameters and recipes": recipe matching and typed getters.

import assert from "node:assert/strict";
import { matchRecipe, Params, toInt } from "./params.ts";
import { MiError } from "./jsonrpc.ts";

const LOG_LEVEL = [[], ["level"], ["level", "pid"]];

function fails(f: () => unknown, data: string) {
  assert.throws(f, (e) => e instanceof MiError && e.code === -32602 && e.data === data);
}

Deno.test("positional params pick the recipe with that many names, in order", () => {
  assert.deepEqual(matchRecipe(LOG_LEVEL, undefined).recipe, []);
  assert.deepEqual(matchRecipe(LOG_LEVEL, [4]).recipe, ["level"]);
  const p = matchRecipe(LOG_LEVEL, [4, 1234]);
  assert.deepEqual(p.recipe, ["level", "pid"]);
  assert.equal(p.int("pid"), 1234);
  fails(() => matchRecipe(LOG_LEVEL, [1, 2, 3]), "Too few or too many parameters");
  fails(() => matchRecipe([["a"]], undefined), "Too few or too many parameters");
});

Deno.test("named params pick the recipe whose name set equals the keys", () => {
  const p = matchRecipe(LOG_LEVEL, { pid: 7, level: 2 });
  assert.deepEqual(p.recipe, ["level", "pid"]);
  assert.equal(p.int("level"), 2);
  fails(() => matchRecipe(LOG_LEVEL, { lvl: 2 }), "Named parameters do not match");
  fails(() => matchRecipe(LOG_LEVEL, { a: 1, b: 2, c: 3 }), "Too few or too many parameters");
  // Names are case-sensitive.
  fails(() => matchRecipe(LOG_LEVEL, { Level: 2 }), "Named parameters do not match");
});

Deno.test("ambiguous positional call", () => {
  fails(() => matchRecipe([["a"], ["b"]], [1]), "Ambiguous call, use named parameters instead");
});

Deno.test("int getter: numbers truncate toward zero, numeric strings parse, the rest is a bad type", () => {
  const p = (v: unknown) => new Params(["level"], [v]);
  assert.equal(p(4.5).int("level"), 4);
  assert.equal(p(-4.5).int("level"), -4);
  assert.equal(p("4").int("level"), 4);
  assert.equal(p("+4").int("level"), 4);
  assert.equal(p("-3").int("level"), -3);
  for (const bad of ["x", "", " 4", "4 ", "0x10", "4.5", true, null, [4], { a: 4 }, 1e300]) {
    fails(() => p(bad).int("level"), "Bad type for parameter 'level'");
  }
  assert.equal(toInt(-0.5), 0);
  assert.ok(Object.is(toInt(-0.5), 0));
});

Deno.test("string getter: a JSON string only", () => {
  assert.equal(new Params(["s"], ["x"]).str("s"), "x");
  fails(() => new Params(["s"], [5]).str("s"), "Bad type for parameter 's'");
});

Deno.test("array getter: a non-empty JSON array of strings", () => {
  const p = (v: unknown) => new Params(["statistics"], [v]);
  assert.deepEqual(p(["all"]).strArray("statistics"), ["all"]);
  fails(() => p("all").strArray("statistics"), "Bad type for parameter 'statistics'");
  fails(() => p([]).strArray("statistics"), "Empty array in parameter 'statistics'");
  fails(
    () => p(["a", 1]).strArray("statistics"),
    "Bad type for array item in parameter 'statistics'",
  );
});

Deno.test("asking for a name the recipe lacks is a server error, not a crash", () => {
  assert.throws(
    () => new Params(["a"], [1]).raw("b"),
    (e) => e instanceof MiError && e.code === -32000 && e.data === "Failed to handle parameter",
  );
});
