// What every subcommand shares: option parsing with one-line usage errors
// (exit 2), config loading with readable errors, and output helpers.

import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../config/load.ts";

/** A wrong command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const EXIT_OK = 0;
/** The command ran and failed (an MI error reply, a bad config, a failed check). */
export const EXIT_FAIL = 1;
/** Bad usage or a transport failure. */
export const EXIT_USAGE = 2;

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs in strict mode, its errors turned into one-line UsageErrors. */
export function parseOptions<O extends Options>(
  args: string[],
  options: O,
  opts: { positionals?: boolean } = {},
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: opts.positionals ?? false });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]);
  }
}

/**
 * Splits `[options] COMMAND [args...]`: options end at the first word that is
 * not an option, so command arguments such as `-1` are never read as flags.
 */
export function splitAtCommand(
  args: string[],
  valued: ReadonlySet<string>,
): { options: string[]; rest: string[] } {
  let i = 0;
  while (i < args.length) {
    const a = args[i];
    if (a === "--") return { options: args.slice(0, i), rest: args.slice(i + 1) };
    if (!a.startsWith("-") || a === "-") break;
    i += valued.has(a) ? 2 : 1;
  }
  return { options: args.slice(0, i), rest: args.slice(i) };
}

export function printJson(v: unknown): void {
  console.log(JSON.stringify(v, null, 2));
}

export function eprint(msg: string): void {
  console.error(msg);
}

/** Runs a subcommand body, mapping usage and config errors to their exit codes. */
export async function guarded(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      eprint(`sipmi ${name}: ${e.message} (see 'sipmi ${name} --help')`);
      return EXIT_USAGE;
    }
    if (e instanceof ConfigError) {
      eprint(`sipmi ${name}: bad ${e.what}:\n${e.problems.map((p) => `  ${p}`).join("\n")}`);
      return EXIT_FAIL;
    }
    throw e;
  }
}
