// The I/O of the FIFO listener, apart from what it does with the bytes
// (framing: fifo_framing.ts; reply names, waits and bounds: reply_fifo.ts;
// the request FIFO's life and the order of steps: fifo.ts). Two
// implementations (docs/architecture.md, "Two I/O paths"): fifo_ffi.ts
// (descriptors through libc, bursts) and fifo_deno.ts (Deno file handles and
// node:fs, no raw pointers).

import type { FramerSink } from "./fifo_framing.ts";

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

/** What a request reader is made from. */
export interface ReaderSetup {
  path: string;
  id: FileId;
  sink: FramerSink;
  opts: ReaderOptions;
  /** A bug in handling one request: logged, and the FIFO goes on. */
  onError: (e: unknown) => void;
}

/** One open request FIFO and the loop that reads it into a framer. */
export interface RequestReader {
  readonly id: FileId;
  /** Settles when the loop ended. */
  readonly done: Promise<void>;
  /** Why the loop ended without being asked to: the listener reopens the FIFO. */
  readonly failure: string | undefined;
  /**
   * Stops after everything already in the pipe (a marker written behind it),
   * or when `timeoutMs` pass; closes the FIFO either way.
   */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * What the reply side needs, every call without waiting and without
 * throwing: failures are errno names (ENXIO: no reader yet; EAGAIN: the pipe
 * is full; ELOOP: a symbolic link; EPIPE: the reader went away).
 */
export interface ReplyFifoIo {
  /** `path` in the form `open` takes; made once per request, tried many times. */
  prepare(path: string): unknown;
  /** open(O_WRONLY|O_NONBLOCK|O_NOFOLLOW): a descriptor or an errno name. Never O_CREAT. */
  open(prepared: unknown): number | string;
  /** What fstat says of the descriptor, or undefined when it fails. */
  fileId(fd: number): { dev: number; ino: number; nlink: number; fifo: boolean } | undefined;
  /** Bytes written, or an errno name. */
  write(fd: number, bytes: Uint8Array<ArrayBuffer>): number | string;
  close(fd: number): void;
  /** Whether the client closed its end (a batch then stops); false when the path cannot tell. */
  peerGone(fd: number): boolean;
}

export interface FifoIo {
  /** Creates a FIFO (the mode is then set by the listener); throws with the cause. */
  mkfifo(path: string): void;
  /** Opens the request FIFO at `path` and starts reading it; throws when it cannot. */
  reader(setup: ReaderSetup): RequestReader;
  readonly reply: ReplyFifoIo;
}
