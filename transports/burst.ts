// The receive loop of the listeners that own a file descriptor (datagram
// sockets, the request FIFO): wait for input in a pool thread, then read and
// answer synchronously until nothing is queued, so a burst of requests costs
// one thread wake-up instead of two async operations per request.
//
// After a burst the loop keeps checking for `mi.busy_poll_us` before it
// sleeps again: a client's next request, sent as soon as it has its reply,
// is read without another wake-up (about 3x the single-client rate). A burst
// ends after MAX_BURST_MS of continuous work, so the other listeners and the
// HTTP server get the event loop back (docs/architecture.md, "Listeners").

import { pollReadable, type PollSet } from "../sys/libc.ts";

/** Continuous work before the loop yields to the event loop. */
const MAX_BURST_MS = 2;

export interface BurstSource {
  /** The descriptors to wait on: the input and, optionally, a wake pipe. */
  readonly pollSet: PollSet;
  /**
   * Reads one piece of input without waiting and handles it: a positive
   * number when something was read, -1 when nothing is queued, 0 when the
   * input ended (end of file).
   */
  readOnce(): number;
  /** True once the loop must end; asked before every wait and every read. */
  done(): boolean;
  /** The longest wait, in ms, before `done` and `waited` are asked; -1 waits for input only. */
  waitMs(): number;
  /** After every wait, before reading: `ready` is false when the wait timed out. */
  waited?(ready: boolean): void;
}

/**
 * Serves `src` until `done()` says so ("done") or its input ends ("ended").
 * Rejects when a wait or a read fails; the caller decides whether to go on.
 */
export async function serveBursts(src: BurstSource, busyPollUs: number): Promise<"done" | "ended"> {
  const spinMs = busyPollUs / 1000;
  while (!src.done()) {
    const ready = await pollReadable(src.pollSet, src.waitMs());
    if (src.done()) break;
    src.waited?.(ready > 0);
    if (ready <= 0) continue; // a timeout, or EINTR
    const start = performance.now();
    let idleSince = -1;
    while (!src.done()) {
      const n = src.readOnce();
      if (n < 0) {
        if (spinMs <= 0) break;
        const t = performance.now();
        if (idleSince < 0) idleSince = t;
        else if (t - idleSince >= spinMs || t - start >= MAX_BURST_MS) break;
        continue;
      }
      if (n === 0) return "ended";
      idleSince = -1;
      if (performance.now() - start >= MAX_BURST_MS) break;
    }
  }
  return "done";
}
