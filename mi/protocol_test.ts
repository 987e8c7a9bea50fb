// docs/protocol.md, "Messages", row by row: the request in, the exact reply bytes out.

import assert from "node:assert/strict";
import { testMi } from "./testkit.ts";
import { MiError } from "./jsonrpc.ts";
import type { MiModule } from "./registry.ts";

// Commands that the core commands do not offer: two recipes of one arity,
// a failing handler, an async handler, a named-only command.
const probe: MiModule = {
  name: "probe",
  commands: [
    {
      name: "twins",
      help: "two recipes of one arity",
      recipes: [["a"], ["b"]],
      handler: (p) => p.recipe,
    },
    {
      name: "boom",
      help: "throws a plain error",
      recipes: [[]],
      handler: () => {
        throw new TypeError("kaput");
      },
    },
    {
      name: "teapot",
      help: "a command-level error",
      recipes: [[]],
      handler: () => {
        throw new MiError(418, "I'm a teapot");
      },
    },
    {
      name: "later",
      help: "async",
      recipes: [[], ["v"]],
      handler: async (p) => {
        await Promise.resolve();
        return p.has("v") ? p.raw("v") : "done";
      },
    },
    { name: "nothing", help: "returns undefined", recipes: [[]], handler: () => undefined },
    {
      name: "named",
      help: "named only",
      recipes: [["x"]],
      namedOnly: true,
      handler: (p) => p.raw("x"),
    },
  ],
};

function mi() {
  return testMi({ extra: [probe] });
}

const err = (code: number, message: string, id: string, data?: string) =>
  `{"jsonrpc":"2.0","error":{"code":${code},"message":"${message}"${
    data === undefined ? "" : `,"data":${JSON.stringify(data)}`
  }},"id":${id}}`;

const INVALID = (id = "null") => err(-32600, "Invalid Request", id);
const PARSE = err(-32700, "Parse error", "null");

Deno.test("reply: compact, member order jsonrpc, result, id; no trailing newline", async () => {
  const m = mi();
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"pwd","id":1}'),
    `{"jsonrpc":"2.0","result":{"WD":${JSON.stringify(Deno.cwd())}},"id":1}`,
  );
  // Member order of the request is free.
  assert.equal(
    await m.send('{"id":1,"method":"later","jsonrpc":"2.0"}'),
    '{"jsonrpc":"2.0","result":"done","id":1}',
  );
});

Deno.test("request: \\u escapes in strings work", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"l\\u0061ter","id":"x"}'),
    '{"jsonrpc":"2.0","result":"done","id":"x"}',
  );
});

Deno.test("request: envelope member names match without regard to case; command names do not", async () => {
  const m = mi();
  assert.equal(
    await m.send('{"JSONRPC":"2.0","Method":"later","Params":["v1"],"ID":7}'),
    '{"jsonrpc":"2.0","result":"v1","id":7}',
  );
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"LATER","id":7}'),
    err(-32601, "Method not found", "7"),
  );
});

Deno.test("jsonrpc missing or not the string 2.0 → -32600", async () => {
  const m = mi();
  assert.equal(await m.send('{"method":"later","id":1}'), INVALID("1"));
  assert.equal(await m.send('{"jsonrpc":"1.0","method":"later","id":1}'), INVALID("1"));
  assert.equal(await m.send('{"jsonrpc":2.0,"method":"later","id":1}'), INVALID("1"));
});

Deno.test("method missing or not a string → -32600", async () => {
  const m = mi();
  assert.equal(await m.send('{"jsonrpc":"2.0","id":1}'), INVALID("1"));
  assert.equal(await m.send('{"jsonrpc":"2.0","method":5,"id":1}'), INVALID("1"));
  assert.equal(await m.send('{"jsonrpc":"2.0","method":null,"id":1}'), INVALID("1"));
});

