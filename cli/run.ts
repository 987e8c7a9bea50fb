// `sipmi run FILE.jsonc`: runs a list of MI calls in-process, in order, and
// prints each reply as one line of JSON (the compact JSON-RPC reply).

import { loadConfig, parseJsonc } from "../config/load.ts";
import { callSpec } from "../config/schema.ts";
import { list } from "../config/spec.ts";
import { buildMi } from "../app.ts";
import { runCall } from "../mi/script.ts";
import { EXIT_FAIL, EXIT_OK, parseOptions, UsageError } from "./common.ts";
import { ConfigError } from "../config/load.ts";
import { resolve } from "node:path";
import { hostRoot } from "../sys/hostfs.ts";

export const usage = `Usage: sipmi run [OPTIONS] FILE.jsonc

Runs the MI calls listed in FILE in this process, in order, through the same
MI core as the daemon, and prints each JSON-RPC reply on its own line.
FILE is a JSONC array of calls:
  [
    {"method": "log_level", "params": [4]},
    {"method": "get_statistics", "params": {"statistics": ["mi:"]}}
  ]

Options:
  --config PATH        config file (default /etc/sipmi/sipmi.jsonc)
  --keep-going         run every call even after an error reply (default: stop)
  -h, --help           this help

Exit status: 0 all calls succeeded, 1 a call failed or FILE is invalid, 2 usage.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    config: { type: "string" },
    "keep-going": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, { positionals: true });
  if (values.help) {
    console.log(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError("expected exactly one FILE");
  const file = positionals[0];
  let text: string;
  try {
    text = await hostRoot.readText(resolve(file));
  } catch (e) {
    throw new ConfigError([`${file}: cannot read: ${(e as Error).message}`], "calls file");
  }
  const calls = parseJsonc(list(callSpec, []), text, file, undefined, "calls file");
  const { config } = await loadConfig(values.config);
  const mi = buildMi(config, { argv: ["sipmi", "run", ...args] });
  const ep = mi.core.endpoint({ transport: "script", log: mi.attendant.log });
  let failed = false;
  for (let i = 0; i < calls.length; i++) {
    const reply = await runCall(ep, calls[i], i + 1);
    console.log(reply);
    if ((JSON.parse(reply) as { error?: unknown }).error !== undefined) {
      failed = true;
      if (!values["keep-going"]) break;
    }
  }
  return failed ? EXIT_FAIL : EXIT_OK;
}
