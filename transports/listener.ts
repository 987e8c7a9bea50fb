// What the daemon knows of a transport listener: a name, the `ps` type, and
// start/stop. Each listener owns its socket or FIFO, its `ps` task and its
// MI endpoint, so it can be stopped and started again on its own (a config
// reload restarts listeners one by one).

import type { CommandPolicy } from "../mi/core.ts";
import type { PolicyConfig } from "../config/schema.ts";

export interface Listener {
  /** Unique and stable across restarts: `fifo:/tmp/sipmi_fifo`, `udp:127.0.0.1:8898`, ... */
  readonly name: string;
  /** The `ps` Type: `MI FIFO`, `MI Datagram udp:127.0.0.1:8898`, `HTTPD 127.0.0.1:8899`. */
  readonly type: string;
  /** The config marks it optional: the daemon runs on when it cannot start. */
  readonly optional: boolean;
  /** Binds or creates its endpoint and starts serving; throws ListenerError with the cause. */
  start(): Promise<void>;
  /**
   * Stops accepting at once, lets requests already received finish for at
   * most `timeoutMs`, then releases the socket and removes the files it
   * created. Never throws; safe to call when not running.
   */
  stop(timeoutMs: number): Promise<void>;
}

/** A listener that could not start, with the cause in words an operator can act on. */
export class ListenerError extends Error {
  constructor(listener: string, cause: string) {
    super(`${listener}: ${cause}`);
    this.name = "ListenerError";
  }
}

/** The config form of a command policy in the core's form. */
export function toPolicy(c: PolicyConfig): CommandPolicy {
  return { allow: c.allow, deny: c.deny, readOnly: c.read_only };
}

/**
 * Logs a warning at most once a second per kind, so a client that floods a
 * listener with bad requests cannot flood the log; the suppressed count is
 * reported with the next line.
 */
export class WarnThrottle {
  readonly #log: { warn(msg: string): void };
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  constructor(log: { warn(msg: string): void }) {
    this.#log = log;
  }
  warn(kind: string, msg: string): void {
    const now = Date.now();
    const s = this.#last.get(kind);
    if (s && now - s.at < 1000) {
      s.suppressed++;
      return;
    }
    const extra = s?.suppressed ? ` (${s.suppressed} similar since the last report)` : "";
    this.#last.set(kind, { at: now, suppressed: 0 });
    this.#log.warn(msg + extra);
  }
}

/** Resolves when `p` settles or `ms` pass, whichever is first; never rejects. */
export function within(p: Promise<unknown>, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.then(() => {}, () => {}).finally(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