Deno.test("params a scalar, a string or null → -32600", async () => {
  const m = mi();
  for (const p of ["3", '"x"', "null", "true"]) {
    assert.equal(
      await m.send(`{"jsonrpc":"2.0","method":"later","params":${p},"id":1}`),
      INVALID("1"),
      p,
    );
  }
});

Deno.test("params [] or {} or absent → no parameters", async () => {
  const m = mi();
  for (const p of ['"params":[],', '"params":{},', ""]) {
    assert.equal(
      await m.send(`{"jsonrpc":"2.0","method":"later",${p}"id":1}`),
      '{"jsonrpc":"2.0","result":"done","id":1}',
    );
  }
});

Deno.test("unknown method → -32601", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"nope","id":1}'),
    err(-32601, "Method not found", "1"),
  );
});

Deno.test("no recipe with that many positional params → -32602 Too few or too many parameters", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"later","params":[1,2],"id":1}'),
    err(-32602, "Invalid params", "1", "Too few or too many parameters"),
  );
});

Deno.test("two recipes with that many positional params → -32602 Ambiguous call", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"twins","params":[1],"id":1}'),
    err(-32602, "Invalid params", "1", "Ambiguous call, use named parameters instead"),
  );
  // Named params resolve the ambiguity.
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"twins","params":{"b":1},"id":1}'),
    '{"jsonrpc":"2.0","result":["b"],"id":1}',
  );
});

Deno.test("named params whose key set equals no recipe → -32602 Named parameters do not match", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"twins","params":{"c":1},"id":1}'),
    err(-32602, "Invalid params", "1", "Named parameters do not match"),
  );
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"twins","params":{"a":1,"b":2},"id":1}'),
    err(-32602, "Invalid params", "1", "Too few or too many parameters"),
  );
});

Deno.test("named-only command refuses positional params", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"named","params":[1],"id":1}'),
    err(-32602, "Invalid params", "1", "Command only supports named parameters"),
  );
});

Deno.test("a param of the wrong type → -32602 Bad type for parameter 'level'", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"log_level","params":["four"],"id":1}'),
    err(-32602, "Invalid params", "1", "Bad type for parameter 'level'"),
  );
});

Deno.test("command-level failure → the command's own code and message", async () => {
  const m = mi();
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"which","params":["nope"],"id":1}'),
    '{"jsonrpc":"2.0","error":{"code":404,"message":"unknown MI command"},"id":1}',
  );
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"teapot","id":1}'),
    `{"jsonrpc":"2.0","error":{"code":418,"message":"I'm a teapot"},"id":1}`,
  );
});

Deno.test("a handler that throws → -32603 Internal error, logged with the stack", async () => {
  const m = mi();
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"boom","id":1}'),
    err(-32603, "Internal error", "1"),
  );
  assert.ok(
    m.lines.some((l) => l.includes("command 'boom' failed: TypeError: kaput") && l.includes("at ")),
    m.lines.join("\n"),
  );
  // The core lives on.
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"later","id":2}'),
    '{"jsonrpc":"2.0","result":"done","id":2}',
  );
});

Deno.test("a handler returning nothing → -32000 Command handler returned null", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"nothing","id":1}'),
    err(-32000, "Server error", "1", "Command handler returned null"),
  );
});

Deno.test("not JSON, truncated JSON, only whitespace, empty → -32700 with id null", async () => {
  const m = mi();
  for (
    const t of ["hello", '{"jsonrpc":"2.0","method":"later"', "   \n\t", "", "{'a':1}", "[1,]"]
  ) {
    assert.equal(await m.send(t), PARSE, JSON.stringify(t));
  }
});

Deno.test("a JSON value followed by garbage, or two objects → -32700", async () => {
  const m = mi();
  assert.equal(await m.send('{"jsonrpc":"2.0","method":"later","id":1}xyz'), PARSE);
  assert.equal(
    await m.send(
      '{"jsonrpc":"2.0","method":"later","id":1}{"jsonrpc":"2.0","method":"later","id":2}',
    ),
    PARSE,
  );
  // Only whitespace may follow.
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"later","id":1}\n '),
    '{"jsonrpc":"2.0","result":"done","id":1}',
  );
});

