// Every user-supplied pattern of the tuning side (an MI parameter such as
// `match` or `name`, a profile's `irqs[].match` or `processes[].name`) is
// compiled here and nowhere else, by the linear-time matcher of
// sys/pattern.ts: no pattern can freeze the daemon (docs/protocol.md, "Patterns").

import { compilePattern as compileLinear, type Pattern, PatternError } from "../sys/pattern.ts";

export type { Pattern };

/** Longest pattern accepted (they run against every IRQ and process name). */
export const MAX_PATTERN = 200;

/** Compiles a pattern; returns the problem as text when it is not one. */
export function compilePattern(text: string): Pattern | string {
  if (text === "" || text.length > MAX_PATTERN) {
    return `must be a regular expression of 1..${MAX_PATTERN} characters`;
  }
  try {
    return compileLinear(text);
  } catch (e) {
    if (e instanceof PatternError) return `is not a regular expression: ${e.message}`;
    throw e;
  }
}
