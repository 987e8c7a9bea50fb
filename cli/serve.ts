// `sipmi serve`: the daemon. Builds the MI instance from the config, starts
// the listeners, runs the startup calls, and stops cleanly on SIGINT/SIGTERM.

import { loadConfig } from "../config/load.ts";
import { buildApp } from "../app.ts";
import { runCall } from "../mi/script.ts";
import { Daemon, listenersFrom, StartError } from "../service/daemon.ts";
import { EXIT_FAIL, EXIT_OK, parseOptions } from "./common.ts";

export const usage = `Usage: sipmi serve [--config PATH]

Runs the MI daemon with the listeners of the config (FIFO, UDP and unix
datagram, HTTP). Without a config file every key has its embedded default.
SIGINT/SIGTERM stop it cleanly.

Options:
  --config PATH        config file (default /etc/sipmi/sipmi.jsonc)
  -h, --help           this help`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(usage);
    return EXIT_OK;
  }
  const { config, source } = await loadConfig(values.config);
  const { mi, tuning } = buildApp(config, { argv: [Deno.execPath(), ...Deno.args] });
  const log = mi.attendant.log;
  log.info(`sipmi starting (config: ${source ?? "embedded defaults"})`);
  // Listen for signals first: a SIGTERM during startup still stops cleanly.
  const stop = Promise.withResolvers<string>();
  let stopping = false;
  const onSignal = (name: string) => () => {
    if (stopping) return log.notice(`${name}: already stopping`);
    stopping = true;
    stop.resolve(name);
  };
  // The listeners stay until the process exits: a second SIGTERM during or
  // right after the shutdown (systemd, an impatient operator) must not kill
  // the process with the default action and turn a clean stop into exit 143.
  Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
  // Before serving: roll back an apply a crash interrupted, re-arm a pending confirmation.
  await tuning.start();
  const daemon = new Daemon(mi, listenersFrom(mi, config));
  try {
    await daemon.start();
  } catch (e) {
    await tuning.stop();
    if (!(e instanceof StartError)) throw e;
    for (const c of e.causes) log.error(`cannot start listener ${c}`);
    return EXIT_FAIL;
  }
  const ep = mi.core.endpoint({ transport: "startup", log });
  for (const call of config.startup) {
    const reply = await runCall(ep, call);
    if ((JSON.parse(reply) as { error?: unknown }).error !== undefined) {
      log.error(`startup call ${call.method} failed: ${reply}`);
      await daemon.stop(config.service.shutdown_timeout_ms);
      await tuning.stop();
      return EXIT_FAIL;
    }
    log.info(`startup call ${call.method}: ${reply}`);
  }
  log.notice(`sipmi ready (${daemon.running.join(", ") || "no listeners"})`);
  const signal = await stop.promise;
  log.notice(`${signal}: stopping`);
  await daemon.stop(config.service.shutdown_timeout_ms);
  await tuning.stop();
  log.notice("sipmi stopped");
  return EXIT_OK;
}
