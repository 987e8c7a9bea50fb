// `sipmi config print|check`: the effective configuration, or a check of a file.

import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/load.ts";
import { EXIT_OK, parseOptions, UsageError } from "./common.ts";

export const usage = `Usage: sipmi config print [--config PATH]
       sipmi config check [--config PATH]

print   shows the effective configuration as JSONC: the file's values over
        the embedded defaults (every key, so it is also a template)
check   validates the file; errors name the key, file, line and column

Without --config, ${DEFAULT_CONFIG_PATH} is read when it exists and the
embedded defaults are used otherwise.`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, { positionals: true });
  if (values.help) {
    console.log(usage);
    return EXIT_OK;
  }
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (action !== "print" && action !== "check") {
    throw new UsageError(
      action ? `unknown action '${action}' (print or check)` : "missing action (print or check)",
    );
  }
  const { config, source } = await loadConfig(values.config);
  if (action === "print") console.log(JSON.stringify(config, null, 2));
  else console.log(`${source ?? "embedded defaults"}: OK`);
  return EXIT_OK;
}