Deno.test("a top-level value that is not an object → -32600 with id null", async () => {
  const m = mi();
  for (const t of ["1", '"x"', "null", "true"]) assert.equal(await m.send(t), INVALID(), t);
});

Deno.test("batch: replies in request order, notifications omitted", async () => {
  const m = mi();
  const reply = await m.send(
    '[{"jsonrpc":"2.0","method":"later","params":["a"],"id":1},' +
      '{"jsonrpc":"2.0","method":"later","params":["n"]},' +
      '{"jsonrpc":"2.0","method":"nope","id":"x"},' +
      "5," +
      '{"jsonrpc":"2.0","method":"pwd","id":3}]',
  );
  assert.equal(
    reply,
    '[{"jsonrpc":"2.0","result":"a","id":1},' +
      err(-32601, "Method not found", '"x"') + "," +
      INVALID() + "," +
      `{"jsonrpc":"2.0","result":{"WD":${JSON.stringify(Deno.cwd())}},"id":3}]`,
  );
});

Deno.test("batch: an empty array is one -32600 with id null; all notifications → no reply", async () => {
  const m = mi();
  assert.equal(await m.send("[]"), INVALID());
  assert.equal(
    await m.send('[{"jsonrpc":"2.0","method":"later"},{"jsonrpc":"2.0","method":"pwd"}]'),
    null,
  );
});

Deno.test("batch: over mi.max_batch → one -32600 naming the limit", async () => {
  const m = testMi({ limits: { maxBatch: 2 } });
  const one = '{"jsonrpc":"2.0","method":"pwd","id":1}';
  assert.equal(
    await m.send(`[${one},${one},${one}]`),
    err(
      -32600,
      "Invalid Request",
      "null",
      "batch of 3 requests exceeds the limit of 2 (mi.max_batch)",
    ),
  );
});

Deno.test("id: strings and null echoed as given", async () => {
  const m = mi();
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"later","id":"ab\\"c\\u00e9"}'),
    '{"jsonrpc":"2.0","result":"done","id":"ab\\"cé"}',
  );
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"later","id":null}'),
    '{"jsonrpc":"2.0","result":"done","id":null}',
  );
});

Deno.test("id: every number echoed exactly as written", async () => {
  const m = mi();
  for (
    const id of [
      "1",
      "0",
      "-7",
      "1.5",
      "1.50",
      "1e3",
      "1E+3",
      "12345678901",
      "12345678901234567890",
      "-0",
      "0.1",
      "2147483648",
    ]
  ) {
    assert.equal(
      await m.send(`{"jsonrpc":"2.0","method":"later","id":${id}}`),
      `{"jsonrpc":"2.0","result":"done","id":${id}}`,
      id,
    );
  }
  // A numeric "id" inside params does not confuse the echo.
  assert.equal(
    await m.send('{"jsonrpc":"2.0","method":"later","params":{"v":{"id":2}},"id":1.0}'),
    '{"jsonrpc":"2.0","result":{"id":2},"id":1.0}',
  );
  assert.equal(
    await m.send(
      '[{"jsonrpc":"2.0","method":"later","id":1.10},{"jsonrpc":"2.0","method":"later","id":2e0}]',
    ),
    '[{"jsonrpc":"2.0","result":"done","id":1.10},{"jsonrpc":"2.0","result":"done","id":2e0}]',
  );
});

Deno.test("id: an object, an array or a boolean → -32600 with id null", async () => {
  const m = mi();
  for (const id of ['{"a":1}', "[1]", "true"]) {
    assert.equal(
      await m.send(`{"jsonrpc":"2.0","method":"later","id":${id}}`),
      err(-32600, "Invalid Request", "null", "id must be a string, a number or null"),
      id,
    );
  }
});

