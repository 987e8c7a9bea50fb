// Reply FIFOs of the FIFO transport: the client names a FIFO in reply_dir,
// the server opens it and writes the reply. The name comes from whoever can
// write the request FIFO, so it is treated as hostile (docs/protocol.md, "FIFO"):
//
// - a bare name without '.', '/', '\' or control characters, inside reply_dir;
// - lstat must show a FIFO (a symlink, a regular file or a device is refused
//   before anything is opened), the open uses O_NOFOLLOW and never O_CREAT or
//   O_TRUNC, and fstat must show the same FIFO with one link afterwards;
// - the open is O_WRONLY|O_NONBLOCK: it fails with ENXIO until the client has
//   the FIFO open for reading, so it is retried (after 1, 2, 4 ... up to
//   20 ms, by one timer for every waiting request) until reply_timeout_ms.
//   Clients that open their FIFO after writing the request (python
//   `opensips`) get their reply in about a millisecond; one that never opens
//   it costs a system call per try, and the waiting requests are bounded in
//   count and bytes (ReplyOpener);
// - the request FIFO itself is never a reply FIFO (it can lie in reply_dir:
//   the defaults /tmp/sipmi_fifo and /tmp/ do), or the reply would be read
//   back as a request;
//   (`Deno.open` for writing would block a pool thread until the client
//   opens, forever if it died: docs/architecture.md, "Deno facts relied on".)
// - the reply is written in pieces of at most PIPE_BUF bytes: each is atomic
//   on a non-blocking pipe, so EAGAIN (the client reads slowly) never loses
//   count of what was written, and the writer waits on a timer instead of
//   blocking the event loop.

import { lstatSync } from "node:fs";
import type { ReplyFifoIo } from "./fifo_io.ts";
import { errorCode, fileKind, PIPE_BUF } from "./os.ts";

const MAX_DELAY_MS = 20;

/** Why a reply name is refused, or undefined when it is acceptable. */
export function badReplyName(name: string): string | undefined {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e || c === 0x2f || c === 0x5c) {
      return `reply FIFO name '${name}' contains '.', '/' or '\\'`;
    }
    if (c < 0x20 || c === 0x7f) return `reply FIFO name contains a control character`;
  }
  return undefined;
}

export type OpenResult = { fd: number } | { refused: string } | { timeout: string };

/** Shared by the waits of one listener: set `cancelled` to end them all on their next timer. */
export interface WaitControl {
  cancelled: boolean;
}

/** lstat: the path must be a FIFO itself (never a symlink to one). */
function lstatFifo(path: string): { dev: number; ino: number } | string {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    return errorCode(e) === "ENOENT" ? `${path} does not exist` : `${path}: ${errorCode(e)}`;
  }
  if (st.isFIFO()) return { dev: st.dev, ino: st.ino };
  return `${path} is ${fileKind(st)}, not a FIFO`;
}

/** Errors of an open that may pass: no reader yet, or no descriptor free right now. */
const TRANSIENT = new Set(["ENXIO", "EMFILE", "ENFILE", "EINTR"]);

/**
 * One open attempt: the fd, "retry" (no reader yet, or out of descriptors
 * for the moment), or why it is refused. Nothing here throws: a client that
 * never opens its FIFO costs a system call per try, not an exception.
 */
function tryOpen(
  io: ReplyFifoIo,
  path: string,
  cpath: unknown,
  want: { dev: number; ino: number },
): number | "retry" | string {
  const fd = io.open(cpath);
  if (typeof fd === "string") return openRefusal(path, fd);
  const st = io.fileId(fd);
  if (st === undefined) {
    io.close(fd);
    return `cannot fstat ${path}`;
  }
  if (!st.fifo || st.dev !== want.dev || st.ino !== want.ino) {
    io.close(fd);
    return `${path} was replaced while opening it`;
  }
  if (st.nlink !== 1) {
    io.close(fd);
    return `${path} has ${st.nlink} links`;
  }
  return fd;
}

function openRefusal(path: string, code: string): "retry" | string {
  if (TRANSIENT.has(code)) return "retry";
  if (code === "ELOOP") return `${path} is a symbolic link, not a FIFO`;
  if (code === "ENOENT") return `${path} was removed`;
  return `cannot open ${path}: ${code}`;
}

export interface OpenerOptions {
  /** The I/O path's calls (fifo_io.ts). */
  io: ReplyFifoIo;
  /** How long a client has to open its reply FIFO (`fifo.reply_timeout_ms`). */
  timeoutMs: number;
  /** Most requests waiting for their client at once (`fifo.max_pending`). */
  maxWaiting: number;
  /** Most bytes of request text held by them (`fifo.max_pending_bytes`). */
  maxBytes: number;
  /** True for the request FIFO itself (or one being drained): never a reply FIFO. */
  isRequestFifo(id: { dev: number; ino: number }): boolean;
}

/** A request waiting for its client to open the reply FIFO. */
interface Waiting {
  path: string;
  cpath: unknown;
  want: { dev: number; ino: number };
  bytes: number;
  deadline: number;
  nextAt: number;
  delay: number;
  resolve: ((r: OpenResult) => void) | undefined;
}

/**
 * Opens clients' reply FIFOs for one listener. A client that is already
 * reading gets its FIFO at once. The others wait in one queue served by one
 * timer: each is tried again after 1, 2, 4 ... up to 20 ms until
 * `timeoutMs`, then given up and released at once. The queue is bounded
 * in count and in the bytes of request text it holds; when full, the
 * request that has waited longest is given up for the new one: clients
 * that never open their FIFO cannot lock out those that do.
 */
