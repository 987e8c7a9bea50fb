// The main thread's side of the tuning worker (tuning/worker.ts). It starts
// the worker, registers the commands the worker declares — same names, help,
// recipes and `mutating`, with handlers that post the call and await the
// answer — mirrors the worker's `tuning:` statistics, and reads host
// statistics groups through it. Read-only calls that are identical and
// concurrent share one run in the worker.
//
// Errors keep their MI code, message and data. A worker that dies (an
// uncaught error) is restarted; the calls it was running are answered with
// a 500 saying so, and the new worker runs start() again when the daemon
// had started the runtime (crash recovery rolls back an apply it cut
// short). Only this file and tuning/wire.ts load on the main thread: the
// tuning code itself stays in the worker.

import { COMMAND_FAILED, JsonText, MiError } from "../mi/jsonrpc.ts";
import type { Params } from "../mi/params.ts";
import type { CommandSpec, MiModule, RequestContext } from "../mi/registry.ts";
import type { Collected, Counter, Gauge, StatsRegistry } from "../mi/stats.ts";
import { errText } from "../sys/log.ts";
import {
  contextToWire,
  errorFromWire,
  type FromWorker,
  type LogLevel,
  paramsToWire,
  specFromWire,
  type ToWorker,
  type WireSpec,
  type WireStat,
  type WorkerInit,
} from "./wire.ts";

export interface WorkerLog {
  info(message: string): void;
  notice(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

interface Ready {
  commands: WireSpec[];
  stats: WireStat[];
  groups: string[];
}

interface Pending {
  what: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Longest wait before restarting a worker that keeps dying at start-up. */
const MAX_BACKOFF_MS = 30_000;

export class TuningWorker {
  #init: WorkerInit;
  readonly #log: WorkerLog;
  readonly #stats: StatsRegistry;
  #worker: Worker | undefined;
  #ready!: Promise<Ready>;
  #first!: Ready;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  /** The daemon called start() and not stop(): a restarted worker starts its runtime too. */
  #running = false;
  #closed = false;
  #backoffMs = 0;
  readonly #shared = new Map<string, Promise<unknown>>();
  readonly #counters = new Map<string, Counter>();
  readonly #gauges = new Map<string, Gauge>();
  /** How many times the worker was restarted after dying. */
  restarts = 0;
  /** Requests posted to the worker (shared calls count once). */
  posted = 0;

  private constructor(init: WorkerInit, log: WorkerLog, stats: StatsRegistry) {
    this.#init = init;
    this.#log = log;
    this.#stats = stats;
  }

  /** Starts the worker and waits until it has declared its commands and statistics. */
  static async start(
    init: WorkerInit,
    log: WorkerLog,
    stats: StatsRegistry,
  ): Promise<TuningWorker> {
    const w = new TuningWorker(init, log, stats);
    w.#ready = w.#spawn();
    w.#first = await w.#ready;
    for (const s of w.#first.stats) w.#mirror(s);
    return w;
  }

  /** The host statistics groups the worker reads. */
  get groups(): readonly string[] {
    return this.#first.groups;
  }

  /** The tuning module as the main thread registers it: every handler runs in the worker. */
  module(): MiModule {
    const commands: CommandSpec[] = this.#first.commands.map((w) => {
      const spec: CommandSpec = specFromWire(w, (p, ctx) => this.#callShared(spec, p, ctx));
      return spec;
    });
    return { name: "tuning", commands };
  }

  /** One host statistics group, read in the worker now. */
  async group(name: string): Promise<Collected[]> {
    return await this.#request(
      { kind: "group", id: 0, group: name },
      `statistics group ${name}`,
    ) as [
      string,
      number,
    ][];
  }

  /** The runtime's background work (crash recovery, confirm timer, verify loop). */
  async start(): Promise<void> {
    this.#running = true;
    await this.#request({ kind: "start", id: 0 }, "tuning start");
  }

  /** Ends the runtime's background work, then the worker. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#closed) return;
    try {
      await this.#request({ kind: "stop", id: 0 }, "tuning stop");
    } finally {
      this.#close("sipmi is stopping");
    }
  }

  /** New tuning settings from a config reload (profile, verify interval, enforce). */
  async reconfigure(tuning: WorkerInit["tuning"]): Promise<void> {
    // A restarted worker starts from the settings in force.
    this.#init = { ...this.#init, tuning: { ...this.#init.tuning, ...settingsOnly(tuning) } };
    await this.#request({ kind: "settings", id: 0, tuning: this.#init.tuning }, "tuning settings");
  }

  /** Makes the worker throw an uncaught error, as a bug would (tests of the restart). */
  crash(): void {
    this.#worker?.postMessage({ kind: "crash" } satisfies ToWorker);
  }

  // ------------------------------------------------------------ the worker

  #spawn(): Promise<Ready> {
    const ready = Promise.withResolvers<Ready>();
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href, {
      type: "module",
      name: "tuning",
    });
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      if (worker === this.#worker) this.#receive(e.data, ready.resolve);
    };
    worker.onerror = (e: ErrorEvent) => {
      // Handled here: unhandled, a worker's error would end the whole daemon.
      e.preventDefault();
      if (worker === this.#worker) this.#died(e.message, ready.reject);
    };
    worker.onmessageerror = () => {
      if (worker === this.#worker) this.#died("a message could not be read", ready.reject);
    };
    worker.postMessage({ kind: "init", init: this.#init } satisfies ToWorker);
    return ready.promise;
  }

  #receive(m: FromWorker, ready: (r: Ready) => void): void {
    switch (m.kind) {
      case "ready":
        this.#backoffMs = 0;
        return ready(m);
      case "done":
        return this.#settle(
          m.id,
          (p) => p.resolve(m.json === undefined ? undefined : new JsonText(m.json)),
        );
      case "values":
        return this.#settle(m.id, (p) => p.resolve(m.values));
      case "failed":
        return this.#settle(m.id, (p) => p.reject(errorFromWire(m.error)));
      case "inc":
        return this.#counters.get(`${m.group}:${m.name}`)?.inc(m.n);
      case "set":
        return this.#gauges.get(`${m.group}:${m.name}`)?.set(m.value);
      case "log":
        return this.#logAt(m.level, m.message);
    }
  }

  #settle(id: number, how: (p: Pending) => void): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    how(p);
  }

  #logAt(level: LogLevel, message: string): void {
    this.#log[level](message);
  }

