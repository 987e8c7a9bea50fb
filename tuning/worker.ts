/// <reference lib="deno.worker" />
// The tuning worker: the daemon's host work off its event loop. It owns the
// whole tuning side — its own HostFs (tuning/env.ts), the runtime with its
// transactions, confirm timers and periodic re-verification, the tuning
// commands and the host statistics groups — so reading and parsing /proc
// and /sys (13 MB of /proc/interrupts at 1152 CPUs) never holds up a
// request on any transport. The main thread (tuning/worker_client.ts)
// registers the same commands, posts each call here and awaits the answer;
// the messages are tuning/wire.ts.

import type { Collected } from "../mi/stats.ts";
import type { CommandSpec } from "../mi/registry.ts";
import { niceThisThread } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { tuningEnv } from "./env.ts";
import { tuningModule } from "./module.ts";
import { TuningRuntime, tuningSettings, type TuningStats } from "./runtime.ts";
import { type GroupReader, hostStatGroups } from "./stat_groups.ts";
import {
  errorToWire,
  type FromWorker,
  type LogLevel,
  paramsFromWire,
  specToWire,
  type ToWorker,
  type WireStat,
  type WorkerInit,
} from "./wire.ts";

function post(m: FromWorker): void {
  self.postMessage(m);
}

/** The runtime's statistics, kept by the main thread: increments and values are posted there. */
class PostedStats implements TuningStats {
  readonly declared: WireStat[] = [];
  readonly #gauges: { group: string; name: string; fn: () => number; last?: number }[] = [];
  #checking = false;

  counter(group: string, name: string) {
    this.declared.push({ kind: "counter", group, name });
    return {
      inc: (n = 1) => {
        post({ kind: "inc", group, name, n });
        this.changed();
      },
    };
  }

  computed(group: string, name: string, fn: () => number): void {
    this.declared.push({ kind: "gauge", group, name });
    this.#gauges.push({ group, name, fn });
  }

  /** Posts the computed values that changed (soon, once per burst of changes). */
  changed(): void {
    if (this.#checking) return;
    this.#checking = true;
    queueMicrotask(() => {
      this.#checking = false;
      for (const g of this.#gauges) {
        const value = g.fn();
        if (value === g.last) continue;
        g.last = value;
        post({ kind: "set", group: g.group, name: g.name, value });
      }
    });
  }
}

const logTo = (level: LogLevel) => (message: string) => post({ kind: "log", level, message });
const log = {
  info: logTo("info"),
  notice: logTo("notice"),
  warn: logTo("warn"),
  error: logTo("error"),
};

let runtime: TuningRuntime | undefined;
let stats: PostedStats | undefined;
const commands = new Map<string, CommandSpec>();
let groups = new Map<string, GroupReader>();

/**
 * The worker's thread (and the threads it starts for file reads) yields
 * the CPU to the event loop's: on a busy host a monitoring scrape or
 * `tune show` waits, the other clients do not.
 */
export const WORKER_NICE = 10;

function init(i: WorkerInit): void {
  try {
    niceThisThread(WORKER_NICE);
  } catch (e) {
    log.warn(`tuning worker: cannot lower its priority: ${errText(e)}`);
  }
  const env = tuningEnv(i.tuning);
  stats = new PostedStats();
  runtime = new TuningRuntime(env, tuningSettings(i.tuning), { stats, log });
  const module = tuningModule(runtime);
  for (const c of module.commands) commands.set(c.name, c);
  groups = hostStatGroups(env, log.warn);
  post({
    kind: "ready",
    commands: module.commands.map(specToWire),
    stats: stats.declared,
    groups: [...groups.keys()],
  });
  stats.changed();
}

/** Runs one request and posts its outcome under its id. */
async function answer(id: number, work: () => unknown, encode: boolean): Promise<void> {
  try {
    const r = await work();
    if (!encode) post({ kind: "values", id, values: (r ?? []) as Collected[] });
    else post({ kind: "done", id, json: r === undefined ? undefined : JSON.stringify(r) });
  } catch (e) {
    post({ kind: "failed", id, error: errorToWire(e) });
  } finally {
    stats?.changed();
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  switch (m.kind) {
    case "init":
      return init(m.init);
    case "call": {
      const spec = commands.get(m.method);
      return void answer(m.id, () => {
        if (spec === undefined) throw new Error(`no tuning command '${m.method}' in the worker`);
        const params = paramsFromWire(m.params);
        // The tuning handlers read their params; the request itself stays on the main thread.
        return spec.handler(params, m.ctx, {
          method: m.method,
          params: undefined,
          idText: undefined,
        });
      }, true);
    }
    case "group":
      return void answer(m.id, () => groups.get(m.group)?.() ?? [], false);
    case "start":
      return void answer(m.id, async () => (await runtime!.start(), true), true);
    case "stop":
      return void answer(m.id, async () => (await runtime!.stop(), true), true);
    case "settings":
      return void answer(m.id, () => (runtime!.reconfigure(tuningSettings(m.tuning)), true), true);
    case "crash":
      // Thrown outside any request, like a bug would: the main thread restarts the worker.
      setTimeout(() => {
        throw new Error("tuning worker: crash requested");
      });
      return;
  }
};
