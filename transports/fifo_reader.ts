// One open request FIFO and the loop reading it, for the FIFO listener.
// What both I/O paths share is here (RequestReaderBase): the FIFO opened
// read+write, so the reader never sees end of file when clients close; a
// second, write-only descriptor that lets the listener stop its own reader
// with a marker that arrives after every request already written
// (fifo_framing.ts); the partial timeout: while the framer holds an
// unfinished request, the wait is cut short so that, once no byte has
// arrived for `fifo.partial_timeout_ms`, the request is answered -32700
// instead of waiting for the next client's bytes (docs/protocol.md, "FIFO").
//
// FifoReader is the FFI path: readiness is waited for in a pool thread
// (burst.ts), never on the event loop, then reads without waiting. The Deno
// path is in fifo_deno.ts.

import { closeSync, constants, openSync, writeSync } from "node:fs";
import { closeFd, openFifoReadWrite, pollSet, readNow } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { type BurstSource, serveBursts } from "./burst.ts";
import { FifoFramer } from "./fifo_framing.ts";
import type { FileId, ReaderOptions, ReaderSetup, RequestReader } from "./fifo_io.ts";
import { within } from "./listener.ts";
import { randomHex } from "./os.ts";

export const READ_BUFFER = 64 * 1024;
/** The longest a readiness wait lasts before the loop checks whether it was closed. */
const POLL_TIMEOUT_MS = 500;

const encoder = new TextEncoder();

/** The stop marker, the control descriptor and the end of a reader, for both paths. */
export abstract class RequestReaderBase implements RequestReader {
  readonly id: FileId;
  readonly done: Promise<void>;
  readonly #ctl: number;
  readonly #marker: Uint8Array;
  #closed = false;
  protected stopping = false;
  failure: string | undefined;

  /**
   * `openInput` opens the FIFO for reading (read+write) and returns what
   * closes it again.
   */
  constructor(setup: ReaderSetup, openInput: () => () => void) {
    const { path, id, sink, opts, onError } = setup;
    this.id = id;
    this.closeInput = openInput();
    try {
      // Succeeds at once: we are a reader of this FIFO now.
      this.#ctl = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (e) {
      this.closeInput();
      throw e;
    }
    this.#marker = encoder.encode("\0" + randomHex(16) + "\n");
    const framer = new FifoFramer(sink, {
      maxRequestBytes: opts.maxRequestBytes,
      marker: this.#marker,
    });
    this.done = this.serve(framer, opts, onError).finally(() => this.#close());
  }

  protected readonly closeInput: () => void;

  /** True once the FIFO was closed: the loop must end. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Hands `bytes` to the framer; a bug in handling one request must not stop the FIFO. */
  protected feed(framer: FifoFramer, bytes: Uint8Array, onError: (e: unknown) => void): void {
    try {
      // The framer copies what it keeps, so the buffer is reused.
      framer.push(bytes);
    } catch (e) {
      onError(e);
    }
  }

  /** Answers the unfinished request -32700 once no byte came for the partial timeout. */
  protected expireIfIdle(
    framer: FifoFramer,
    idleMs: number,
    opts: ReaderOptions,
    onError: (e: unknown) => void,
  ): void {
    if (!framer.partial || idleMs < opts.partialTimeoutMs) return;
    try {
      framer.expire();
    } catch (e) {
      onError(e);
    }
  }

  /** The read loop; sets `failure` when it ends without being asked to. */
  protected abstract serve(
    framer: FifoFramer,
    opts: ReaderOptions,
    onError: (e: unknown) => void,
  ): Promise<void>;

  /**
   * Asks the loop to stop after everything already in the pipe: writes the
   * marker (retrying while the pipe is full) and resolves when the loop ended
   * or the time is up, then closes the FIFO either way.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
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
    this.closeInput();
    try {
      closeSync(this.#ctl);
    } catch {
      // Already closed.
    }
  }
}

/** The FFI path: poll in a pool thread, then non-blocking reads in bursts. */
export class FifoReader extends RequestReaderBase {
  #fd = -1;

  constructor(setup: ReaderSetup) {
    let fd = -1;
    super(setup, () => {
      fd = openFifoReadWrite(setup.path);
      return () => closeFd(fd);
    });
    this.#fd = fd;
  }

  protected async serve(framer: FifoFramer, opts: ReaderOptions, onError: (e: unknown) => void) {
    // The subclass's fields are set after super() returns: start in the next microtask.
    await Promise.resolve();
    const fd = this.#fd;
    const buf = new Uint8Array(READ_BUFFER);
    const partialMs = opts.partialTimeoutMs;
    let lastByte = 0;
    const src: BurstSource = {
      pollSet: pollSet([fd]),
      done: () => framer.stopped || this.closed,
      waitMs: () => {
        if (!framer.partial) return POLL_TIMEOUT_MS;
        const left = partialMs - (performance.now() - lastByte);
        return Math.max(1, Math.min(POLL_TIMEOUT_MS, Math.ceil(left)));
      },
      waited: (ready) => {
        if (!ready) this.expireIfIdle(framer, performance.now() - lastByte, opts, onError);
      },
      readOnce: () => {
        const n = readNow(fd, buf);
        if (n <= 0) return n;
        lastByte = performance.now();
        this.feed(framer, buf.subarray(0, n), onError);
        return n;
      },
    };
    try {
      const how = await serveBursts(src, opts.busyPollUs);
      if (how === "ended" && !this.stopping) this.failure = "unexpected end of file";
    } catch (e) {
      // A read error.
      if (!this.stopping) this.failure = errText(e);
    }
  }
}
