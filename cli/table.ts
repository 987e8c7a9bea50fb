// Aligned plain-text tables and key/value blocks for human output. No
// colours and no terminal width tricks: the output is read in terminals,
// pasted into tickets and diffed.

export type Cell = string | number | boolean | null | undefined;

function text(c: Cell): string {
  if (c === null || c === undefined) return "-";
  if (typeof c === "boolean") return c ? "yes" : "no";
  return String(c);
}

/** Columns left-aligned, numbers right-aligned; two spaces between columns. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = rows.map((r) => r.map(text));
  const numeric = headers.map((_, i) =>
    rows.length > 0 &&
    rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined)
  );
  const width = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => {
      const last = i === r.length - 1;
      if (numeric[i]) return c.padStart(width[i]);
      return last ? c : c.padEnd(width[i]);
    }).join("  ").trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

/** `key: value` lines with the values aligned. */
export function keyValues(pairs: readonly [string, Cell][]): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${(k + ":").padEnd(w + 1)} ${text(v)}`.trimEnd()).join("\n");
}
