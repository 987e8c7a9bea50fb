// The MI instance of this build of sipmi: limits and log level from the
// config, and every module (core and statistics come from mi/instance.ts).
// The daemon and the in-process CLI both build it here, so they have the
// same commands.

import type { Config } from "./config/schema.ts";
import { createMi, type MiInstance } from "./mi/instance.ts";
import type { Log } from "./sys/log.ts";
import { tuningEnv } from "./tuning/env.ts";
import { tuningModule } from "./tuning/module.ts";

export function buildMi(
  config: Config,
  opts: { log?: Log; argv?: readonly string[] } = {},
): MiInstance {
  const mi = createMi({
    log: opts.log,
    logLevel: config.log_level,
    argv: opts.argv,
    limits: {
      maxRequestBytes: config.mi.max_request_bytes,
      maxDepth: config.mi.max_depth,
      maxBatch: config.mi.max_batch,
      maxConcurrent: config.mi.max_concurrent,
    },
    modules: (mi) => [
      tuningModule(tuningEnv(config.tuning), {
        stats: mi.stats,
        warn: (m) => mi.attendant.log.warn(m),
      }),
    ],
  });
  if (opts.log === undefined) mi.log.level = config.log_level;
  return mi;
}
