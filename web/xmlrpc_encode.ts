// MI replies as XML-RPC methodResponses, byte for byte as OpenSIPS
// mi_xmlrpc_ng writes them (CRLF where it writes them): objects are
// `<struct>`, arrays `<array>`, strings `<string>`, integers that fit 32
// bits `<int>`, other numbers `<double>`, booleans `<boolean>`, null
// `<nil/>`. Errors are `<fault>`s with OpenSIPS's fixed codes and strings
// for the JSON-RPC errors and the command's own code and message otherwise.

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\r\n<methodResponse>\r\n';
const TAIL = "</methodResponse>\r\n";

/** JSON-RPC code → [faultCode, faultString], as OpenSIPS maps them (the data is dropped). */
const FIXED_FAULTS: Readonly<Record<number, readonly [number, string]>> = {
  [-32700]: [32700, "parse error. not well formed"],
  [-32600]: [-32600, "server error. invalid xml-rpc. not conforming to spec."],
  [-32601]: [-32601, "server error. requested method not found"],
  [-32602]: [-32602, "server error. invalid method parameters"],
  [-32000]: [-32000, "server error"],
};

export function methodResponse(result: unknown): string {
  return `${HEAD}<params><param>\r\n${value(result)}</param></params>\r\n${TAIL}`;
}

/** A fault for an MI error: fixed strings for the JSON-RPC codes, else the command's message. */
export function faultResponse(code: number, message: string): string {
  const [faultCode, faultString] = FIXED_FAULTS[code] ?? [code, message];
  return HEAD + "<fault><value>\r\n<struct>\r\n<member>\r\n<name>faultCode</name>\r\n" +
    `<value><int>${faultCode}</int></value>\r\n</member>\r\n<member>\r\n` +
    `<name>faultString</name>\r\n<value><string>${escapeXml(faultString)}</string></value>\r\n` +
    `</member>\r\n</struct>\r\n</value>\r\n</fault>\r\n${TAIL}`;
}

const INT32_MIN = -(2 ** 31), INT32_MAX = 2 ** 31 - 1;

function value(v: unknown): string {
  return `<value>${typed(v)}</value>`;
}

function typed(v: unknown): string {
  if (v === null || v === undefined) return "<nil/>";
  switch (typeof v) {
    case "string":
      return `<string>${escapeXml(v)}</string>`;
    case "number":
      if (Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return `<int>${v}</int>`;
      return `<double>${doubleText(v)}</double>`;
    case "boolean":
      return `<boolean>${v ? 1 : 0}</boolean>`;
  }
  if (Array.isArray(v)) return `<array><data>${v.map(value).join("")}</data></array>`;
  let out = "<struct>";
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out += `<member><name>${escapeXml(k)}</name>${value(x)}</member>`;
  }
  return out + "</struct>";
}

/** A double as XML-RPC writes it: digits and a point, no exponent. */
function doubleText(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  if (Number.isInteger(n)) return BigInt(n).toString();
  return n.toFixed(20).replace(/0+$/, "");
}

// Characters XML 1.0 cannot carry at all, not even as references.
const NOT_XML =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const XML_ESCAPES: Record<string, string> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for XML; characters XML cannot hold become U+FFFD. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => XML_ESCAPES[c]).replace(NOT_XML, "\ufffd");
}
