// One word of text as an MI param value, the way `sipmi mi` reads its
// arguments and the browser page reads its form fields (opensips-cli's
// habits): numbers stay numbers, `[...]`, `{...}` and `"..."` are read as
// JSON, anything else is a string.

const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** One word as a JSON value. */
export function wordValue(word: string): unknown {
  if (NUMBER.test(word)) {
    const n = Number(word);
    if (Number.isSafeInteger(n) || !Number.isInteger(n)) return n;
  }
  const c = word[0];
  if (c === "[" || c === "{" || c === '"') {
    try {
      return JSON.parse(word);
    } catch {
      // Not JSON after all: send the word as it is.
    }
  }
  return word;
}
