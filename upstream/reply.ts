// Reading an upstream's reply without changing it: the `result` (or the
// `error` object) is cut out of the reply text as it came, so numbers keep
// their spelling (OpenSIPS's `0.500000`, a 64-bit counter), strings their
// escapes and objects their member order. Only whitespace between tokens is
// dropped: Kamailio pretty-prints with newlines and tabs, and a FIFO reply
// must stay on one line for the clients that read one line.

export type UpstreamReply =
  | { kind: "result"; json: string }
  | { kind: "error"; json: string; code: number; message: string; data?: string }
  | { kind: "invalid"; why: string };

/** Parses one reply text of a JSON-RPC 2.0 server. */
export function readReply(text: string): UpstreamReply {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: "invalid", why: `it answered something that is not JSON: ${shown(text)}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { kind: "invalid", why: `it answered ${shown(text)}, not a JSON-RPC reply object` };
  }
  const o = value as Record<string, unknown>;
  const spans = memberSpans(text);
  if ("result" in o && spans.has("result")) {
    return { kind: "result", json: compact(text, spans.get("result")!) };
  }
  const e = o.error as Record<string, unknown> | undefined;
  if (
    e !== null && typeof e === "object" && !Array.isArray(e) && typeof e.code === "number" &&
    typeof e.message === "string" && spans.has("error")
  ) {
    return {
      kind: "error",
      json: compact(text, spans.get("error")!),
      code: e.code,
      message: e.message,
      data: e.data === undefined
        ? undefined
        : typeof e.data === "string"
        ? e.data
        : JSON.stringify(e.data),
    };
  }
  return { kind: "invalid", why: `its reply has neither a result nor an error: ${shown(text)}` };
}

function shown(text: string): string {
  const t = text.trim();
  return t === "" ? "(nothing)" : JSON.stringify(t.length > 200 ? `${t.slice(0, 200)}...` : t);
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  return i;
}

/** The index just after the string that starts at `i` (a `"`). */
function stringEnd(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i + 1;
  }
  return i;
}

/** The index just after the JSON value that starts at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return stringEnd(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; i < text.length; i++) {
      const d = text.charCodeAt(i);
      if (d === 0x22) {
        i = stringEnd(text, i) - 1;
      } else if (d === 0x7b || d === 0x5b) {
        depth++;
      } else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1;
      }
    }
    return i;
  }
  // A number or a literal: up to the next delimiter.
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    i++;
  }
  return i;
}

/**
 * Where the value of each member of the top-level object lies in `text`
 * (valid JSON, an object). A key given twice keeps its last place, as
 * JSON.parse does.
 */
export function memberSpans(text: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  let i = skipWs(text, 0) + 1;
  while (i < text.length) {
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== 0x22) break;
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, skipWs(text, keyEnd) + 1);
    const end = valueEnd(text, i);
    out.set(key, [i, end]);
    i = skipWs(text, end);
    if (text.charCodeAt(i) !== 0x2c) break;
    i++;
  }
  return out;
}

/** The value's text without whitespace between tokens; as it is when it has none. */
export function compact(text: string, [start, end]: [number, number]): string {
  const s = text.slice(start, end);
  if (!/[ \t\n\r]/.test(s)) return s;
  let out = "";
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      i = stringEnd(s, i) - 1;
    } else if (WS.has(c)) {
      out += s.slice(from, i);
      from = i + 1;
    }
  }
  return out + s.slice(from);
}
