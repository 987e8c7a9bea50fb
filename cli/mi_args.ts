// Command-line words to MI params, following opensips-cli so muscle memory
// carries over (docs/protocol.md, "How the common clients talk"):
// - every word `name=value` → named params;
// - otherwise positional params;
// - numbers stay numbers, `[...]`, `{...}` and `"..."` are read as JSON;
// - for the statistics commands the words are packed into one array, so
//   `get_statistics core: mi:` works as it does with opensips-cli.

import type { MiParams } from "../mi/jsonrpc.ts";
import { wordValue } from "../mi/words.ts";

/** Commands whose trailing words form one array param (opensips-cli's list, core subset). */
const ARRAY_PARAM_COMMANDS: Readonly<Record<string, number>> = {
  get_statistics: 0,
  list_statistics: 0,
  reset_statistics: 0,
};

const NAMED = /^[a-zA-Z._-]+=/;
/** The params of `sipmi mi COMMAND WORDS...`; undefined for none. */
export function wordsToParams(command: string, words: readonly string[]): MiParams | undefined {
  if (words.length === 0) return undefined;
  const arrayAt = ARRAY_PARAM_COMMANDS[command];
  if (words.every((w) => NAMED.test(w))) {
    const named: Record<string, unknown> = {};
    for (const w of words) {
      const eq = w.indexOf("=");
      const value = w.slice(eq + 1);
      const v = wordValue(value);
      named[w.slice(0, eq)] = arrayAt !== undefined && !Array.isArray(v)
        ? value.split(/\s+/).filter(Boolean)
        : v;
    }
    return named;
  }
  const values = words.map(wordValue);
  if (arrayAt === undefined || values.length <= arrayAt) return values;
  // One JSON array where the array goes: already packed.
  if (values.length === arrayAt + 1 && Array.isArray(values[arrayAt])) return values;
  return [...values.slice(0, arrayAt), words.slice(arrayAt)];
}
