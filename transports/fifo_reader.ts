// One open request FIFO and the loop reading it, for the FIFO listener.
//
// The FIFO is opened read+write, so the reader never sees end of file when
// clients close, and non-blocking: readiness is waited for in a pool thread
// (burst.ts), never on the event loop. A second, write-only descriptor lets
// the listener stop its own reader with a marker that arrives after every
// request already written (fifo_framing.ts).
//
// The reader also keeps the partial timeout: while the framer holds an
// unfinished request, the wait is cut short so that, once no byte has
// arrived for `fifo.partial_timeout_ms`, the request is answered -32700
// instead of waiting for the next client's bytes (docs/protocol.md, "FIFO").

import { closeSync, constants, openSync, writeSync } from "node:fs";
import { closeFd, openFifoReadWrite, pollSet, readNow } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { type BurstSource, serveBursts } from "./burst.ts";
import { FifoFramer, type FramerSink } from "./fifo_framing.ts";
import { within } from "./listener.ts";
import { randomHex } from "./os.ts";

const READ_BUFFER = 64 * 1024;
/** The longest a readiness wait lasts before the loop checks whether it was closed. */
const POLL_TIMEOUT_MS = 500;

const encoder = new TextEncoder();

export interface FileId {
  dev: number;
  ino: number;
}

export interface ReaderOptions {
  maxRequestBytes: number;
  busyPollUs: number;
  /** No byte for this long ends an unfinished request (`fifo.partial_timeout_ms`). */
  partialTimeoutMs: number;
}

export class FifoReader {
  readonly id: FileId;
  readonly done: Promise<void>;
  readonly #fd: number;
  readonly #ctl: number;
  readonly #marker: Uint8Array;
  #closed = false;
  #stopping = false;
  /** Why the loop ended without being asked to: the listener reopens the FIFO. */
  failure: string | undefined;

  constructor(
    path: string,
    id: FileId,
    sink: FramerSink,
    opts: ReaderOptions,
    onError: (e: unknown) => void,
  ) {
    this.id = id;
    this.#fd = openFifoReadWrite(path);
    try {
      // Succeeds at once: we are a reader of this FIFO now.
      this.#ctl = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      closeFd(this.#fd);
      throw e;
    }
    this.#marker = encoder.encode("\0" + randomHex(16) + "\n");
    const framer = new FifoFramer(sink, {
      maxRequestBytes: opts.maxRequestBytes,
      marker: this.#marker,
    });
    this.done = this.#loop(framer, opts, onError);
  }

  async #loop(framer: FifoFramer, opts: ReaderOptions, onError: (e: unknown) => void) {
    const buf = new Uint8Array(READ_BUFFER);
    const partialMs = opts.partialTimeoutMs;
    let lastByte = 0;
    const src: BurstSource = {
      pollSet: pollSet([this.#fd]),
      done: () => framer.stopped || this.#closed,
      waitMs: () => {
        if (!framer.partial) return POLL_TIMEOUT_MS;
        const left = partialMs - (performance.now() - lastByte);
        return Math.max(1, Math.min(POLL_TIMEOUT_MS, Math.ceil(left)));
      },
      waited: (ready) => {
        if (ready || !framer.partial || performance.now() - lastByte < partialMs) return;
        try {
          framer.expire();
        } catch (e) {
          onError(e);
        }
      },
      readOnce: () => {
        const n = readNow(this.#fd, buf);
        if (n <= 0) return n;
        lastByte = performance.now();
        try {
          // The framer copies what it keeps, so the buffer is reused.
          framer.push(buf.subarray(0, n));
        } catch (e) {
          // A bug in handling one request must not stop the FIFO.
          onError(e);
        }
        return n;
      },
    };
    try {
      const how = await serveBursts(src, opts.busyPollUs);
      if (how === "ended" && !this.#stopping) this.failure = "unexpected end of file";
    } catch (e) {
      // A read error.
      if (!this.#stopping) this.failure = errText(e);
    } finally {
      this.#close();
    }
  }

  /**
   * Asks the loop to stop after everything already in the pipe: writes the
   * marker (retrying while the pipe is full) and resolves when the loop ended
   * or the time is up, then closes the FIFO either way.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) {
      try {
        writeSync(this.#ctl, this.#marker);
        break;
      } catch {
        // EAGAIN: the pipe is full of requests still to be read.
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    await within(this.done, deadline - Date.now());
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.#fd);
    try {
      closeSync(this.#ctl);
    } catch {
      // Already closed.
    }
  }
}
