// The systemd watchdog: with WatchdogSec= in the unit, systemd exports
// WATCHDOG_USEC (and WATCHDOG_PID) and restarts the service when no
// WATCHDOG=1 arrives within that time. The ping is a timer on the event loop
// that serves MI, not a thread: a loop wedged by a runaway command stops
// the pings, and systemd restarts the daemon.

import type { Logger } from "../sys/log.ts";
import type { Notifier } from "./notify.ts";

/**
 * How often to ping, in milliseconds (half of WATCHDOG_USEC), or undefined
 * when no watchdog is asked of this process.
 */
export function watchdogPeriodMs(
  usec: string | undefined,
  pid: string | undefined,
  ownPid: number,
  log?: Logger,
): number | undefined {
  if (usec === undefined || usec === "") return undefined;
  // WATCHDOG_PID names the process the watchdog is for; a child that
  // inherited the variables must not ping for its parent.
  if (pid !== undefined && pid !== "" && pid !== String(ownPid)) return undefined;
  if (!/^[0-9]+$/.test(usec) || Number(usec) === 0) {
    log?.warn(`WATCHDOG_USEC '${usec}' is not a positive number of microseconds; no watchdog`);
    return undefined;
  }
  return Math.max(1, Math.floor(Number(usec) / 2000));
}

export class Watchdog {
  readonly periodMs: number;
  readonly #notifier: Notifier;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(notifier: Notifier, periodMs: number) {
    this.#notifier = notifier;
    this.periodMs = periodMs;
  }

  /** Reads and clears WATCHDOG_USEC/WATCHDOG_PID; undefined when there is no watchdog. */
  static fromEnv(notifier: Notifier, log: Logger): Watchdog | undefined {
    const usec = Deno.env.get("WATCHDOG_USEC");
    const pid = Deno.env.get("WATCHDOG_PID");
    Deno.env.delete("WATCHDOG_USEC");
    Deno.env.delete("WATCHDOG_PID");
    const period = watchdogPeriodMs(usec, pid, Deno.pid, log);
    if (period === undefined || !notifier.enabled) return undefined;
    return new Watchdog(notifier, period);
  }

  /** Pings now and then every period, from this event loop. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#notifier.send({ WATCHDOG: 1 });
    this.#timer = setInterval(() => this.#notifier.send({ WATCHDOG: 1 }), this.periodMs);
    // The daemon's life is held by its listeners and its stop signal, not by this timer.
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
