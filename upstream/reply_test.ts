import assert from "node:assert/strict";
import { readReply } from "./reply.ts";

Deno.test("readReply: a compact result is cut out byte for byte", () => {
  const text =
    '{"jsonrpc":"2.0","result":{"b":0.500000,"a":12345678901234567890,"s":"x\\u0041\\"y"},"id":1}';
  assert.deepEqual(readReply(text), {
    kind: "result",
    json: '{"b":0.500000,"a":12345678901234567890,"s":"x\\u0041\\"y"}',
  });
  assert.deepEqual(readReply('{"id":"x","result":"OK","jsonrpc":"2.0"}'), {
    kind: "result",
    json: '"OK"',
  });
  assert.deepEqual(readReply('{"jsonrpc":"2.0","result":null,"id":1}'), {
    kind: "result",
    json: "null",
  });
});

Deno.test("readReply: Kamailio's pretty-printing is dropped between tokens, kept in strings", () => {
  const text = '{\n\t"jsonrpc":\t"2.0",\n\t"result":\t{\n\t\t"now":\t"Sat Nov 28 16:41:48 2026",' +
    '\n\t\t"list":\t["a b", "c\\"\\t d"],\n\t\t"uptime":\t608\n\t},\n\t"id":\t1\n}';
  assert.deepEqual(readReply(text), {
    kind: "result",
    json: '{"now":"Sat Nov 28 16:41:48 2026","list":["a b","c\\"\\t d"],"uptime":608}',
  });
});

Deno.test("readReply: an error object is kept whole, its fields read", () => {
  assert.deepEqual(
    readReply('{"jsonrpc":"2.0","error":{"code":404,"message":"unknown MI command"},"id":1}'),
    {
      kind: "error",
      json: '{"code":404,"message":"unknown MI command"}',
      code: 404,
      message: "unknown MI command",
      data: undefined,
    },
  );
  const r = readReply(
    '{\n\t"jsonrpc":\t"2.0",\n\t"error":\t{\n\t\t"code":\t500,\n\t\t"message":\t"Method Not Found",\n\t\t"data":\t{"x": 1}\n\t},\n\t"id":\t"x"\n}',
  );
  assert.deepEqual(r, {
    kind: "error",
    json: '{"code":500,"message":"Method Not Found","data":{"x":1}}',
    code: 500,
    message: "Method Not Found",
    data: '{"x":1}',
  });
});

Deno.test("readReply: what is not a JSON-RPC reply says what came", () => {
  const bad: [string, RegExp][] = [
    ["400 Parse_error", /not JSON: "400 Parse_error"/],
    ["", /not JSON: \(nothing\)/],
    ['[{"jsonrpc":"2.0","result":1,"id":1}]', /not a JSON-RPC reply object/],
    ['{"jsonrpc":"2.0","id":1}', /neither a result nor an error/],
    ['{"jsonrpc":"2.0","error":{"code":"x"},"id":1}', /neither a result nor an error/],
    ["x".repeat(1000), /\.\.\."$/],
  ];
  for (const [text, want] of bad) {
    const r = readReply(text);
    assert.equal(r.kind, "invalid", text);
    assert.match((r as { why: string }).why, want);
  }
});
