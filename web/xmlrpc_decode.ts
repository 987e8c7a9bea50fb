// An XML-RPC methodCall as an MI call (OpenSIPS mi_xmlrpc_ng,
// docs/web.md "XML-RPC"): `<methodName>` is the command; a single `<struct>` param gives
// named params, anything else positional ones. Values: `<string>`, `<int>`,
// `<i4>`, `<i8>`, `<double>`, `<boolean>`, `<nil/>`, `<array>`, `<struct>`,
// and an untyped `<value>text</value>` is a string, as the XML-RPC spec says
// (OpenSIPS refuses it). `<base64>` and `<dateTime.iso8601>` have no MI
// meaning and are refused.
//
// Safety: a document with a DTD or an entity declaration is refused before
// anything parses it (no entity expansion, so no billion laughs and no
// external entities); only the five predefined entities and character
// references are decoded, by us. Element names match without regard to
// case, as in OpenSIPS. Nesting is bounded.

import { XMLParser, XMLValidator } from "fast-xml-parser";

/** JSON-RPC codes the fault mapping knows (web/xmlrpc_encode.ts). */
export const XML_PARSE_ERROR = -32700;
export const XML_INVALID = -32600;

export type DecodedCall =
  | { ok: true; method: string; params: unknown[] | Record<string, unknown> | undefined }
  | { ok: false; code: typeof XML_PARSE_ERROR | typeof XML_INVALID; why: string };

/** Deepest nesting of arrays and structs accepted in a value. */
export const MAX_VALUE_DEPTH = 64;
/** Deepest element nesting looked at before parsing (the parser recurses): array/data/value per level. */
const MAX_ELEMENT_DEPTH = 3 * MAX_VALUE_DEPTH + 8;

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  transformTagName: (name) => name.toLowerCase(),
  isArray: (name) => name === "param" || name === "member" || name === "value",
  maxNestedTags: MAX_ELEMENT_DEPTH,
});

const DECLARATIONS = /<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;

class Invalid extends Error {}
class NotWellFormed extends Error {}

export function decodeMethodCall(xml: string): DecodedCall {
  if (DECLARATIONS.test(xml)) {
    return { ok: false, code: XML_INVALID, why: "DTDs and entity declarations are refused" };
  }
  const depth = elementDepth(xml);
  if (depth > MAX_ELEMENT_DEPTH) {
    return {
      ok: false,
      code: XML_INVALID,
      why: `elements nest deeper than ${MAX_ELEMENT_DEPTH} levels`,
    };
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    return { ok: false, code: XML_PARSE_ERROR, why: valid.err.msg };
  }
  try {
    const doc = parser.parse(xml) as Record<string, unknown>;
    const call = doc.methodcall;
    if (call === undefined || typeof call !== "object" || call === null) {
      throw new Invalid("no <methodCall>");
    }
    const c = call as Record<string, unknown>;
    const name = typeof c.methodname === "string" ? decodeText(c.methodname).trim() : "";
    if (name === "") throw new Invalid("no <methodName>");
    return { ok: true, method: name, params: decodeParams(c.params) };
  } catch (e) {
    if (e instanceof NotWellFormed) return { ok: false, code: XML_PARSE_ERROR, why: e.message };
    if (e instanceof Invalid) return { ok: false, code: XML_INVALID, why: e.message };
    // The parser's own refusals (it validated already): not well formed.
    return { ok: false, code: XML_PARSE_ERROR, why: (e as Error).message };
  }
}

function decodeParams(params: unknown): unknown[] | Record<string, unknown> | undefined {
  if (params === undefined || isBlank(params)) return undefined;
  if (typeof params !== "object" || params === null) throw new Invalid("bad <params>");
  const list = (params as Record<string, unknown>).param;
  if (list === undefined) return undefined;
  const values = (list as unknown[]).map((p) => {
    const value = typeof p === "object" && p !== null
      ? (p as { value?: unknown }).value
      : undefined;
    if (!Array.isArray(value)) throw new Invalid("a <param> without a <value>");
    return value[0];
  });
  if (values.length === 0) return undefined;
  // A single struct: named params (what OpenSIPS does with the first param's struct).
  const first = values[0];
  if (values.length === 1 && typeof first === "object" && first !== null && "struct" in first) {
    return decodeValue(first, 0) as Record<string, unknown>;
  }
  return values.map((v) => decodeValue(v, 0));
}

