// Reading a daemon's `mi:` statistics and checking that they add up: the
// global requests, errors and replies are the sums of the per-transport ones
// (docs/protocol.md, "Statistics").

import assert from "node:assert/strict";
import type { Daemon } from "./daemon.ts";
import { py, req } from "./python.ts";

export type Stats = Record<string, number>;

/** The transports of a daemon's endpoints: its listeners and the startup calls. */
export const TRANSPORTS = ["fifo", "udp", "unix", "http", "startup"] as const;

/** `mi:` counters that end in `_requests` but are not a transport's. */
const CORE_REQUEST_COUNTERS = new Set([
  "mi:invalid_requests",
  "mi:oversize_requests",
  "mi:refused_requests",
  "mi:busy_requests",
  "mi:abandoned_requests",
]);

/**
 * The `mi:` group, read over UDP. The read itself is one UDP request, counted
 * before the values are taken; its reply is counted after (see readCost).
 */
export async function readStats(d: Daemon): Promise<Stats> {
  const r = await py({
    op: "udp",
    host: "127.0.0.1",
    port: d.udpPort,
    data: req("get_statistics", "stats", [["mi:"]]),
  });
  return JSON.parse(r.reply).result;
}

/** What one readStats adds to the next reading: its request and its reply. */
const READ_COST: Stats = {
  "mi:requests": 1,
  "mi:replies": 1,
  "mi:udp_requests": 1,
  "mi:udp_replies": 1,
};

/**
 * Measures what each step of a test changed in the statistics, without what
 * reading them cost.
 */
export class Meter {
  readonly #d: Daemon;
  #last: Stats;
  #reads = 0;

  private constructor(d: Daemon, first: Stats) {
    this.#d = d;
    this.#last = first;
  }

  static async start(d: Daemon): Promise<Meter> {
    return new Meter(d, await readStats(d));
  }

  /** The last reading. */
  get last(): Stats {
    return this.#last;
  }

  /**
   * The change since the previous step, read again until `ready` holds for
   * it (counts that land after a timeout) or `ms` pass.
   */
  async step(ready: (delta: Stats) => boolean = () => true, ms = 5000): Promise<Stats> {
    const deadline = Date.now() + ms;
    while (true) {
      const now = await readStats(this.#d);
      this.#reads++;
      const delta: Stats = {};
      for (const [k, v] of Object.entries(now)) {
        delta[k] = v - (this.#last[k] ?? 0) - this.#reads * (READ_COST[k] ?? 0);
      }
      if (ready(delta) || Date.now() > deadline) {
        this.#last = now;
        this.#reads = 0;
        return delta;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Global requests, errors and replies equal the sums over the transports (in `s`, a reading or a delta). */
export function assertAddsUp(s: Stats, where = ""): void {
  for (const k of Object.keys(s)) {
    const m = /^mi:([a-z0-9_]+)_requests$/.exec(k);
    if (m && !CORE_REQUEST_COUNTERS.has(k)) {
      assert.ok(
        (TRANSPORTS as readonly string[]).includes(m[1]),
        `${where}: ${k} belongs to no known transport`,
      );
    }
  }
  for (const what of ["requests", "errors", "replies"]) {
    const sum = TRANSPORTS.reduce((n, t) => n + (s[`mi:${t}_${what}`] ?? 0), 0);
    assert.equal(s[`mi:${what}`], sum, `${where}: mi:${what} is not the sum of the transports'`);
  }
}
