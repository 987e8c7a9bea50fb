import assert from "node:assert/strict";
import { wordValue } from "./words.ts";

Deno.test("words: numbers stay numbers, JSON is JSON, the rest are strings", () => {
  assert.equal(wordValue("4"), 4);
  assert.equal(wordValue("-1"), -1);
  assert.equal(wordValue("4.5"), 4.5);
  assert.equal(wordValue("007"), "007");
  assert.equal(wordValue("12345678901234567890"), "12345678901234567890");
  assert.deepEqual(wordValue('["mi:"]'), ["mi:"]);
  assert.deepEqual(wordValue('{"a":1}'), { a: 1 });
  assert.equal(wordValue('"5"'), "5");
  assert.equal(wordValue("[oops"), "[oops");
  assert.equal(wordValue("uptime"), "uptime");
});
