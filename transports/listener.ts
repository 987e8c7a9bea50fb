// What the daemon knows of a transport listener (a name, the `ps` type,
// start/stop), and the lifecycle every listener shares, written once in
// ListenerBase: a `ps` task and an MI endpoint while it runs, warnings
// throttled per kind, "listening on" and "stopped listening" log lines, and
// one deadline for the whole stop. Each listener adds only its framing and
// its I/O (docs/extending.md, "A transport"). A listener can be stopped and
// started again on its own (a config reload restarts listeners one by one).

import type { CommandPolicy, Endpoint } from "../mi/core.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { Task } from "../mi/tasks.ts";
import type { PolicyConfig } from "../config/schema.ts";
import { errText } from "../sys/log.ts";

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
 * Logs at most one line a second per kind, so a client that floods a
 * listener with bad requests, resets or datagrams cannot flood the log; the
 * suppressed count is reported with the next line. Every log line a client
 * can cause, request by request or connection by connection, goes through
 * one of these. The kinds are a fixed set per listener.
 */
export class WarnThrottle {
  readonly #log: { warn(msg: string): void; error(msg: string): void };
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  constructor(log: { warn(msg: string): void; error(msg: string): void }) {
    this.#log = log;
  }
  warn(kind: string, msg: string): void {
    const line = this.#line(kind, msg);
    if (line !== undefined) this.#log.warn(line);
  }
  /** The same, at the error level: something failed that should not have. */
  error(kind: string, msg: string): void {
    const line = this.#line(kind, msg);
    if (line !== undefined) this.#log.error(line);
  }
  #line(kind: string, msg: string): string | undefined {
    const now = Date.now();
    const s = this.#last.get(kind);
    if (s && now - s.at < 1000) {
      s.suppressed++;
      return undefined;
    }
    const extra = s?.suppressed ? ` (${s.suppressed} similar since the last report)` : "";
    this.#last.set(kind, { at: now, suppressed: 0 });
    return msg + extra;
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

/** The one deadline of a stop: each step waits at most for what is left of it. */
export class Deadline {
  readonly #at: number;
  constructor(ms: number) {
    this.#at = Date.now() + ms;
  }
  /** Milliseconds left (0 once passed). */
  get left(): number {
    return Math.max(0, this.#at - Date.now());
  }
  /** Waits for `p` until the deadline; never rejects. */
  wait(p: Promise<unknown>): Promise<void> {
    return within(p, this.left);
  }
}

/** What a running listener has: its `ps` task (and logger), its MI endpoint, its warnings. */
export interface Serving {
  readonly task: Task;
  readonly ep: Endpoint;
  readonly warn: WarnThrottle;
}

/** How a listener's endpoint is set up. */
export interface EndpointSpec {
  /** The transport name in RequestContext and in statistics (`udp` → `mi:udp_requests`). */
  transport: string;
  policy: PolicyConfig;
  /** Lower than the core's `mi.max_request_bytes` (default: the core's). */
  maxRequestBytes?: number;
  /** The config key named when a request is over `maxRequestBytes`. */
  limitName?: string;
}

/**
 * The shared lifecycle. `start` registers the task and the endpoint, then
 * calls `open` (bind, create, serve); if that fails the task is removed again
 * and the cause becomes a ListenerError. `stop` calls `close` with one
 * deadline for everything, then removes the task.
 */
export abstract class ListenerBase implements Listener {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
  protected readonly mi: MiInstance;
  #serving: Serving | undefined;

  constructor(mi: MiInstance, name: string, type: string, optional: boolean) {
    this.mi = mi;
    this.name = name;
    this.type = type;
    this.optional = optional;
  }

  /** The endpoint this listener hands requests to. */
  protected abstract endpointSpec(): EndpointSpec;

  /**
   * Binds or creates what the listener serves and starts serving; returns
   * where it listens, for the log. Throws ListenerError (or any error, which
   * becomes one) when it cannot; must leave nothing behind then.
   */
  protected abstract open(s: Serving): string | Promise<string>;

  /** Stops accepting, finishes what was received within the deadline, releases everything. */
  protected abstract close(d: Deadline, s: Serving): Promise<void>;

  async start(): Promise<void> {
    if (this.#serving) return;
    const task = this.mi.tasks.add(this.type);
    const spec = this.endpointSpec();
    const ep = this.mi.core.endpoint({
      transport: spec.transport,
      listener: this.name,
      policy: toPolicy(spec.policy),
      log: task.log,
      limits: spec.maxRequestBytes === undefined ? undefined : {
        maxRequestBytes: spec.maxRequestBytes,
      },
      limitName: spec.limitName,
    });
    const s: Serving = { task, ep, warn: new WarnThrottle(task.log) };
    let where: string;
    try {
      where = await this.open(s);
    } catch (e) {
      this.mi.tasks.remove(task);
      throw e instanceof ListenerError ? e : new ListenerError(this.name, errText(e));
    }
    this.#serving = s;
    task.log.info(`listening on ${where}`);
  }

  async stop(timeoutMs: number): Promise<void> {
    const s = this.#serving;
    if (!s) return;
    try {
      await this.close(new Deadline(timeoutMs), s);
    } catch (e) {
      s.task.log.error(`stopping failed: ${errText(e)}`);
    }
    this.#serving = undefined;
    this.mi.tasks.remove(s.task);
    s.task.log.info(`stopped listening on ${this.name}`);
  }
}
