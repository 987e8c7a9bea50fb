// `sipmi mi [--local | transport options] COMMAND [ARGS...]`: run one MI
// command, in-process or against a daemon, and print its result.

import { loadConfig } from "../config/load.ts";
import { buildMi } from "../app.ts";
import { runCall } from "../mi/script.ts";
import { wordsToParams } from "./mi_args.ts";
import { eprint, EXIT_FAIL, EXIT_OK, parseOptions, splitAtCommand, UsageError } from "./common.ts";

export const usage = `Usage: sipmi mi [OPTIONS] COMMAND [ARGS...]

Runs one MI command and prints its result as JSON.

Where the command runs:
  --local              in this process, through the same MI core as the daemon
                       (no daemon needed)

Options:
  --config PATH        config file (default /etc/sipmi/sipmi.jsonc)
  --raw                print the compact JSON-RPC reply instead of the result
  -h, --help           this help

ARGS follow opensips-cli: NAME=VALUE words give named params, other words
positional ones; numbers stay numbers, [..], {..} and "..." are JSON.
  sipmi mi --local log_level 4
  sipmi mi --local get_statistics mi: core:
  sipmi mi --local help uptime

Exit status: 0 result, 1 error reply, 2 usage or transport failure.`;

const VALUED = new Set(["--config"]);

export async function run(args: string[]): Promise<number> {
  const { options, rest } = splitAtCommand(args, VALUED);
  const { values } = parseOptions(options, {
    local: { type: "boolean" },
    config: { type: "string" },
    raw: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(usage);
    return EXIT_OK;
  }
  const [command, ...words] = rest;
  if (!command) throw new UsageError("missing COMMAND");
  if (!values.local) {
    throw new UsageError("only --local is available in this build (transports come next)");
  }
  const { config } = await loadConfig(values.config);
  const mi = buildMi(config, { argv: ["sipmi", ...args] });
  const ep = mi.core.endpoint({ transport: "cli", log: mi.attendant.log });
  const reply = await runCall(ep, { method: command, params: wordsToParams(command, words) });
  return printReply(reply, values.raw ?? false);
}

/** Prints a reply: the result pretty on stdout, or the error on stderr; returns the exit code. */
export function printReply(reply: string, raw: boolean): number {
  const r = JSON.parse(reply) as {
    result?: unknown;
    error?: { code: number; message: string; data?: string };
  };
  if (raw) console.log(reply);
  else if (r.error === undefined) console.log(JSON.stringify(r.result, null, 2));
  if (r.error !== undefined) {
    if (!raw) {
      eprint(
        `error ${r.error.code}: ${r.error.message}${r.error.data ? ` (${r.error.data})` : ""}`,
      );
    }
    return EXIT_FAIL;
  }
  return EXIT_OK;
}
