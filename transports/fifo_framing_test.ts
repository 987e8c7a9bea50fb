import assert from "node:assert/strict";
import { FifoFramer, type FramerOptions } from "./fifo_framing.ts";

const enc = new TextEncoder();
const MARKER = enc.encode("\0" + "ab12".repeat(8) + "\n");

type Ev = string;

function framer(opts: Partial<FramerOptions> = {}) {
  const events: Ev[] = [];
  const f = new FifoFramer({
    request: (name, text) => events.push(`req ${name} ${text}`),
    parseError: (name, detail) => events.push(`parse ${name} (${detail})`),
    oversize: (name, size) => events.push(`oversize ${name} ${size}`),
    garbage: () => events.push("garbage"),
    stop: () => events.push("stop"),
  }, { maxRequestBytes: 1024, marker: MARKER, ...opts });
  return {
    f,
    events,
    push: (s: string | Uint8Array) => f.push(typeof s === "string" ? enc.encode(s) : s),
  };
}

const PY =
  ':opensips_fifo_reply_42_1718_5:{"jsonrpc": "2.0", "id": "7", "method": "ps", "params": {}}';

/** Reads in, events out: [what, reads, events]. */
const STREAMS: [string, string[], string[]][] = [
  [
    "the python opensips request, no newline, is complete at once",
    [PY],
    [
      'req opensips_fifo_reply_42_1718_5 {"jsonrpc": "2.0", "id": "7", "method": "ps", "params": {}}',
    ],
  ],
  [
    "several requests in one read, with and without newlines; '::' has no name",
    [':a:{"x":1}:b:[1,2]\n  ::{"y":"}{:\\"x"}\n:c:\n{\n  "z": {"q": [1]}\n}\n'],
    ['req a {"x":1}', "req b [1,2]", 'req  {"y":"}{:\\"x"}', 'req c {\n  "z": {"q": [1]}\n}'],
  ],
  [
    "garbage is reported once and the stream resyncs at a line starting with ':'",
    ["hello world :x:{} more\n:ok:{}"],
    ["garbage", "req ok {}"],
  ],
  [
    "not a JSON value, text after the value, a line break in a string",
    [":r:garbage\n:s:{}", ':t:{"a":1}{"b":2}\n:u:{"a":1} junk\n:v:{"a":"x\n:w:{}'],
    [
      "parse r (the text after ':name:' is not a JSON value)",
      "req s {}",
      "parse t (text after the JSON value)",
      "parse u (text after the JSON value)",
      "parse v (a line break inside a JSON string)",
      "req w {}",
    ],
  ],
  [
    "an unfinished value gives way to a line starting with ':'",
    [':r:{"a": [1,\n:s:{"ok":true}'],
    ["parse r (the JSON value is incomplete)", 'req s {"ok":true}'],
  ],
  [
    "a NUL that is not the marker is garbage; names are bounded",
    ["\0xyz\n:a:{}", ":" + "n".repeat(300) + ":{}\n:b:{}"],
    ["garbage", "req a {}", "garbage", "req b {}"],
  ],
];

for (const [what, reads, want] of STREAMS) {
  Deno.test(`framing: ${what}`, () => {
    const { push, events } = framer();
    for (const r of reads) push(r);
    assert.deepEqual(events, want);
  });
}

Deno.test("framing: the same stream split at every byte gives the same requests", () => {
  const stream = ':a:{"x":"a:b\\"}"}\n:b:[{"k":[]}]:c:123\n::"str"\n';
  const whole = framer();
  whole.push(stream);
  const bytes = enc.encode(stream);
  const scalar = stream.indexOf("123");
  for (let cut = 1; cut < bytes.length; cut++) {
    const t = framer();
    t.push(bytes.slice(0, cut));
    t.push(bytes.slice(cut));
    if (cut > scalar && cut < scalar + 3) {
      // A top-level number cut by a read boundary ends there: it cannot be
      // known to go on. (Real requests are objects; this one is -32600 anyway.)
      const head = stream.slice(scalar, cut);
      assert.deepEqual(t.events.slice(2, 4), [`req c ${head}`, "garbage"], `cut ${cut}`);
    } else assert.deepEqual(t.events, whole.events, `cut ${cut}`);
  }
  assert.deepEqual(whole.events, [
    'req a {"x":"a:b\\"}"}',
    'req b [{"k":[]}]',
    "req c 123",
    'req  "str"',
  ]);
});

Deno.test("framing: a read that starts with ':' ends a garbage run (another client's write)", () => {
  const { push, events } = framer();
  push("junk without newline");
  push(PY);
  assert.equal(events.length, 2);
  assert.equal(events[0], "garbage");
  assert.match(events[1], /^req opensips_fifo_reply/);
});

