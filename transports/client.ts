// The client side of the MI transports, used by `sipmi mi`, `tune --via` and
// the upstream relay: one request text out, the reply text back. The framing
// is OpenSIPS's, so these work against a real OpenSIPS too; the FIFO also
// speaks Kamailio's (the reply FIFO named inside the JSON). Every call is
// bounded by a timeout (and an optional abort signal) and removes whatever it
// created — its reply FIFO, its socket and temp dir — also on error, timeout
// and abort.
//
// Failures to reach or hear the server throw TransportError; what the
// server answers (a result or a JSON-RPC error) is returned as is.

import { closeSync, constants, lstatSync, openSync, readSync, writeSync } from "node:fs";
import { geteuid, mkfifo } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { errorCode, PIPE_BUF, randomHex, UDP_MAX_PAYLOAD } from "./os.ts";

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransportError";
  }
}

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/**
 * Room for a unix datagram reply: the server sends a reply whole when it fits
 * its socket's send buffer, which the kernel caps at net.core.wmem_max.
 */
const UNIX_REPLY_MAX = 8 * 1024 * 1024;

/**
 * Runs `body` with a deadline: `cancel` is called once when the timeout
 * passes or the signal aborts, and must make `body` settle (close what it
 * waits on). Rejects with TransportError naming which of the two happened.
 */
async function bounded<T>(
  opts: CallOptions,
  cancel: () => void,
  body: () => Promise<T>,
): Promise<T> {
  let why = "";
  const stop = (reason: string) => {
    if (why) return;
    why = reason;
    cancel();
  };
  const timer = setTimeout(() => stop(`no reply within ${opts.timeoutMs} ms`), opts.timeoutMs);
  const onAbort = () => stop("interrupted");
  opts.signal?.addEventListener("abort", onAbort);
  try {
    if (opts.signal?.aborted) stop("interrupted");
    const v = await body();
    if (why) throw new TransportError(why);
    return v;
  } catch (e) {
    if (why) throw new TransportError(why);
    throw e;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

// ------------------------------------------------------------------ FIFO

/**
 * How a FIFO request names its reply FIFO: OpenSIPS's `:name:{json}`, or
 * Kamailio jsonrpcs's `"reply_name"` member in the JSON object.
 */
export type FifoFraming = "opensips" | "kamailio";

export interface FifoCallOptions extends CallOptions {
  /** The server's reply_dir: the request carries only a name inside it. */
  replyDir: string;
  /** Default `opensips`. */
  framing?: FifoFraming;
}

/**
 * Kamailio reads its FIFO into an 8 KiB buffer (JSONRPC_BUF_IN_SIZE); a
 * longer request is cut and the rest read as the next one.
 */
const KAMAILIO_FIFO_MAX = 8191;

/**
 * A request in Kamailio's FIFO framing. Kamailio finds the end of the JSON by
 * counting braces outside strings, and takes a `"` after a backslash for an
 * escaped quote, so a string ending in an escaped backslash (`"a\\"`) would
 * never end: backslashes go as `\u005c`, which means the same. `request`
 * is compact JSON text from JSON.stringify, where every `\\` is one escape.
 */
function kamailioFraming(request: string, name: string): string {
  const body = request.trimEnd();
  if (!body.startsWith("{") || !body.endsWith("}")) {
    throw new TransportError("Kamailio's FIFO takes one JSON object per request");
  }
  const inner = body.slice(1, -1).trim();
  const text = `{${inner}${inner === "" ? "" : ","}"reply_name":"${name}"}`
    .replaceAll("\\\\", "\\u005c");
  const size = encoder.encode(text).length;
  if (size > KAMAILIO_FIFO_MAX) {
    throw new TransportError(
      `request of ${size} bytes is longer than Kamailio's FIFO reads (${KAMAILIO_FIFO_MAX} bytes); use its UDP or HTTP transport`,
    );
  }
  return text + "\n";
}

/**
 * One request over an OpenSIPS-style FIFO. Our reply FIFO must sit in the
 * server's reply_dir (the protocol carries a bare name), so it gets an
 * unguessable name there, mode 0600 when the server runs as us or we are
 * root (0622 otherwise, so the server can write it), and is removed at the
 * end whatever happens.
 */
export async function fifoCall(
  server: string,
  request: string,
  opts: FifoCallOptions,
): Promise<string> {
  let serverUid: number;
  try {
    const st = lstatSync(server);
    if (!st.isFIFO()) throw new TransportError(`${server} is not a FIFO`);
    serverUid = st.uid;
  } catch (e) {
    if (e instanceof TransportError) throw e;
    if (errorCode(e) === "ENOENT") {
      throw new TransportError(`${server} does not exist (is the MI daemon running?)`);
    }
    throw new TransportError(`cannot use ${server}: ${errText(e)}`);
  }
  const name = `sipmi_mi_reply_${Deno.pid}_${randomHex(8)}`;
  const path = `${opts.replyDir.replace(/\/+$/, "")}/${name}`;
  const framed = opts.framing === "kamailio"
    ? kamailioFraming(request, name)
    : `:${name}:${request}\n`;
  try {
    mkfifo(path, 0o600);
    const euid = geteuid();
    Deno.chmodSync(path, euid === 0 || euid === serverUid ? 0o600 : 0o622);
    // As root, the FIFO goes to the server's user, who has to open it for writing.
    if (euid === 0 && serverUid !== 0) Deno.chownSync(path, serverUid, null);
  } catch (e) {
    throw new TransportError(`cannot create the reply FIFO ${path}: ${errText(e)}`);
  }
  let fd: number | undefined;
  try {
    // Our read end is open before the request is written, so the server's
    // first open succeeds. It is non-blocking and polled: a blocking open
    // could miss a server that answered before the open reached the kernel,
    // and could not be cancelled. Before the server opens the FIFO a read
    // gives 0 (no writer yet); once it has written, 0 means the reply ended.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const rfd = fd;
    let cancelled = false;
    return await bounded(opts, () => cancelled = true, async () => {
      await sendToFifo(server, encoder.encode(framed), () => cancelled);
      const chunks: Uint8Array[] = [];
      const buf = new Uint8Array(64 * 1024);
      let delay = 0;
      while (!cancelled) {
        let n: number;
        try {
          n = readSync(rfd, buf);
        } catch (e) {
          if (errorCode(e) !== "EAGAIN") throw e;
          n = -1; // the server has it open and has not written yet
        }
        if (n > 0) {
          chunks.push(buf.slice(0, n));
          delay = 0;
          continue;
        }
        if (n === 0 && chunks.length > 0) return decoder.decode(concat(chunks));
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay === 0 ? 1 : delay * 2, 20);
      }
      throw new TransportError("cancelled");
    });
  } catch (e) {
    if (e instanceof TransportError) throw e;
    throw new TransportError(errText(e));
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      Deno.removeSync(path);
    } catch {
      // Removed already.
    }
  }
}

