// `sipmi serve`: the daemon (service/lifecycle.ts). Reads the config and
// hands over; a bad config is reported by the CLI like for every subcommand.

import { loadConfig } from "../config/load.ts";
import { runDaemon } from "../service/lifecycle.ts";
import { EXIT_OK, parseOptions } from "./common.ts";

export const usage = `Usage: sipmi serve [--config PATH]

Runs the MI daemon with the listeners of the config (FIFO, UDP and unix
datagram, HTTP). Without a config file every key has its embedded default.

Under systemd (Type=notify) it sends READY=1 once the listeners are up and
the config's startup calls ran, STATUS= lines, WATCHDOG=1 at half of
WATCHDOG_USEC, and STOPPING=1. SIGHUP re-reads the config (a bad one is
logged and the running one stays); SIGINT/SIGTERM stop it cleanly.

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
  return await runDaemon({
    config,
    source,
    configPath: values.config,
    argv: [Deno.execPath(), ...Deno.args],
  });
}
