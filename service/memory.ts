// Keeps the daemon's resident memory near what it uses. glibc keeps memory
// freed after a burst of requests (the runtime's buffers, promise and op
// results) in its arenas for reuse, and V8 collects its old generation only
// when the program allocates: without help the RSS of a daemon that goes
// quiet after a scrape storm or an attack stays at its peak for good.
//
// Once a second, if requests were served since the last look, the free
// pages are handed back (malloc_trim, in a thread of the blocking pool: the
// event loop runs on). When the requests stop and the RSS is still well
// above its level once the daemon was up, one full collection runs first
// (sys/memory.ts). It stops the event loop for tens of milliseconds, so it
// runs only in a quiet second, never while clients are being served.
// docs/service.md, "Memory".

import { mallocArenaMax, mallocTrim } from "../sys/libc.ts";
import { reclaim } from "../sys/memory.ts";

export interface TrimmerOptions {
  /** A number that changes when work was done (the core's request counter). */
  activity: () => number;
  intervalMs?: number;
}

/** Arenas malloc may create: the daemon's work runs on two threads (the loop and the tuning worker). */
export const ARENA_MAX = 2;
/** How far above its level once up the RSS may stay after a burst before a full collection. */
const RECLAIM_ABOVE_BYTES = 24 * 1024 * 1024;

export class MemoryTrimmer {
  readonly #activity: () => number;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #seen = -1;
  /** Requests were served since the last quiet second. */
  #burst = false;
  #base = 0;
  #trimming = false;
  /** How many times memory was handed back (for tests and the log). */
  trims = 0;

  constructor(opts: TrimmerOptions) {
    this.#activity = opts.activity;
    this.#intervalMs = opts.intervalMs ?? 1000;
  }

  start(): void {
    mallocArenaMax(ARENA_MAX);
    this.markBase();
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Takes the RSS now as the daemon's level (once every listener and the tuning worker are up). */
  markBase(): void {
    this.#base = Deno.memoryUsage().rss;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (this.#trimming) return;
    const now = this.#activity();
    const busy = now !== this.#seen;
    this.#seen = now;
    let full = false;
    if (busy) {
      this.#burst = true;
    } else {
      if (!this.#burst) return;
      // The first quiet second after a burst.
      this.#burst = false;
      full = Deno.memoryUsage().rss > this.#base + RECLAIM_ABOVE_BYTES;
    }
    this.#trimming = true;
    (full ? reclaim() : mallocTrim()).then((released) => {
      if (released) this.trims++;
    }, () => {}).finally(() => this.#trimming = false);
  }
}
