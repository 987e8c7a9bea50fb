// The daemon from start to exit, as systemd sees it (Type=notify):
//
//   listeners up -> startup calls -> READY=1 + STATUS= -> serving
//   SIGHUP or `reload`: RELOADING=1 + MONOTONIC_USEC= ... READY=1 + STATUS=
//   SIGINT/SIGTERM: STOPPING=1 -> graceful stop -> exit 0
//
// WATCHDOG=1 goes out from this event loop the whole time. Every command
// that changes state leaves an audit record. See docs/service.md.

import type { Config } from "../config/schema.ts";
import { buildDaemonApp } from "../app_daemon.ts";
import { Auditor } from "./audit.ts";
import { Daemon, plannedListeners, StartError } from "./daemon.ts";
import { MemoryTrimmer } from "./memory.ts";
import { serviceModule } from "./module.ts";
import { notifierFromEnv, reloadingFields } from "./notify.ts";
import { privateTmpWarnings } from "./private_tmp.ts";
import { Reloader } from "./reload.ts";
import { runStartup } from "./startup.ts";
import { ServiceState } from "./status.ts";
import { Watchdog } from "./watchdog.ts";
import { WarnThrottle, within } from "../transports/listener.ts";
import type { Logger } from "../sys/log.ts";
import { fdLimit, raiseFdLimit } from "../sys/libc.ts";

export const EXIT_OK = 0;
export const EXIT_FAIL = 1;

export interface DaemonOptions {
  config: Config;
  /** The file read, or null for the embedded defaults. */
  source: string | null;
  /** The --config given to serve (undefined: the default path); a reload reads it again. */
  configPath: string | undefined;
  argv: readonly string[];
}