Deno.test("notifications: no reply, even for command errors; the command still runs", async () => {
  const m = mi();
  assert.equal(await m.send('{"jsonrpc":"2.0","method":"later"}'), null);
  assert.equal(await m.send('{"jsonrpc":"2.0","method":"nope"}'), null);
  assert.equal(await m.send('{"jsonrpc":"2.0","method":"teapot"}'), null);
  assert.equal(await m.send('{"jsonrpc":"2.0","method":"log_level","params":[4]}'), null);
  assert.equal(m.log.level, 4);
});

Deno.test("notifications: -32700 and -32600 are still answered with id null", async () => {
  const m = mi();
  assert.equal(await m.send('{"jsonrpc":"2.0","method":5}'), INVALID());
  assert.equal(await m.send('{"jsonrpc":"2.0","method":"later",'), PARSE);
});

Deno.test("duplicate keys: the last value wins (JSON.parse), documented", async () => {
  assert.equal(
    await mi().send('{"jsonrpc":"2.0","method":"nope","method":"later","id":1}'),
    '{"jsonrpc":"2.0","result":"done","id":1}',
  );
});

Deno.test("limit: a request over mi.max_request_bytes → -32600 naming the limit", async () => {
  const m = testMi({ limits: { maxRequestBytes: 64 } });
  const big = `{"jsonrpc":"2.0","method":"pwd","params":["${"x".repeat(64)}"],"id":1}`;
  assert.equal(
    await m.send(big),
    err(
      -32600,
      "Invalid Request",
      "null",
      `request of ${big.length} bytes exceeds the limit of 64 bytes (mi.max_request_bytes)`,
    ),
  );
  const bytes = new TextEncoder().encode(big);
  assert.equal(
    await m.ep.handleBytes(bytes),
    err(
      -32600,
      "Invalid Request",
      "null",
      `request of ${bytes.length} bytes exceeds the limit of 64 bytes (mi.max_request_bytes)`,
    ),
  );
});

Deno.test("limit: JSON nested deeper than mi.max_depth → -32600 naming the limit, no crash", async () => {
  const m = testMi({ limits: { maxDepth: 4 } });
  const ok = '{"jsonrpc":"2.0","method":"pwd","params":{"a":[{}]},"id":1}';
  assert.equal(
    await m.send(ok),
    err(-32602, "Invalid params", "1", "Too few or too many parameters"),
  );
  const deep = '{"jsonrpc":"2.0","method":"pwd","params":{"a":[{"b":[]}]},"id":1}';
  assert.equal(
    await m.send(deep),
    err(-32600, "Invalid Request", "null", "JSON nesting deeper than 4 levels (mi.max_depth)"),
  );
  // A million levels: JSON.parse copes, the depth walk stops at the limit.
  const huge = "[".repeat(1_000_000) + "]".repeat(1_000_000);
  assert.equal(
    await testMi({ limits: { maxRequestBytes: 4_000_000 } }).send(huge),
    err(-32600, "Invalid Request", "null", "JSON nesting deeper than 64 levels (mi.max_depth)"),
  );
});

Deno.test("statistics: requests, errors, replies per transport and per command", async () => {
  const m = mi();
  await m.send('{"jsonrpc":"2.0","method":"later","id":1}');
  await m.send('{"jsonrpc":"2.0","method":"later"}');
  await m.send("garbage");
  await m.send('{"jsonrpc":"2.0","method":"boom","id":2}');
  const r = JSON.parse(
    (await m.send('{"jsonrpc":"2.0","method":"get_statistics","params":[["mi:"]],"id":9}'))!,
  ).result;
  assert.equal(r["mi:test_requests"], 5);
  assert.equal(r["mi:test_errors"], 2);
  assert.equal(r["mi:test_replies"], 3);
  assert.equal(r["mi:parse_errors"], 1);
  assert.equal(r["mi:internal_errors"], 1);
  assert.equal(r["mi:cmd_later"], 2);
  assert.equal(r["mi:cmd_boom_errors"], 1);
});