  #mirror(s: WireStat): void {
    const key = `${s.group}:${s.name}`;
    if (s.kind === "counter") this.#counters.set(key, this.#stats.counter(s.group, s.name));
    else this.#gauges.set(key, this.#stats.gauge(s.group, s.name));
  }

  /** The worker threw an uncaught error: answer what it was doing, start a new one. */
  #died(why: string, readyFailed: (e: unknown) => void): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    const failing = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of failing) {
      p.reject(
        new MiError(
          COMMAND_FAILED,
          "Tuning worker failed",
          `the tuning worker stopped while running ${p.what} (${why}); it was restarted: ` +
            "tune_status shows whether a change was rolled back",
        ),
      );
    }
    readyFailed(new Error(`the tuning worker stopped while starting: ${why}`));
    if (this.#closed) return;
    this.restarts++;
    this.#log.error(`tuning worker stopped: ${why}; restarting it`);
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(250, delay * 2));
    const next = new Promise<void>((r) => setTimeout(r, delay)).then(() => this.#spawn());
    this.#ready = next.then(async (r) => {
      if (!this.#running) return r;
      try {
        await this.#post({ kind: "start", id: 0 }, "tuning start");
      } catch (e) {
        this.#log.error(`tuning worker: start after the restart failed: ${errText(e)}`);
      }
      return r;
    });
    // A failure here is the next death, handled the same way; callers see it through #ready.
    this.#ready.catch(() => {});
  }

  #close(why: string): void {
    this.#closed = true;
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const p of this.#pending.values()) {
      p.reject(new MiError(COMMAND_FAILED, "Tuning worker stopped", why));
    }
    this.#pending.clear();
  }

  // ------------------------------------------------------------ requests

  /** Posts a request once the worker is ready; resolves with its answer. */
  async #request(m: ToWorker & { id: number }, what: string): Promise<unknown> {
    if (this.#closed) {
      throw new MiError(COMMAND_FAILED, "Tuning worker stopped", "sipmi is stopping");
    }
    try {
      await this.#ready;
    } catch (e) {
      throw new MiError(
        COMMAND_FAILED,
        "Tuning worker unavailable",
        errText(e),
      );
    }
    return await this.#post(m, what);
  }

  #post(m: ToWorker & { id: number }, what: string): Promise<unknown> {
    const worker = this.#worker;
    if (worker === undefined) {
      return Promise.reject(
        new MiError(COMMAND_FAILED, "Tuning worker unavailable", "it is restarting"),
      );
    }
    const id = this.#nextId++;
    this.posted++;
    const done = Promise.withResolvers<unknown>();
    this.#pending.set(id, { what, resolve: done.resolve, reject: done.reject });
    worker.postMessage({ ...m, id });
    return done.promise;
  }

  #call(method: string, p: Params, ctx: RequestContext): Promise<unknown> {
    return this.#request(
      { kind: "call", id: 0, method, params: paramsToWire(p), ctx: contextToWire(ctx) },
      method,
    );
  }

  /** Identical read-only calls in progress share one run (a scrape storm reads the host once). */
  #callShared(spec: CommandSpec, p: Params, ctx: RequestContext): Promise<unknown> {
    const mutating = typeof spec.mutating === "function" ? spec.mutating(p) : spec.mutating;
    if (mutating) return this.#call(spec.name, p, ctx);
    const key = `${spec.name}\u0000${JSON.stringify(paramsToWire(p))}`;
    let run = this.#shared.get(key);
    if (run === undefined) {
      run = this.#call(spec.name, p, ctx).finally(() => this.#shared.delete(key));
      this.#shared.set(key, run);
    }
    return run;
  }
}

/** The tuning keys a running worker can take without a restart. */
function settingsOnly(t: WorkerInit["tuning"]) {
  return { profile: t.profile, verify_interval_s: t.verify_interval_s, enforce: t.enforce };
}
