import assert from "node:assert/strict";
import { wordsToParams } from "./mi_args.ts";

Deno.test("positional and named params, as opensips-cli builds them", () => {
  assert.equal(wordsToParams("uptime", []), undefined);
  assert.deepEqual(wordsToParams("log_level", ["4"]), [4]);
  assert.deepEqual(wordsToParams("log_level", ["level=4", "pid=12"]), { level: 4, pid: 12 });
  // A word without '=' makes all of them positional.
  assert.deepEqual(wordsToParams("help", ["uptime", "a=b"]), ["uptime", "a=b"]);
});

Deno.test("statistics commands pack their words into one array", () => {
  assert.deepEqual(wordsToParams("get_statistics", ["core:", "mi:"]), [["core:", "mi:"]]);
  assert.deepEqual(wordsToParams("get_statistics", ["all"]), [["all"]]);
  assert.deepEqual(wordsToParams("get_statistics", ['["mi:"]']), [["mi:"]]);
  assert.deepEqual(wordsToParams("get_statistics", ["statistics=core: mi:"]), {
    statistics: ["core:", "mi:"],
  });
  assert.deepEqual(wordsToParams("reset_statistics", ["123"]), [["123"]]);
});
