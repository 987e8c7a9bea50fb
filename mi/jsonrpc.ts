// JSON-RPC 2.0 decoding and encoding, byte-compatible with OpenSIPS 3.x MI
// (docs/protocol.md, "Messages") plus sipmi's improvements: -32700 on every
// transport, exact id echo, batches, a depth limit.
//
// The hot path is one JSON.parse, a scan of the envelope's few keys and one
// string concatenation for the reply. Nothing here knows about transports or
// commands.

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
export const SERVER_ERROR = -32000;

// Command-level codes: OpenSIPS commands answer with HTTP-like codes and
// their own message (`{"code":404,"message":"unknown MI command"}`).
/** The request is understood but refused by this listener's command policy. */
export const FORBIDDEN = 403;
/** Something the request names does not exist (a command, a statistic, a NIC). */
export const NOT_FOUND = 404;
/** The command ran but the host or the daemon failed it (a file, a system call). */
export const COMMAND_FAILED = 500;

/** The fixed messages OpenSIPS sends for its JSON-RPC codes (mi/mi.h). */
export const MESSAGES: Readonly<Record<number, string>> = {
  [PARSE_ERROR]: "Parse error",
  [INVALID_REQUEST]: "Invalid Request",
  [METHOD_NOT_FOUND]: "Method not found",
  [INVALID_PARAMS]: "Invalid params",
  [INTERNAL_ERROR]: "Internal error",
  [SERVER_ERROR]: "Server error",
};

/** A command-level or protocol-level error that becomes a JSON-RPC error object. */
export class MiError extends Error {
  readonly code: number;
  readonly data: string | undefined;
  /** The error object as JSON text to send verbatim (a relayed error), when set. */
  readonly json: string | undefined;
  constructor(code: number, message?: string, data?: string, json?: string) {
    super(message ?? MESSAGES[code] ?? "Server error");
    this.name = "MiError";
    this.code = code;
    this.data = data;
    this.json = json;
  }
}

/**
 * A result that is JSON text already (a relayed reply's `result`, a
 * command's result encoded in the tuning worker, statistics groups encoded
 * once): the core sends it as it is instead of serialising a value, so its
 * bytes are kept. The text must be one valid, compact JSON value.
 */
export class JsonText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export function invalidParams(data: string): MiError {
  return new MiError(INVALID_PARAMS, MESSAGES[INVALID_PARAMS], data);
}

export type MiParams = unknown[] | Record<string, unknown>;

/** One well-formed request, ready to dispatch. */
export interface MiRequest {
  method: string;
  /** undefined when absent or empty (`[]`, `{}`): the command gets no params. */
  params: MiParams | undefined;
  /** The id as JSON text to echo; undefined for a notification. */
  idText: string | undefined;
}

/** A request that was refused before dispatch; `reply` is the full reply text. */
export interface DecodeError {
  code: number;
  reply: string;
}

export type Entry = MiRequest | DecodeError;

export interface Decoded {
  batch: boolean;
  entries: Entry[];
}

export interface DecodeLimits {
  maxDepth: number;
  maxBatch: number;
}

export function isDecodeError(e: Entry): e is DecodeError {
  return (e as DecodeError).reply !== undefined;
}

// ---------------------------------------------------------------- encoding

const HEAD = '{"jsonrpc":"2.0",';

export function resultReply(resultJson: string, idText: string): string {
  return HEAD + '"result":' + resultJson + ',"id":' + idText + "}";
}

export function errorObjectJson(code: number, message: string, data?: string): string {
  let s = '{"code":' + code + ',"message":' + JSON.stringify(message);
  if (data !== undefined) s += ',"data":' + JSON.stringify(data);
  return s + "}";
}

export function errorReply(
  code: number,
  message: string,
  data: string | undefined,
  idText: string,
): string {
  return HEAD + '"error":' + errorObjectJson(code, message, data) + ',"id":' + idText + "}";
}

export function miErrorReply(e: MiError, idText: string): string {
  if (e.json !== undefined) return HEAD + '"error":' + e.json + ',"id":' + idText + "}";
  return errorReply(e.code, e.message, e.data, idText);
}

export const PARSE_ERROR_REPLY = errorReply(PARSE_ERROR, "Parse error", undefined, "null");

function decodeError(code: number, data: string | undefined, idText = "null"): DecodeError {
  return { code, reply: errorReply(code, MESSAGES[code], data, idText) };
}

/** Joins member replies of a batch; null when every member was a notification. */
export function batchReply(replies: (string | null)[]): string | null {
  let out = "";
  for (const r of replies) {
    if (r === null) continue;
    out += out === "" ? "[" + r : "," + r;
  }
  return out === "" ? null : out + "]";
}

// ---------------------------------------------------------------- decoding

/** Decodes request text: a single request, a batch, or a parse error. */
export function decodeRequest(text: string, limits: DecodeLimits): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { batch: false, entries: [{ code: PARSE_ERROR, reply: PARSE_ERROR_REPLY }] };
  }
  if (tooDeep(value, limits.maxDepth)) {
    const data = `JSON nesting deeper than ${limits.maxDepth} levels (mi.max_depth)`;
    return { batch: false, entries: [decodeError(INVALID_REQUEST, data)] };
  }
  if (!Array.isArray(value)) {
    return { batch: false, entries: [validate(value, text)] };
  }
  if (value.length === 0) {
    // JSON-RPC 2.0: an empty batch is answered with one error, not an array.
    return { batch: false, entries: [decodeError(INVALID_REQUEST, undefined)] };
  }
  if (value.length > limits.maxBatch) {
    const data =
      `batch of ${value.length} requests exceeds the limit of ${limits.maxBatch} (mi.max_batch)`;
    return { batch: false, entries: [decodeError(INVALID_REQUEST, data)] };
  }
  const entries: Entry[] = new Array(value.length);
  // Members with numeric ids share one source-text parse (see numberIdText).
  const ids = new IdSources(text);
  for (let i = 0; i < value.length; i++) entries[i] = validate(value[i], text, i, ids);
  return { batch: true, entries };
}

