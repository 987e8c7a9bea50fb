// Every user-supplied pattern (an MI parameter such as `match` or `name`, a
// profile's `irqs[].match` or `processes[].name`) is compiled here and
// nowhere else, so how patterns are matched can change in one place.

/** Longest pattern accepted (they run against every IRQ and process name). */
export const MAX_PATTERN = 200;

/** Compiles a pattern; returns the problem as text when it is not one. */
export function compilePattern(text: string): RegExp | string {
  if (text === "" || text.length > MAX_PATTERN) {
    return `must be a regular expression of 1..${MAX_PATTERN} characters`;
  }
  try {
    return new RegExp(text);
  } catch (e) {
    return `is not a regular expression: ${(e as Error).message}`;
  }
}