function decodeValue(v: unknown, depth: number): unknown {
  if (depth > MAX_VALUE_DEPTH) throw new Invalid(`values nest deeper than ${MAX_VALUE_DEPTH}`);
  if (typeof v === "string") return decodeText(v);
  if (typeof v !== "object" || v === null) throw new Invalid("bad <value>");
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => !(k === "#text" && isBlank(o[k])));
  if (keys.length !== 1) throw new Invalid("a <value> must hold one typed value or text");
  const type = keys[0];
  const inner = o[type];
  switch (type) {
    case "string":
      return decodeText(leaf(inner, type));
    case "int":
    case "i4":
    case "i8": {
      const t = leaf(inner, type).trim();
      const n = Number(t);
      if (!/^[+-]?[0-9]+$/.test(t) || !Number.isSafeInteger(n)) {
        throw new Invalid(`bad <${type}> '${t}'`);
      }
      return n;
    }
    case "double": {
      const t = leaf(inner, type).trim();
      if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(t)) {
        throw new Invalid(`bad <double> '${t}'`);
      }
      return Number(t);
    }
    case "boolean": {
      const t = leaf(inner, type).trim();
      if (t === "1" || t === "true") return true;
      if (t === "0" || t === "false") return false;
      throw new Invalid(`bad <boolean> '${t}'`);
    }
    case "nil":
      return null;
    case "array": {
      if (isBlank(inner)) return [];
      const data = (inner as Record<string, unknown>).data;
      if (data === undefined || isBlank(data)) return [];
      const values = (data as Record<string, unknown>).value;
      if (!Array.isArray(values)) throw new Invalid("bad <array>");
      return values.map((x) => decodeValue(x, depth + 1));
    }
    case "struct": {
      const out: Record<string, unknown> = {};
      if (isBlank(inner)) return out;
      const members = (inner as Record<string, unknown>).member;
      if (!Array.isArray(members)) throw new Invalid("bad <struct>");
      for (const m of members) {
        const mo = m as Record<string, unknown>;
        const name = typeof mo.name === "string" ? decodeText(mo.name) : "";
        if (name === "" || !Array.isArray(mo.value)) throw new Invalid("bad <member>");
        out[name] = decodeValue(mo.value[0], depth + 1);
      }
      return out;
    }
    default:
      throw new Invalid(`<${type}> values are not supported`);
  }
}

/** The text of a typed value's element (`<int>4</int>`; `<string/>` is ""). */
function leaf(inner: unknown, type: string): string {
  if (typeof inner === "string") return inner;
  throw new Invalid(`<${type}> must hold text`);
}

function isBlank(v: unknown): boolean {
  return typeof v === "string" && v.trim() === "";
}

const ENTITY = /&(#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);?/g;
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the predefined entities and character references; anything else is not well formed. */
export function decodeText(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(ENTITY, (all, ref: string) => {
    if (!all.endsWith(";")) throw new NotWellFormed(`'&' not starting a reference`);
    if (ref[0] !== "#") {
      const ch = NAMED[ref];
      if (ch === undefined) throw new NotWellFormed(`undefined entity &${ref};`);
      return ch;
    }
    const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (!(code > 0 && code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
      throw new NotWellFormed(`bad character reference &${ref};`);
    }
    return String.fromCodePoint(code);
  });
}

/** The deepest element nesting, counted on the raw text (comments and CDATA skipped). */
function elementDepth(xml: string): number {
  let depth = 0, max = 0;
  for (let i = xml.indexOf("<"); i >= 0 && i < xml.length; i = xml.indexOf("<", i + 1)) {
    const next = xml[i + 1];
    if (next === "!") {
      const end = xml.startsWith("<!--", i) ? "-->" : xml.startsWith("<![CDATA[", i) ? "]]>" : ">";
      const j = xml.indexOf(end, i);
      if (j < 0) break;
      i = j;
    } else if (next === "?") {
      continue;
    } else if (next === "/") {
      depth--;
    } else {
      const close = xml.indexOf(">", i);
      if (close < 0) break;
      if (xml[close - 1] !== "/") depth++;
      if (depth > max) max = depth;
      i = close;
    }
  }
  return max;
}
