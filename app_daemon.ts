// The MI instance of the daemon: limits and log level from the config, and
// the tuning module run in the tuning worker (tuning/worker.ts), so host
// reads and parsing never hold up the event loop that serves every
// transport. Only the worker's client loads here; the tuning code itself
// loads in the worker. The in-process build for the CLI is app.ts.

import type { Config } from "./config/schema.ts";
import { createMi, type MiInstance, type MiOptions } from "./mi/instance.ts";
import type { Log } from "./sys/log.ts";
import { HostSampler } from "./tuning/host_sampler.ts";
import { TuningWorker } from "./tuning/worker_client.ts";
import type { WorkerInit } from "./tuning/wire.ts";
import { installRelay } from "./upstream/module.ts";
import type { Relay } from "./upstream/relay.ts";

/** What the daemon's lifecycle drives: the tuning side's background work. */
export interface TuningControl {
  /** Starts the tuning worker, registers its commands and statistics, runs crash recovery. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface DaemonApp {
  mi: MiInstance;
  tuning: TuningControl;
  /** The upstream relay, configured: the daemon calls start() and stop(). */
  relay: Relay;
  /** Applies what a config reload may change live: stats.host_max_age_ms and tuning settings. */
  reconfigure(config: Config): Promise<void>;
  /** The tuning worker once started (tests make it crash). */
  readonly worker: TuningWorker | undefined;
}

/** The options every build of the MI instance takes from the config. */
export function miOptions(
  config: Config,
  log: Log | undefined,
  argv?: readonly string[],
): MiOptions {
  return {
    log,
    logLevel: config.log_level,
    argv,
    limits: {
      maxRequestBytes: config.mi.max_request_bytes,
      maxDepth: config.mi.max_depth,
      maxBatch: config.mi.max_batch,
      maxConcurrent: config.mi.max_concurrent,
      maxRunningBatches: config.mi.max_running_batches,
    },
  };
}

export function workerInit(config: Config): WorkerInit {
  const t = config.tuning;
  return {
    tuning: {
      root: t.root,
      state_dir: t.state_dir,
      profile: t.profile,
      verify_interval_s: t.verify_interval_s,
      enforce: t.enforce,
      sip: {
        units: [...t.sip.units],
        process_names: [...t.sip.process_names],
        nic: t.sip.nic,
        ports: [...t.sip.ports],
      },
    },
  };
}

/**
 * The daemon's MI instance. Its tuning commands and host statistics exist
 * once `tuning.start()` has started the worker, which the daemon does
 * before its listeners and startup calls.
 */
export function buildDaemonApp(
  config: Config,
  opts: { log?: Log; argv?: readonly string[] } = {},
): DaemonApp {
  const mi = createMi(miOptions(config, opts.log, opts.argv));
  const log = mi.attendant.log;
  let worker: TuningWorker | undefined;
  let maxAgeMs = config.stats.host_max_age_ms;
  let sampler: HostSampler | undefined;
  let tuning = workerInit(config).tuning;
  const relay = installRelay(mi, config.upstream);
  return {
    mi,
    relay,
    get worker() {
      return worker;
    },
    tuning: {
      async start() {
        if (worker === undefined) {
          worker = await TuningWorker.start({ tuning }, log, mi.stats);
          mi.registry.register(worker.module());
          const w = worker;
          sampler = new HostSampler((group) => w.group(group), maxAgeMs, (m) => log.warn(m));
          sampler.register(mi.stats, w.groups);
        }
        await worker.start();
      },
      async stop() {
        await worker?.stop();
      },
    },
    async reconfigure(next: Config) {
      maxAgeMs = next.stats.host_max_age_ms;
      if (sampler !== undefined) sampler.maxAgeMs = maxAgeMs;
      tuning = workerInit(next).tuning;
      await worker?.reconfigure(tuning);
    },
  };
}
