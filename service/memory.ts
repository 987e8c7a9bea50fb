// Keeps the daemon's resident memory near what it uses. glibc keeps memory
// freed after a burst of requests (the runtime's buffers, promise and op
// results) in its arenas for reuse, so without help the RSS stays at its
// peak for good; a monitoring scrape storm would leave its mark for the
// life of the process. Once a second, if requests were served since the
// last time, the free pages are handed back (malloc_trim, in a thread of
// the blocking pool: the event loop runs on). docs/service.md, "Memory".

import { mallocArenaMax, mallocTrim } from "../sys/libc.ts";

export interface TrimmerOptions {
  /** A number that changes when work was done (the core's request counter). */
  activity: () => number;
  intervalMs?: number;
}

/** Arenas malloc may create: the daemon's work runs on two threads (the loop and the tuning worker). */
export const ARENA_MAX = 2;

export class MemoryTrimmer {
  readonly #activity: () => number;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #seen = -1;
  #trimming = false;
  /** How many times memory was handed back (for tests and the log). */
  trims = 0;

  constructor(opts: TrimmerOptions) {
    this.#activity = opts.activity;
    this.#intervalMs = opts.intervalMs ?? 1000;
  }

  start(): void {
    mallocArenaMax(ARENA_MAX);
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = this.#activity();
    if (now === this.#seen || this.#trimming) return;
    this.#seen = now;
    this.#trimming = true;
    mallocTrim().then((released) => {
      if (released) this.trims++;
    }, () => {}).finally(() => this.#trimming = false);
  }
}
