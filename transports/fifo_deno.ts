// The Deno I/O path of the FIFO listener: no raw pointers.
//
// - The request FIFO is a Deno file handle opened read+write (it never sees
//   end of file); each read waits in a thread of Deno's blocking pool, so
//   the event loop runs on. The partial timeout races the pending read
//   against a timer; the read stays pending for the next turn.
// - Reply FIFOs are opened with node:fs openSync(O_WRONLY|O_NONBLOCK|
//   O_NOFOLLOW), which fails at once with ENXIO while the client has not
//   opened its end, and is retried as reply_fifo.ts says. Never
//   `Deno.open(write)`: it blocks a pool thread until the client opens,
//   forever if the client died. Writes are node:fs writeSync on the
//   non-blocking descriptor (EAGAIN: the pipe is full).
// - node:fs cannot poll, so this path cannot tell that a client closed its
//   reply FIFO before the reply is written: a batch runs to its end.
// - The FIFO is created by the `mkfifo` program (coreutils): creating one
//   needs mknod(2), which Deno has no API for.

import { closeSync, constants, fstatSync, openSync, writeSync } from "node:fs";
import { errText } from "../sys/log.ts";
import type { FifoFramer } from "./fifo_framing.ts";
import type { FifoIo, ReaderOptions, ReaderSetup } from "./fifo_io.ts";
import { READ_BUFFER, RequestReaderBase } from "./fifo_reader.ts";
import { errorCode } from "./os.ts";

const REPLY_OPEN = constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** Deno's error names of node:fs calls, as the errno names the reply side classifies by. */
function errnoOf(e: unknown): string {
  const code = errorCode(e);
  return code === "WouldBlock" ? "EAGAIN" : code === "BrokenPipe" ? "EPIPE" : code;
}

class DenoFifoReader extends RequestReaderBase {
  #file: Deno.FsFile | undefined;

  protected async serve(framer: FifoFramer, opts: ReaderOptions, onError: (e: unknown) => void) {
    await Promise.resolve();
    const file = this.#file!;
    const buf = new Uint8Array(READ_BUFFER);
    const partialMs = opts.partialTimeoutMs;
    let lastByte = 0;
    let pending: Promise<number | null> | undefined;
    try {
      while (!framer.stopped && !this.closed) {
        pending ??= file.read(buf);
        let n: number | null | "timeout";
        if (!framer.partial) n = await pending;
        else {
          const left = Math.max(1, Math.ceil(partialMs - (performance.now() - lastByte)));
          let timer: ReturnType<typeof setTimeout> | undefined;
          const expired = new Promise<"timeout">((r) =>
            timer = setTimeout(() => r("timeout"), left)
          );
          n = await Promise.race([pending, expired]);
          clearTimeout(timer);
        }
        if (n === "timeout") {
          this.expireIfIdle(framer, performance.now() - lastByte, opts, onError);
          continue;
        }
        pending = undefined;
        if (n === null) {
          if (!this.stopping) this.failure = "unexpected end of file";
          return;
        }
        lastByte = performance.now();
        this.feed(framer, buf.subarray(0, n), onError);
      }
    } catch (e) {
      // A read error, or the file closed under a pending read at stop.
      if (!this.stopping && !this.closed) this.failure = errText(e);
    }
  }

  constructor(setup: ReaderSetup) {
    let file: Deno.FsFile | undefined;
    super(setup, () => {
      // Read+write: the open never waits, and closing writers never end the stream.
      const f = Deno.openSync(setup.path, { read: true, write: true });
      file = f;
      return () => {
        try {
          f.close();
        } catch {
          // Closed already.
        }
      };
    });
    this.#file = file;
  }
}

export const denoFifoIo: FifoIo = {
  mkfifo(path: string): void {
    const r = new Deno.Command("mkfifo", { args: ["-m", "600", "--", path], stderr: "piped" })
      .outputSync();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr).trim() || "mkfifo failed");
  },
  reader: (setup) => new DenoFifoReader(setup),
  reply: {
    prepare: (path) => path,
    open(path: unknown): number | string {
      try {
        return openSync(path as string, REPLY_OPEN);
      } catch (e) {
        return errnoOf(e);
      }
    },
    fileId(fd: number) {
      try {
        const st = fstatSync(fd);
        return { dev: st.dev, ino: st.ino, nlink: st.nlink, fifo: st.isFIFO() };
      } catch {
        return undefined;
      }
    },
    write(fd: number, bytes: Uint8Array<ArrayBuffer>): number | string {
      try {
        return writeSync(fd, bytes);
      } catch (e) {
        return errnoOf(e);
      }
    },
    close(fd: number): void {
      try {
        closeSync(fd);
      } catch {
        // Closed already.
      }
    },
    peerGone: () => false,
  },
};
