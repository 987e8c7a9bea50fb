// The MI instance of this build of sipmi: limits and log level from the
// config, and every module (core and statistics come from mi/instance.ts).
// The daemon and the in-process CLI both build it here, so they have the
// same commands.

import type { Config } from "./config/schema.ts";
import { createMi, type MiInstance } from "./mi/instance.ts";
import type { Log } from "./sys/log.ts";
import { type TuningEnv, tuningEnv } from "./tuning/env.ts";
import { tuningModule } from "./tuning/module.ts";
import { TuningRuntime } from "./tuning/runtime.ts";
import { upstreamModule } from "./upstream/module.ts";
import { Relay } from "./upstream/relay.ts";

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
  let tuning: TuningRuntime | undefined;
  let relay: Relay | undefined;
  const mi = createMi({
    log: opts.log,
    logLevel: config.log_level,
    argv: opts.argv,
    limits: {
      maxRequestBytes: config.mi.max_request_bytes,
      maxDepth: config.mi.max_depth,
      maxBatch: config.mi.max_batch,
      maxConcurrent: config.mi.max_concurrent,
      maxRunningBatches: config.mi.max_running_batches,
    },
    modules: (mi) => {
      const t = config.tuning;
      tuning = new TuningRuntime(opts.tuningEnv ?? tuningEnv(t), {
        profile: t.profile,
        verifyIntervalS: t.verify_interval_s,
        enforce: t.enforce,
      }, { stats: mi.stats, log: mi.attendant.log });
      relay = new Relay(mi.registry, mi.stats, mi.attendant.log);
      return [
        tuningModule(tuning, { stats: mi.stats, warn: (m) => mi.attendant.log.warn(m) }),
        upstreamModule(relay),
      ];
    },
  });
  if (opts.log === undefined) mi.log.level = config.log_level;
  relay!.configure(config.upstream);
  return { mi, tuning: tuning!, relay: relay! };
}