export async function runDaemon(o: DaemonOptions): Promise<number> {
  const app = buildDaemonApp(o.config, { argv: o.argv });
  const { mi, tuning, relay } = app;
  const log = mi.attendant.log;
  log.info(`sipmi starting (config: ${o.source ?? "embedded defaults"})`);
  for (const w of privateTmpWarnings(o.config, Deno.env.get("RUNTIME_DIRECTORY"))) log.warn(w);

  keepRunning(log);
  const requests = mi.stats.counter("mi", "requests");
  const trimmer = new MemoryTrimmer({ activity: () => requests.value() });
  trimmer.start();
  const notifier = notifierFromEnv(log);
  const watchdog = Watchdog.fromEnv(notifier, log);
  watchdog?.start();
  if (watchdog) log.info(`systemd watchdog: WATCHDOG=1 every ${watchdog.periodMs} ms`);

  const auditor = new Auditor(mi.log, o.config);
  mi.core.audit = auditor.hook;

  // Signals first: a SIGTERM or SIGHUP during startup must not kill the
  // process with the default action. The listeners stay until the process
  // exits, so a second SIGTERM during the stop is logged, not fatal.
  const stop = Promise.withResolvers<string>();
  let stopping = false;
  const onStop = (name: string) => () => {
    if (stopping) return log.notice(`${name}: already stopping`);
    stopping = true;
    stop.resolve(name);
  };
  Deno.addSignalListener("SIGINT", onStop("SIGINT"));
  Deno.addSignalListener("SIGTERM", onStop("SIGTERM"));
  let reloader: Reloader | undefined;
  let hupBeforeReady = false;
  Deno.addSignalListener("SIGHUP", () => {
    if (stopping) return log.notice("SIGHUP: stopping, no reload");
    if (!reloader) {
      hupBeforeReady = true;
      return log.notice("SIGHUP during startup: reloading once ready");
    }
    hangup(reloader);
  });
  const hangup = (r: Reloader) => {
    auditor.record("signal", "reload", ["SIGHUP"]);
    r.reload("SIGHUP").done.catch(() => {});
  };

  const daemon = new Daemon(mi, plannedListeners(mi, o.config));
  const state = new ServiceState(
    daemon,
    () => reloader,
    () => reloader?.config.startup.length ?? o.config.startup.length,
  );
  const status = (text: string) => notifier.send({ STATUS: text });

  try {
    // Before serving: the tuning worker, then roll back an apply a crash interrupted and
    // re-arm a pending confirmation.
    status("recovering the tuning state");
    await tuning.start();
    status("starting listeners");
    // The upstreams' command lists are fetched while the listeners start, and
    // are there before the startup calls run (each fetch within its timeout).
    const fetched = relay.start();
    try {
      await daemon.start();
    } catch (e) {
      if (!(e instanceof StartError)) throw e;
      for (const c of e.causes) log.error(`cannot start listener ${c}`);
      notifier.send({ STATUS: `cannot start: ${e.causes.join("; ")}`, STOPPING: 1 });
      return EXIT_FAIL;
    }

    await fetched;
    const calls = o.config.startup;
    if (calls.length > 0) status(`running ${calls.length} startup calls`);
    const exitOnFailure = o.config.startup_failure === "exit";
    state.startup = await runStartup(
      mi.core.endpoint({ transport: "startup", log }),
      calls,
      log,
      exitOnFailure,
    );
    if (state.startupFailed && exitOnFailure) {
      const failed = state.startup.find((r) => !r.ok)!;
      log.error(
        `startup call ${failed.method} failed and startup_failure is "exit": sipmi stops (${failed.error})`,
      );
      state.phase = "stopping";
      notifier.send({ STATUS: state.statusLine(), STOPPING: 1 });
      await daemon.stop(o.config.service.shutdown_timeout_ms);
      return EXIT_FAIL;
    }

    reloader = new Reloader({
      mi,
      daemon,
      configPath: o.configPath,
      config: o.config,
      source: o.source,
      auditor,
      relay,
      applyLive: (config) => app.reconfigure(config),
      onBegin: () => {
        state.phase = "reloading";
        notifier.send({ ...reloadingFields(), STATUS: "reloading the configuration" });
      },
      onEnd: () => {
        state.phase = stopping ? "stopping" : "ready";
        notifier.send({ READY: 1, STATUS: state.statusLine() });
      },
    });
    mi.registry.register(serviceModule(reloader, state));

    state.phase = "ready";
    trimmer.markBase();
    log.notice(`sipmi ready (${daemon.running.join(", ") || "no listeners"})`);
    notifier.send({ READY: 1, STATUS: state.statusLine() });
    if (hupBeforeReady) hangup(reloader);

    const signal = await stop.promise;
    state.phase = "stopping";
    log.notice(`${signal}: stopping`);
    notifier.send({ STOPPING: 1, STATUS: "stopping" });
    const timeout = reloader.config.service.shutdown_timeout_ms;
    // A reload in progress finishes first, so no listener starts after the stop.
    await within(reloader.idle(), timeout);
    await daemon.stop(timeout);
    log.notice("sipmi stopped");
    return EXIT_OK;
  } finally {
    relay.stop();
    await tuning.stop();
    trimmer.stop();
    watchdog?.stop();
    notifier.close();
  }
}

/**
 * What keeps the daemon up at resource limits (README, "Reliability"): the
 * open-file limit raised to what the hard limit allows, so that running out
 * of descriptors takes far more than a few hundred idle clients; a promise
 * rejected with nobody to handle it (a runtime failure under load, such as
 * EMFILE inside Deno.serve) logged, at most once a second, instead of ending
 * the process. (Memory a burst left behind is given back by service/memory.ts.)
 */
function keepRunning(log: Logger): void {
  try {
    const before = fdLimit().soft;
    const after = raiseFdLimit();
    if (after.soft > before) log.info(`open-file limit raised from ${before} to ${after.soft}`);
    else log.info(`open-file limit: ${after.soft}`);
  } catch (e) {
    log.warn(`cannot read the open-file limit: ${(e as Error).message}`);
  }
  const throttle = new WarnThrottle(log);
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    const r = e.reason;
    const what = r instanceof Error ? r.stack ?? r.message : String(r);
    throttle.error("unhandled", `unhandled failure, sipmi runs on: ${what}`);
  });
}
