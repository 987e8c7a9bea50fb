import assert from "node:assert/strict";
import { decodeMethodCall, decodeText, MAX_VALUE_DEPTH } from "./xmlrpc_decode.ts";

const call = (method: string, params = "") =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName>${params}</methodCall>`;
const param = (v: string) => `<param><value>${v}</value></param>`;

Deno.test("positional params of every type; untyped text is a string", () => {
  const r = decodeMethodCall(call(
    "log_level",
    "<params>" +
      param("<int>4</int>") + param("<i4>-2</i4>") + param("<i8>9007199254740991</i8>") +
      param("<string>a &amp; b &lt;c&gt; &#65;&#x42;</string>") + param("bare text") +
      param("<string/>") + param("") + param("<double>2.5</double>") +
      param("<boolean>1</boolean>") + param("<boolean>0</boolean>") + param("<nil/>") +
      param("<array><data><value><int>1</int></value><value>x</value></data></array>") +
      param("<array><data/></array>") +
      "</params>",
  ));
  assert.deepEqual(r, {
    ok: true,
    method: "log_level",
    params: [4, -2, 9007199254740991, "a & b <c> AB", "bare text", "", "", 2.5, true, false, null, [
      1,
      "x",
    ], []],
  });
});

Deno.test("a single struct is named params; whitespace between elements is ignored", () => {
  const xml = `<?xml version="1.0"?>
<methodCall>
  <methodName>log_level</methodName>
  <params>
    <param>
      <value><struct>
        <member><name>level</name><value><int>4</int></value></member>
        <member><name>pid</name><value>
          <int>12</int>
        </value></member>
      </struct></value>
    </param>
  </params>
</methodCall>`;
  assert.deepEqual(decodeMethodCall(xml), {
    ok: true,
    method: "log_level",
    params: { level: 4, pid: 12 },
  });
  // Element names match without regard to case, as in OpenSIPS.
  assert.deepEqual(
    decodeMethodCall("<METHODCALL><MethodName>uptime</MethodName></METHODCALL>"),
    { ok: true, method: "uptime", params: undefined },
  );
  assert.deepEqual(decodeMethodCall(call("uptime", "<params/>")), {
    ok: true,
    method: "uptime",
    params: undefined,
  });
});

Deno.test("not well formed is the parse error; bad XML-RPC is invalid", () => {
  const bad: [string, number, RegExp][] = [
    ["<methodCall><methodName>x</methodName>", -32700, /./],
    ["not xml at all", -32700, /./],
    [call("a&b"), -32700, /'&'/],
    [call("&nbsp;"), -32700, /undefined entity/],
    [call("&#0;"), -32700, /character reference/],
    ["<methodCall><params/></methodCall>", -32600, /methodName/],
    ["<other/>", -32600, /methodCall/],
    [call("m", "<params>" + param("<base64>eA==</base64>") + "</params>"), -32600, /base64/],
    [call("m", "<params>" + param("<int>4.5</int>") + "</params>"), -32600, /int/],
    [call("m", "<params>" + param("<int>99999999999999999999</int>") + "</params>"), -32600, /int/],
    [call("m", "<params>" + param("<boolean>yes</boolean>") + "</params>"), -32600, /boolean/],
    [call("m", "<params>" + param("<int>1</int><string>x</string>") + "</params>"), -32600, /one/],
    [call("m", "<params><param/></params>"), -32600, /value/],
    [
      call(
        "m",
        "<params>" + param("<struct><member><value>1</value></member></struct>") + "</params>",
      ),
      -32600,
      /member/,
    ],
  ];
  for (const [xml, code, why] of bad) {
    const r = decodeMethodCall(xml);
    assert.equal(r.ok, false, xml);
    if (r.ok) continue;
    assert.equal(r.code, code, xml);
    assert.match(r.why, why, xml);
  }
});

Deno.test("DTDs and entity declarations are refused before parsing, fast", () => {
  const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<methodCall><methodName>&lol9;</methodName></methodCall>`;
  const external = `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` +
    call("&e;");
  for (const xml of [laughs, external, `<!doctype methodCall>${call("uptime")}`]) {
    const t0 = performance.now();
    const r = decodeMethodCall(xml);
    assert.ok(performance.now() - t0 < 1000);
    assert.deepEqual(r, {
      ok: false,
      code: -32600,
      why: "DTDs and entity declarations are refused",
    });
  }
});

Deno.test("nesting is bounded before the parser recurses", () => {
  const deep = (n: number) =>
    "<array><data><value>".repeat(n) + "<int>1</int>" + "</value></data></array>".repeat(n);
  const ok = decodeMethodCall(
    call("m", "<params>" + param(deep(MAX_VALUE_DEPTH - 1)) + "</params>"),
  );
  assert.equal(ok.ok, true);
  for (const n of [MAX_VALUE_DEPTH + 1, 100000]) {
    const r = decodeMethodCall(call("m", "<params>" + param(deep(n)) + "</params>"));
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.code, -32600);
  }
});

Deno.test("decodeText: the five entities and character references only", () => {
  assert.equal(decodeText("&lt;&gt;&amp;&quot;&apos;&#233;&#x1F600;"), "<>&\"'é😀");
  assert.equal(decodeText("&amp;lt;"), "&lt;");
  assert.throws(() => decodeText("&copy;"), /undefined entity/);
});
