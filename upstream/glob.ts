// Command-name patterns of the upstream config (`mutating`, `commands.allow`
// and `deny`): `*` stands for any run of characters, everything else is
// literal. Patterns come from the operator and names from the SIP router, so
// matching must cost time linear in the name and the pattern whatever they
// are: no regular expression, no backtracking. This is the one place such
// patterns are matched; swap it for the project-wide matcher when there is one.

/**
 * True when `name` matches `pattern`. The pattern splits at `*` into
 * literal pieces: the first must start the name, the last must end it, and
 * the ones between must occur in order in what is left. Taking each middle
 * piece at its leftmost place is always right (it leaves the most room for
 * the rest), and each is found with KMP, so no character is looked at more
 * than a fixed number of times.
 */
export function globMatch(pattern: string, name: string): boolean {
  const pieces = pattern.split("*");
  if (pieces.length === 1) return pattern === name;
  const first = pieces[0], last = pieces[pieces.length - 1];
  if (first.length + last.length > name.length) return false;
  if (!name.startsWith(first) || !name.endsWith(last)) return false;
  let from = first.length;
  const end = name.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const at = findFrom(name, pieces[i], from, end);
    if (at < 0) return false;
    from = at + pieces[i].length;
  }
  return true;
}

/** A matcher for several patterns (any may match); none matches nothing. */
export function globMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.includes("*")));
  const globs = patterns.filter((p) => p.includes("*"));
  return (name) => exact.has(name) || globs.some((p) => globMatch(p, name));
}

/** Where `needle` first occurs in `text` between `from` and `end`, or -1 (Knuth-Morris-Pratt). */
function findFrom(text: string, needle: string, from: number, end: number): number {
  if (needle === "") return from;
  const fail = new Int32Array(needle.length);
  for (let i = 1, k = 0; i < needle.length; i++) {
    while (k > 0 && needle[i] !== needle[k]) k = fail[k - 1];
    if (needle[i] === needle[k]) k++;
    fail[i] = k;
  }
  for (let i = from, k = 0; i < end; i++) {
    while (k > 0 && text[i] !== needle[k]) k = fail[k - 1];
    if (text[i] === needle[k]) k++;
    if (k === needle.length) return i - needle.length + 1;
  }
  return -1;
}
