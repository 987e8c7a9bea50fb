// Reply FIFOs of the FIFO transport: the client names a FIFO in reply_dir,
// the server opens it and writes the reply. The name comes from whoever can
// write the request FIFO, so it is treated as hostile (docs/protocol.md, "FIFO"):
//
// - a bare name without '.', '/', '\' or control characters, inside reply_dir;
// - lstat must show a FIFO (a symlink, a regular file or a device is refused
//   before anything is opened), the open uses O_NOFOLLOW and never O_CREAT or
//   O_TRUNC, and fstat must show the same FIFO with one link afterwards;
// - the open is O_WRONLY|O_NONBLOCK: it fails with ENXIO until the client has
//   the FIFO open for reading, so it is retried on timers (first after 0 ms,
//   then 1, 2, 4 ... up to 20 ms) until reply_timeout_ms. Clients that open
//   their FIFO after writing the request (python `opensips`) get their reply
//   in about a millisecond; one that never opens it costs timers only.
//   (`Deno.open` for writing would block a pool thread until the client
//   opens, forever if it died: docs/architecture.md, "Deno facts relied on".)
// - the reply is written in pieces of at most PIPE_BUF bytes: each is atomic
//   on a non-blocking pipe, so EAGAIN (the client reads slowly) never loses
//   count of what was written, and the writer waits on a timer instead of
//   blocking the event loop.

import { closeSync, constants, fstatSync, lstatSync, openSync, writeSync } from "node:fs";
import { errorCode, fileKind, PIPE_BUF } from "./os.ts";

const OPEN_FLAGS = constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;
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

/** One open attempt: the fd, "retry" (no reader yet), or why it is refused. */
function tryOpen(path: string, want: { dev: number; ino: number }): number | "retry" | string {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (e) {
    const c = errorCode(e);
    if (c === "ENXIO") return "retry";
    if (c === "ELOOP") return `${path} is a symbolic link, not a FIFO`;
    if (c === "ENOENT") return `${path} was removed`;
    return `cannot open ${path}: ${c}`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFIFO() || st.dev !== want.dev || st.ino !== want.ino) {
      closeSync(fd);
      return `${path} was replaced while opening it`;
    }
    if (st.nlink !== 1) {
      closeSync(fd);
      return `${path} has ${st.nlink} links`;
    }
  } catch (e) {
    closeSync(fd);
    return `cannot fstat ${path}: ${errorCode(e)}`;
  }
  return fd;
}

/**
 * Opens a client's reply FIFO for writing. Synchronous when the client is
 * already reading (the result comes back as a plain value), a promise when it
 * has to wait for the client; refused at once for anything that is not the
 * client's FIFO.
 */
export function openReplyFifo(
  path: string,
  timeoutMs: number,
  ctl: WaitControl,
): OpenResult | Promise<OpenResult> {
  const want = lstatFifo(path);
  if (typeof want === "string") return { refused: want };
  const first = tryOpen(path, want);
  if (typeof first === "number") return { fd: first };
  if (first !== "retry") return { refused: first };
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve) => {
    let delay = 0;
    const attempt = () => {
      if (ctl.cancelled) return resolve({ timeout: "the listener stopped" });
      const r = tryOpen(path, want);
      if (typeof r === "number") return resolve({ fd: r });
      if (r !== "retry") return resolve({ refused: r });
      const left = deadline - performance.now();
      if (left <= 0) {
        return resolve({ timeout: `nobody opened ${path} for reading within ${timeoutMs} ms` });
      }
      delay = Math.min(delay === 0 ? 1 : delay * 2, MAX_DELAY_MS, Math.ceil(left));
      setTimeout(attempt, delay);
    };
    setTimeout(attempt, 0);
  });
}

/**
 * Writes the whole reply and closes the FIFO. Returns undefined when done
 * synchronously, or a promise when the client reads slower than we write;
 * either way the result is an error text or undefined. The fd is always closed.
 */
export function writeReply(
  fd: number,
  bytes: Uint8Array,
  timeoutMs: number,
  ctl: WaitControl,
): string | undefined | Promise<string | undefined> {
  let off = 0;
  const step = (): "again" | string | undefined => {
    while (off < bytes.length) {
      const end = Math.min(off + PIPE_BUF, bytes.length);
      try {
        off += writeSync(fd, bytes, off, end - off);
      } catch (e) {
        if (errorCode(e) === "EAGAIN") return "again";
        return `write failed: ${errorCode(e)}`; // EPIPE: the client went away
      }
    }
    return undefined;
  };
  const close = (r: string | undefined) => {
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing left to release.
    }
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
