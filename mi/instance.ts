// Builds one MI instance: statistics, registry, task table, core, and the
// built-in modules. The daemon, `sipmi mi --local`, `sipmi run` and the
// `sipmi tune` subcommands all start from here, so they share one code path.

import { MiCore, type MiLimits } from "./core.ts";
import { coreModule, statisticsModule } from "./core_cmds.ts";
import { type MiModule, Registry } from "./registry.ts";
import { StatsRegistry } from "./stats.ts";
import { type Task, Tasks } from "./tasks.ts";
import { L_INFO, Log } from "../sys/log.ts";

export interface MiInstance {
  readonly core: MiCore;
  readonly registry: Registry;
  readonly stats: StatsRegistry;
  readonly tasks: Tasks;
  readonly log: Log;
  /** The main task (`attendant` in `ps`). */
  readonly attendant: Task;
  readonly startedAt: Date;
}

export interface MiOptions {
  log?: Log;
  logLevel?: number;
  limits?: Partial<MiLimits>;
  argv?: readonly string[];
  /** Modules beyond `statistics` and `core` (e.g. tuning), built once the instance exists. */
  modules?: (mi: MiInstance) => MiModule[];
}

export function createMi(opts: MiOptions = {}): MiInstance {
  const log = opts.log ?? new Log(opts.logLevel ?? L_INFO);
  const stats = new StatsRegistry();
  const tasks = new Tasks(log);
  const attendant = tasks.add("attendant");
  const registry = new Registry(stats, attendant.log);
  const core = new MiCore(registry, stats, attendant.log, opts.limits);
  const startedAt = new Date();
  const mi: MiInstance = { core, registry, stats, tasks, log, attendant, startedAt };

  stats.computed("core", "uptime", () => Math.floor((Date.now() - startedAt.getTime()) / 1000));
  stats.computed("core", "timestamp", () => Math.floor(Date.now() / 1000));
  // Deno.memoryUsage() costs about 9 µs; both stats of one read share a call.
  let mem: Deno.MemoryUsage | undefined;
  const memory = () => {
    if (mem === undefined) {
      mem = Deno.memoryUsage();
      queueMicrotask(() => mem = undefined);
    }
    return mem;
  };
  stats.computed("core", "rss_bytes", () => memory().rss);
  stats.computed("core", "heap_used_bytes", () => memory().heapUsed);

  const env = {
    registry,
    stats,
    tasks,
    startedAt,
    argv: opts.argv ?? [Deno.execPath(), ...Deno.args],
  };
  registry.register(statisticsModule(env));
  registry.register(coreModule(env));
  for (const m of opts.modules?.(mi) ?? []) registry.register(m);
  return mi;
}