export class ReplyOpener {
  readonly #o: OpenerOptions;
  #queue: Waiting[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  constructor(o: OpenerOptions) {
    this.#o = o;
  }

  /** Requests waiting for their client now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Opens `path` for writing: a plain value when it can be decided now
   * (opened, or refused), a promise when the client has not opened it yet.
   * `bytes` is the size of what the request keeps while it waits.
   */
  open(path: string, bytes: number): OpenResult | Promise<OpenResult> {
    const want = lstatFifo(path);
    if (typeof want === "string") return { refused: want };
    if (this.#o.isRequestFifo(want)) {
      return { refused: `${path} is the request FIFO itself, not a reply FIFO` };
    }
    const cpath = this.#o.io.prepare(path);
    const first = tryOpen(this.#o.io, path, cpath, want);
    if (typeof first === "number") return { fd: first };
    if (first !== "retry") return { refused: first };
    return new Promise((resolve) => {
      const now = performance.now();
      this.#makeRoom(bytes);
      this.#queue.push({
        path,
        cpath,
        want,
        bytes,
        deadline: now + this.#o.timeoutMs,
        // The first try again in the next turn of the event loop.
        nextAt: now,
        delay: 0,
        resolve,
      });
      this.#bytes += bytes;
      this.#arm(now);
    });
  }

  /** Gives every waiting request up (the listener stops). */
  cancelAll(why: string): void {
    for (const w of this.#queue) this.#finish(w, { timeout: why });
    this.#queue = [];
    this.#bytes = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Evicts the longest waiting until one more request (of `bytes`) fits. */
  #makeRoom(bytes: number): void {
    const o = this.#o;
    let evicted = 0;
    while (
      this.#queue.length > 0 &&
      (this.#queue.length >= o.maxWaiting || this.#bytes + bytes > o.maxBytes)
    ) {
      const w = this.#queue.shift()!;
      this.#bytes -= w.bytes;
      evicted++;
      this.#finish(w, {
        timeout: `given up for a newer request: more than ${o.maxWaiting} requests ` +
          `(or ${o.maxBytes} bytes) wait for their clients (fifo.max_pending, fifo.max_pending_bytes)`,
      });
    }
  }

  #finish(w: Waiting, r: OpenResult): void {
    const resolve = w.resolve;
    w.resolve = undefined;
    resolve?.(r);
  }

  #arm(at: number): void {
    if (at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#tick, Math.max(0, at - performance.now()));
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    // A little ahead: a timer may fire a fraction of a millisecond early.
    const now = performance.now() + 0.5;
    let next = Infinity;
    const keep: Waiting[] = [];
    for (const w of this.#queue) {
      if (w.resolve === undefined) continue;
      if (w.nextAt <= now) {
        const r = tryOpen(this.#o.io, w.path, w.cpath, w.want);
        if (typeof r === "number") {
          this.#finish(w, { fd: r });
          this.#bytes -= w.bytes;
          continue;
        }
        if (r !== "retry") {
          this.#finish(w, { refused: r });
          this.#bytes -= w.bytes;
          continue;
        }
        if (now >= w.deadline) {
          const why = `nobody opened ${w.path} for reading within ${this.#o.timeoutMs} ms`;
          this.#finish(w, { timeout: why });
          this.#bytes -= w.bytes;
          continue;
        }
        w.delay = Math.min(Math.max(1, w.delay * 2), MAX_DELAY_MS);
        w.nextAt = Math.min(now + w.delay, w.deadline);
      }
      next = Math.min(next, w.nextAt);
      keep.push(w);
    }
    this.#queue = keep;
    if (next < Infinity) this.#arm(next);
  };
}

/**
 * Writes the whole reply and closes the FIFO. Returns undefined when done
 * synchronously, or a promise when the client reads slower than we write;
 * either way the result is an error text or undefined. The fd is always closed.
 */
export function writeReply(
  io: ReplyFifoIo,
  fd: number,
  bytes: Uint8Array<ArrayBuffer>,
  timeoutMs: number,
  ctl: WaitControl,
): string | undefined | Promise<string | undefined> {
  let off = 0;
  const step = (): "again" | string | undefined => {
    while (off < bytes.length) {
      const end = Math.min(off + PIPE_BUF, bytes.length);
      const n = io.write(fd, bytes.subarray(off, end));
      if (typeof n === "number") off += n;
      else if (n === "EAGAIN" || n === "EINTR") return "again";
      else return `write failed: ${n}`; // EPIPE: the client went away
    }
    return undefined;
  };
  const close = (r: string | undefined) => {
    io.close(fd);
    return r;
  };
  const first = step();
  if (first !== "again") return close(first);
  return new Promise((resolve) => {
    let delay = 1, idleSince = performance.now(), lastOff = off;
    const again = () => {
      if (ctl.cancelled) return resolve(close("the listener stopped"));
      const r = step();
      if (r !== "again") return resolve(close(r));
      if (off !== lastOff) {
        lastOff = off;
        idleSince = performance.now();
        delay = 1;
      } else if (performance.now() - idleSince > timeoutMs) {
        return resolve(close(`the client read nothing for ${timeoutMs} ms`));
      } else delay = Math.min(delay * 2, MAX_DELAY_MS);
      setTimeout(again, delay);
    };
    setTimeout(again, delay);
  });
}