/**
 * Writes one request into the server FIFO without blocking on a dead or
 * stalled server: a full pipe is waited out on timers until `cancelled`
 * (the call's deadline). Requests of one process to one FIFO are written
 * one after another, so the pieces of a long one are never mixed.
 */
function sendToFifo(server: string, bytes: Uint8Array, cancelled: () => boolean): Promise<void> {
  const prev = writing.get(server) ?? Promise.resolve();
  const mine = prev.then(() => writeToFifo(server, bytes, cancelled));
  const settled = mine.then(() => {}, () => {});
  writing.set(server, settled);
  void settled.then(() => {
    if (writing.get(server) === settled) writing.delete(server);
  });
  return mine;
}

const writing = new Map<string, Promise<void>>();

async function writeToFifo(
  server: string,
  bytes: Uint8Array,
  cancelled: () => boolean,
): Promise<void> {
  if (cancelled()) throw new TransportError("cancelled");
  let fd: number;
  try {
    fd = openSync(server, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (errorCode(e) === "ENXIO") {
      throw new TransportError(`no process reads ${server} (is the MI daemon running?)`);
    }
    throw new TransportError(`cannot open ${server}: ${errText(e)}`);
  }
  try {
    // Pieces of PIPE_BUF are atomic: a request that fits is never mixed
    // with another client's. A full pipe (the server stopped reading) is
    // waited out on timers, never by blocking the event loop.
    let off = 0, delay = 1;
    while (off < bytes.length) {
      try {
        off += writeSync(fd, bytes, off, Math.min(PIPE_BUF, bytes.length - off));
        delay = 1;
      } catch (e) {
        if (errorCode(e) !== "EAGAIN") {
          throw new TransportError(`cannot write to ${server}: ${errText(e)}`);
        }
        if (cancelled()) {
          throw new TransportError(`${server} is full: its reader does not read`);
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 20);
      }
    }
  } finally {
    closeSync(fd);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

// ------------------------------------------------------------------ datagram

function checkUdpSize(bytes: Uint8Array): void {
  if (bytes.length > UDP_MAX_PAYLOAD) {
    throw new TransportError(
      `request of ${bytes.length} bytes does not fit in a UDP datagram (${UDP_MAX_PAYLOAD} bytes); use --unix, --fifo or --http`,
    );
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/**
 * UDP sockets kept open between calls to one server (the upstream relay),
 * so a call does not pay for opening and closing one: a call takes an idle
 * socket or opens one, and gives it back only after a clean reply (a socket
 * whose call failed or timed out is closed, so a late reply never meets the
 * next call).
 */
export class UdpSockets {
  readonly #idle: Deno.DatagramConn[] = [];
  readonly #buffers = new WeakMap<Deno.DatagramConn, Uint8Array>();
  #closed = false;

  /** Most sockets kept idle; more are closed as they come back. */
  constructor(readonly maxIdle = 16) {}

  take(): Deno.DatagramConn | undefined {
    return this.#idle.pop();
  }

  /** The receive buffer of a socket of this pool (kept with it: 64 kB is not free to allocate). */
  buffer(conn: Deno.DatagramConn): Uint8Array {
    let b = this.#buffers.get(conn);
    if (b === undefined) this.#buffers.set(conn, b = new Uint8Array(UDP_MAX_PAYLOAD + 1));
    return b;
  }

  give(conn: Deno.DatagramConn): void {
    if (this.#closed || this.#idle.length >= this.maxIdle) closeQuietly(conn);
    else this.#idle.push(conn);
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) closeQuietly(c);
  }
}

function closeQuietly(conn: Deno.DatagramConn): void {
  try {
    conn.close();
  } catch {
    // Closed already (by a timeout).
  }
}

export interface UdpCallOptions extends CallOptions {
  /** Reuse sockets between calls (see UdpSockets). */
  sockets?: UdpSockets;
}

/** One request over UDP; the reply is the first datagram from the server's port. */
export async function udpCall(
  host: string,
  port: number,
  request: string,
  opts: UdpCallOptions,
): Promise<string> {
  const bytes = encoder.encode(request);
  checkUdpSize(bytes);
  const v6 = host.includes(":");
  const target = host === "localhost" ? "127.0.0.1" : host;
  const bindHost = isLoopback(host) ? (v6 ? "::1" : "127.0.0.1") : (v6 ? "::" : "0.0.0.0");
  let conn = opts.sockets?.take();
  if (conn === undefined) {
    try {
      conn = Deno.listenDatagram({ transport: "udp", hostname: bindHost, port: 0 });
    } catch (e) {
      throw new TransportError(`cannot open a UDP socket: ${errText(e)}`);
    }
  }
  const c = conn;
  let clean = false;
  try {
    const reply = await bounded(opts, () => closeQuietly(c), async () => {
      try {
        await c.send(bytes, { transport: "udp", hostname: target, port });
      } catch (e) {
        throw new TransportError(`cannot send: ${errText(e)}`);
      }
      const buf = opts.sockets?.buffer(c) ?? new Uint8Array(UDP_MAX_PAYLOAD + 1);
      while (true) {
        const [data, from] = await c.receive(buf);
        if (from.transport === "udp" && from.port === port) return decoder.decode(data);
      }
    });
    clean = true;
    return reply;
  } finally {
    if (clean && opts.sockets) opts.sockets.give(c);
    else closeQuietly(c);
  }
}

/**
 * One request over a unix datagram socket. The server replies to the
 * sender's address, so we bind our own socket in a private temp dir. Unix
 * datagrams are not limited to UDP's 65,507 bytes: the kernel refuses one
 * larger than our socket's send buffer (EMSGSIZE).
 */
export async function unixCall(path: string, request: string, opts: CallOptions): Promise<string> {
  const bytes = encoder.encode(request);
  const dir = await Deno.makeTempDir({ prefix: "sipmi_mi_" });
  let conn: Deno.DatagramConn | undefined;
  try {
    try {
      conn = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/reply.sock` });
    } catch (e) {
      throw new TransportError(`cannot bind a reply socket in ${dir}: ${errText(e)}`);
    }
    const c = conn;
    return await bounded(opts, () => c.close(), async () => {
      try {
        await c.send(bytes, { transport: "unixpacket", path });
      } catch (e) {
        throw new TransportError(
          e instanceof Deno.errors.NotFound
            ? `${path} does not exist (is the MI daemon running?)`
            : e instanceof Deno.errors.ConnectionRefused
            ? `nothing receives on ${path} (is the MI daemon running?)`
            : /os error 90\b/.test(errText(e)) // EMSGSIZE
            ? `request of ${bytes.length} bytes is larger than a unix datagram can be here (the socket send buffer); use --fifo or --http`
            : `cannot send: ${errText(e)}`,
        );
      }
      const [data] = await c.receive(new Uint8Array(UNIX_REPLY_MAX));
      return decoder.decode(data);
    });
  } finally {
    try {
      conn?.close();
    } catch {
      // Closed by the timeout.
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ------------------------------------------------------------------ HTTP

function isJsonRpcReply(text: string): boolean {
  try {
    const r = JSON.parse(text);
    return r !== null && typeof r === "object" && r.jsonrpc === "2.0" &&
      ("result" in r || "error" in r);
  } catch {
    return false;
  }
}

/** The body if it ends within a moment, else what is there then (the rest is dropped). */
async function bodyPromptly(res: Response, ctl: AbortController): Promise<string> {
  if (res.body === null) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  const timer = setTimeout(() => reader.cancel().catch(() => {}), 200);
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } catch {
    // Cancelled or cut off: keep what came.
  } finally {
    clearTimeout(timer);
    if (ctl.signal.aborted) chunks.length = 0;
  }
  return decoder.decode(concat(chunks));
}

export interface HttpCallOptions extends CallOptions {
  token?: string;
  /**
   * The server answers JSON-RPC errors with an HTTP error status and the
   * reply as the body (Kamailio's xhttp: 400, 500): return such a body as the
   * reply instead of failing.
   */
  repliesOnErrorStatus?: boolean;
}

/** One request over HTTP POST; any status but 200 is a transport failure. */
export async function httpCall(
  url: string,
  request: string,
  opts: HttpCallOptions,
): Promise<string> {
  const ctl = new AbortController();
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return await bounded(opts, () => ctl.abort(), async () => {
    let res: Response;
    try {
      res = await fetch(url, { method: "POST", headers, body: request, signal: ctl.signal });
    } catch (e) {
      if (ctl.signal.aborted) throw e;
      // fetch says "fetch failed"; the cause says why (connection refused, ...).
      const cause = (e as { cause?: unknown }).cause;
      throw new TransportError(`cannot reach the server: ${errText(cause ?? e)}`);
    }
    if (res.status === 200) return await res.text();
    // OpenSIPS sends its error statuses chunked without the last chunk: the
    // status says enough, the body is read only while it comes promptly.
    const text = await bodyPromptly(res, ctl);
    if (opts.repliesOnErrorStatus && isJsonRpcReply(text)) return text;
    let detail = text.trim().slice(0, 500);
    try {
      const j = JSON.parse(text) as { error?: { message?: string; data?: string } };
      if (j.error) detail = j.error.data ?? j.error.message ?? detail;
    } catch {
      // Not JSON: show the text.
    }
    throw new TransportError(`HTTP ${res.status} ${res.statusText}${detail ? `: ${detail}` : ""}`);
  });
}

// ------------------------------------------------------------------ targets

/** One MI server to call, with what each transport needs besides the address. */
export type Target =
  | { kind: "fifo"; path: string; replyDir: string; framing?: FifoFraming }
  | { kind: "udp"; host: string; port: number; sockets?: UdpSockets }
  | { kind: "unix"; path: string }
  | { kind: "http"; url: string; token: string; repliesOnErrorStatus?: boolean };

/** Sends one request text; resolves with the reply text or throws TransportError. */
export function callTarget(t: Target, request: string, opts: CallOptions): Promise<string> {
  switch (t.kind) {
    case "fifo":
      return fifoCall(t.path, request, { ...opts, replyDir: t.replyDir, framing: t.framing });
    case "udp":
      return udpCall(t.host, t.port, request, { ...opts, sockets: t.sockets });
    case "unix":
      return unixCall(t.path, request, opts);
    case "http":
      return httpCall(t.url, request, {
        ...opts,
        token: t.token,
        repliesOnErrorStatus: t.repliesOnErrorStatus,
      });
  }
}

export function describeTarget(t: Target): string {
  switch (t.kind) {
    case "fifo":
      return `fifo:${t.path}`;
    case "udp":
      return `udp:${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
    case "unix":
      return `unix:${t.path}`;
    case "http":
      return t.url;
  }
}
