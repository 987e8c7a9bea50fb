import assert from "node:assert/strict";
import { escapeXml, faultResponse, methodResponse } from "./xmlrpc_encode.ts";

Deno.test("a result as OpenSIPS writes it, byte for byte", () => {
  assert.equal(
    methodResponse({ "Up time": "3 [sec]", n: [1, 2.5, 5000000000, true, null], "<k>": "a&'\"" }),
    '<?xml version="1.0" encoding="UTF-8"?>\r\n<methodResponse>\r\n<params><param>\r\n' +
      "<value><struct>" +
      "<member><name>Up time</name><value><string>3 [sec]</string></value></member>" +
      "<member><name>n</name><value><array><data>" +
      "<value><int>1</int></value><value><double>2.5</double></value>" +
      "<value><double>5000000000</double></value><value><boolean>1</boolean></value>" +
      "<value><nil/></value></data></array></value></member>" +
      "<member><name>&lt;k&gt;</name><value><string>a&amp;&#39;&quot;</string></value></member>" +
      "</struct></value></param></params>\r\n</methodResponse>\r\n",
  );
  assert.match(methodResponse("OK"), /<value><string>OK<\/string><\/value>/);
  assert.match(methodResponse(1e-7), /<double>0\.0000001<\/double>/);
  assert.match(methodResponse(2 ** 31), /<double>2147483648<\/double>/);
  assert.match(methodResponse(-(2 ** 31)), /<int>-2147483648<\/int>/);
});

Deno.test("faults: OpenSIPS's fixed codes and strings, else the command's own", () => {
  const fault = (code: number, message: string) => {
    const x = faultResponse(code, message);
    const c = /<name>faultCode<\/name>\r\n<value><int>(-?[0-9]+)<\/int>/.exec(x)![1];
    const s = /<name>faultString<\/name>\r\n<value><string>([^<]*)<\/string>/.exec(x)![1];
    return [Number(c), s];
  };
  assert.deepEqual(fault(-32700, "Parse error"), [32700, "parse error. not well formed"]);
  assert.deepEqual(fault(-32600, "Invalid Request"), [
    -32600,
    "server error. invalid xml-rpc. not conforming to spec.",
  ]);
  assert.deepEqual(fault(-32601, "Method not found"), [
    -32601,
    "server error. requested method not found",
  ]);
  assert.deepEqual(fault(-32602, "Invalid params"), [
    -32602,
    "server error. invalid method parameters",
  ]);
  assert.deepEqual(fault(-32000, "Server error"), [-32000, "server error"]);
  assert.deepEqual(fault(404, "unknown MI command"), [404, "unknown MI command"]);
  assert.deepEqual(fault(500, "a <b> & c"), [500, "a &lt;b&gt; &amp; c"]);
  assert.equal(
    faultResponse(-32601, ""),
    '<?xml version="1.0" encoding="UTF-8"?>\r\n<methodResponse>\r\n<fault><value>\r\n<struct>\r\n' +
      "<member>\r\n<name>faultCode</name>\r\n<value><int>-32601</int></value>\r\n</member>\r\n" +
      "<member>\r\n<name>faultString</name>\r\n" +
      "<value><string>server error. requested method not found</string></value>\r\n" +
      "</member>\r\n</struct>\r\n</value>\r\n</fault>\r\n</methodResponse>\r\n",
  );
});

Deno.test("characters XML cannot carry become U+FFFD", () => {
  assert.equal(escapeXml("a\u0001b\u000bc\td\ne\ud800f😀"), "a\ufffdb\ufffdc\td\ne\ufffdf😀");
});