/** Validates one parsed request object (docs/protocol.md, "Messages"). */
export function validate(
  value: unknown,
  text: string,
  batchIndex = -1,
  ids?: IdSources,
): Entry {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return decodeError(INVALID_REQUEST, undefined);
  }
  const obj = value as Record<string, unknown>;
  // Envelope member names match without regard to case; the first one wins.
  let jsonrpc: unknown, method: unknown, params: unknown, id: unknown;
  let hasJsonrpc = false, hasMethod = false, hasParams = false, hasId = false;
  for (const k in obj) {
    const n = k.length;
    if (n === 2) {
      if (!hasId && (k === "id" || k.toLowerCase() === "id")) {
        hasId = true;
        id = obj[k];
      }
    } else if (n === 6) {
      if (!hasMethod && (k === "method" || k.toLowerCase() === "method")) {
        hasMethod = true;
        method = obj[k];
      } else if (!hasParams && (k === "params" || k.toLowerCase() === "params")) {
        hasParams = true;
        params = obj[k];
      }
    } else if (n === 7 && !hasJsonrpc && (k === "jsonrpc" || k.toLowerCase() === "jsonrpc")) {
      hasJsonrpc = true;
      jsonrpc = obj[k];
    }
  }

  let idText: string | undefined;
  let idValid = true;
  if (hasId) {
    if (typeof id === "string") idText = JSON.stringify(id);
    else if (id === null) idText = "null";
    else if (typeof id === "number") idText = numberIdText(id, text, batchIndex, ids);
    else idValid = false;
  }
  const replyId = idText ?? "null";
  if (!idValid) return decodeError(INVALID_REQUEST, "id must be a string, a number or null");
  if (jsonrpc !== "2.0") return decodeError(INVALID_REQUEST, undefined, replyId);
  if (typeof method !== "string") return decodeError(INVALID_REQUEST, undefined, replyId);

  let p: MiParams | undefined;
  if (hasParams) {
    if (Array.isArray(params)) {
      p = params.length === 0 ? undefined : params;
    } else if (params !== null && typeof params === "object") {
      p = isEmptyObject(params) ? undefined : params as Record<string, unknown>;
    } else {
      return decodeError(INVALID_REQUEST, undefined, replyId);
    }
  }
  return { method, params: p, idText };
}

function isEmptyObject(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

// An id is echoed exactly as written. JSON.parse loses the spelling of
// numbers (1.50, 1e3, 12345678901234567890), so the source text is recovered:
// cheaply when exactly one `"id": <number>` occurs in the text and it denotes
// the parsed value, otherwise by a second parse with source-text access —
// one for the whole text, shared by every member of a batch, so a batch
// costs two parses at most, never one per member.
const ID_NUMBER = /"id"\s*:\s*(-?[0-9][0-9.eE+-]*)/gi;

function numberIdText(id: number, text: string, batchIndex: number, ids?: IdSources): string {
  ID_NUMBER.lastIndex = 0;
  const m1 = ID_NUMBER.exec(text);
  const m2 = m1 ? ID_NUMBER.exec(text) : null;
  if (m1 && !m2 && batchIndex <= 0 && Number(m1[1]) === id) return m1[1];
  return (ids ?? new IdSources(text)).of(batchIndex) ?? String(id);
}

type Reviver = (
  this: unknown,
  key: string,
  value: unknown,
  context?: { source?: string },
) => unknown;

/** The source text of numeric ids in a request text, parsed once when first asked. */
export class IdSources {
  readonly #text: string;
  #root: unknown;
  #sources: Map<object, string> | undefined;

  constructor(text: string) {
    this.#text = text;
  }

  /** The id's source in the request (batchIndex -1) or in one member of a batch. */
  of(batchIndex: number): string | undefined {
    if (this.#sources === undefined) {
      const sources = new Map<object, string>();
      const reviver: Reviver = function (key, value, context) {
        if (
          typeof value === "number" && key.length === 2 && key.toLowerCase() === "id" &&
          context?.source
        ) {
          if (!sources.has(this as object)) sources.set(this as object, context.source);
        }
        return value;
      };
      this.#root = JSON.parse(this.#text, reviver as Parameters<typeof JSON.parse>[1]);
      this.#sources = sources;
    }
    const holder = batchIndex >= 0 ? (this.#root as unknown[])[batchIndex] : this.#root;
    return typeof holder === "object" && holder !== null ? this.#sources.get(holder) : undefined;
  }
}

/** True when the value nests deeper than `max` arrays/objects. Bounded recursion. */
export function tooDeep(value: unknown, max: number): boolean {
  if (value === null || typeof value !== "object") return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && typeof v === "object" && tooDeep(v, max - 1)) return true;
    }
    return false;
  }
  for (const k in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === "object" && tooDeep(v, max - 1)) return true;
  }
  return false;
}