Deno.test("framing: a pause never cuts a request; only expire() does, and the stream goes on", () => {
  const { push, events, f } = framer();
  push(':r:{"a"');
  assert.ok(f.partial);
  // A read that starts with ':' continues the value (a key's colon), however late it comes.
  push(":1}");
  assert.deepEqual(events, ['req r {"a":1}']);
  assert.equal(f.partial, false);
  push(':s:{"b":');
  f.expire(); // no byte for fifo.partial_timeout_ms
  push(":t:{}");
  assert.deepEqual(events.slice(1), ["parse s (the JSON value is incomplete)", "req t {}"]);
});

Deno.test("framing: expire() answers every incomplete shape, and only those", () => {
  const cases: [string, string[]][] = [
    [":r:", ["parse r (no JSON value after the reply name)"]],
    [":r:  \n\t ", ["parse r (no JSON value after the reply name)"]],
    [':r:{"jsonrpc":"2.0","method":"up', ["parse r (the JSON value is incomplete)"]],
    [':r:"a string', ["parse r (the JSON value is incomplete)"]],
    [":r:[[[", ["parse r (the JSON value is incomplete)"]],
    [":half_a_name", ["garbage"]],
    ["not a request", ["garbage"]],
    ["\0", ["garbage"]], // a NUL that never became the stop marker
    [':r:{"a":1}', ['req r {"a":1}']], // complete: nothing to expire
    ["", []],
  ];
  for (const [input, want] of cases) {
    const { push, events, f } = framer();
    push(input);
    f.expire();
    f.expire(); // twice: nothing more
    push(":next:{}");
    assert.deepEqual(events, [...want, "req next {}"], JSON.stringify(input));
  }
  // Over the limit already: the oversize error, not a parse error.
  const big = framer({ maxRequestBytes: 64 });
  big.push(":r:[" + "1,".repeat(100));
  big.f.expire();
  assert.deepEqual(big.events, ["oversize r 201"]);
});

Deno.test("framing: oversize values are measured to their end and the stream goes on", () => {
  const { push, events } = framer({ maxRequestBytes: 64 });
  const big = `{"jsonrpc":"2.0","method":"x","params":["${"y".repeat(100)}"],"id":1}`;
  push(`:r:${big}\n:s:{}`);
  assert.deepEqual(events, [`oversize r ${big.length}`, "req s {}"]);
  // Across reads: discarded, not kept.
  const t = framer({ maxRequestBytes: 64 });
  const bytes = enc.encode(`:r:${big}:s:{}`);
  for (let i = 0; i < bytes.length; i += 10) t.push(bytes.slice(i, i + 10));
  assert.deepEqual(t.events, [`oversize r ${big.length}`, "req s {}"]);
});

Deno.test("framing: an oversize value never closed gives way to a read starting with ':'", () => {
  const { push, events } = framer({ maxRequestBytes: 64 });
  push(":r:[" + "[".repeat(200));
  push(":s:{}");
  assert.equal(events.length, 2);
  assert.match(events[0], /^oversize r \d+$/);
  assert.equal(events[1], "req s {}");
});

Deno.test("framing: the stop marker delivers what came before, also split across reads", () => {
  const { push, events, f } = framer();
  push(PY);
  push(MARKER.slice(0, 5));
  push(MARKER.slice(5));
  push(":late:{}");
  assert.equal(events.length, 2);
  assert.equal(events[1], "stop");
  assert.ok(f.stopped);
  // Directly after a value in the same read.
  const t = framer();
  const s = enc.encode(':a:{"x":1}');
  const both = new Uint8Array(s.length + MARKER.length);
  both.set(s);
  both.set(MARKER, s.length);
  t.push(both);
  assert.deepEqual(t.events, ['req a {"x":1}', "stop"]);
});

Deno.test("framing: a ':' ends a request only where it cannot continue the value", () => {
  // The colon after a key continues the value, at a line start or at the
  // start of a read (a slow writer whose every write starts on a separator).
  const text = ':split:{"jsonrpc": "2.0", "method": "uptime", "id": 42}';
  const pieces = text.split(/(?=[:,{}" ])/);
  const slow = framer();
  for (const piece of pieces) slow.push(piece);
  assert.deepEqual(slow.events, [`req split ${text.slice(7)}`]);
  const lines = framer();
  lines.push(':r:{"a"\n: 1,\n"b"\n:\n[1\n,2]}');
  assert.deepEqual(lines.events, ['req r {"a"\n: 1,\n"b"\n:\n[1\n,2]}']);
  // Where a value, a key or a comma must come, a ':' starts the next request.
  const cut = framer();
  cut.push(':a:{"x": :b:{}');
  cut.push(":c:[1,");
  cut.push(":d:{}");
  cut.push(":e::f:{}");
  assert.deepEqual(cut.events, [
    "parse a (the JSON value is incomplete)",
    "req b {}",
    "parse c (the JSON value is incomplete)",
    "req d {}",
    "parse e (no JSON value after ':e:')",
    "req f {}",
  ]);
  // A value that broke the grammar still ends where its nesting does.
  const broken = framer();
  broken.push(':a:{"x" 1}:b:{}');
  assert.deepEqual(broken.events, ['req a {"x" 1}', "req b {}"]);
});
