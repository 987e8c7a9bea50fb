// The MI instance of this build of sipmi run in-process: `sipmi tune`,
// `sipmi mi --local`, `sipmi run` and the tests. Limits and log level come
// from the config, the tuning module runs on this thread (a CLI process
// serves nobody else), and the host statistics groups are read here. The
// daemon builds its instance with the tuning side in a worker
// (app_daemon.ts): the same commands, the same statistics.

import { miOptions } from "./app_daemon.ts";
import type { Config } from "./config/schema.ts";
import { createMi, type MiInstance } from "./mi/instance.ts";
import type { Log } from "./sys/log.ts";
import { type TuningEnv, tuningEnv } from "./tuning/env.ts";
import { HostSampler } from "./tuning/host_sampler.ts";
import { tuningModule } from "./tuning/module.ts";
import { TuningRuntime, tuningSettings } from "./tuning/runtime.ts";
import { hostStatGroups } from "./tuning/stat_groups.ts";
import { installRelay } from "./upstream/module.ts";
import type { Relay } from "./upstream/relay.ts";

export interface App {
  mi: MiInstance;
  /** The tuning side's background work: the daemon calls start() and stop(). */
  tuning: TuningRuntime;
  /**
   * The upstream relay, configured but not fetched: the daemon calls start()
   * and stop(); in-process runs learn an upstream's commands at first use.
   */
  relay: Relay;
}

export interface AppOptions {
  log?: Log;
  argv?: readonly string[];
  /** A tuning env other than the config's (tests: a fake kernel with fault hooks). */
  tuningEnv?: TuningEnv;
}

export function buildMi(config: Config, opts: AppOptions = {}): MiInstance {
  return buildApp(config, opts).mi;
}

export function buildApp(config: Config, opts: AppOptions = {}): App {
  const mi = createMi(miOptions(config, opts.log, opts.argv));
  const log = mi.attendant.log;
  const t = config.tuning;
  const env = opts.tuningEnv ?? tuningEnv(t);
  const tuning = new TuningRuntime(env, tuningSettings(t), { stats: mi.stats, log });
  mi.registry.register(tuningModule(tuning));
  const groups = hostStatGroups(env, (m) => log.warn(m));
  new HostSampler((g) => groups.get(g)!(), config.stats.host_max_age_ms, (m) => log.warn(m))
    .register(mi.stats, groups.keys());
  const relay = installRelay(mi, config.upstream);
  return { mi, tuning, relay };
}
