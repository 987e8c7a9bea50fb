// Editing irqbalance's environment file (/etc/default/irqbalance on
// Debian, /etc/sysconfig/irqbalance on RHEL) without touching what the
// operator wrote. sipmi owns one block between marker comments and nothing
// else; every other byte stays as it was. The block goes at the end, so its
// assignments come last and win, both for systemd's EnvironmentFile= and
// for a shell that sources the file:
//
//   # BEGIN sipmi ...
//   IRQBALANCE_BANNED_CPULIST=2-3
//   IRQBALANCE_BANNED_CPUS=                     only when the file sets it: the
//                                               deprecated mask would win over the list
//   IRQBALANCE_ARGS="<the file's own value> --banirq=38 --banirq=39"
//   # END sipmi
//
// systemd does not expand $VARS inside an EnvironmentFile, so the block
// repeats the operator's IRQBALANCE_ARGS value rather than referring to it.

import { FormatError } from "./format_error.ts";
import { type EnvFile, parseEnvFile, splitWords } from "./irqbalance.ts";

export const BLOCK_BEGIN = "# BEGIN sipmi: written by `sipmi tune`; change it with sipmi, not here";
export const BLOCK_END = "# END sipmi";

/** What sipmi sets in the file. */
export interface BanSettings {
  /** IRQBALANCE_BANNED_CPULIST, or null to leave the banned CPUs alone. */
  cpulist: string | null;
  /** IRQs added to IRQBALANCE_ARGS as --banirq, ascending. */
  irqs: number[];
}

export interface ParsedFile {
  /** The file without sipmi's block: what the operator wrote. */
  outside: string;
  /** The operator's variables (outside the block). */
  env: EnvFile;
  /** What the block sets now, or null when there is no block. */
  block: BanSettings | null;
}

/** Splits a file into the operator's part and sipmi's block; a broken block is an error. */
export function parseIrqbalanceFile(text: string, path: string): ParsedFile {
  const lines = text.split("\n");
  const begins = lines.flatMap((l, i) => l.startsWith("# BEGIN sipmi") ? [i] : []);
  const ends = lines.flatMap((l, i) => l === BLOCK_END ? [i] : []);
  if (begins.length > 1 || ends.length > 1) {
    throw new FormatError(
      path,
      (begins[1] ?? ends[1]) + 1,
      "sipmi's block appears twice; remove one by hand",
    );
  }
  if (begins.length !== ends.length || (begins.length === 1 && ends[0] < begins[0])) {
    const line = (begins[0] ?? ends[0]) + 1;
    throw new FormatError(
      path,
      line,
      "sipmi's block has no matching BEGIN/END line; fix it by hand",
    );
  }
  if (begins.length === 0) return { outside: text, env: parseEnvFile(text, path), block: null };
  const [b, e] = [begins[0], ends[0]];
  const outside = [...lines.slice(0, b), ...lines.slice(e + 1)].join("\n");
  const env = parseEnvFile(outside, path);
  const inner = parseEnvFile(lines.slice(b + 1, e).join("\n"), path).vars;
  const theirs = new Set(bannedIrqsOf(env.vars.get("IRQBALANCE_ARGS")?.value ?? ""));
  const irqs = bannedIrqsOf(inner.get("IRQBALANCE_ARGS")?.value ?? "").filter((i) =>
    !theirs.has(i)
  );
  return {
    outside,
    env,
    block: { cpulist: inner.get("IRQBALANCE_BANNED_CPULIST")?.value ?? null, irqs },
  };
}

/** `--banirq=N` / `--banirq N` / `-i N` words of an argument string. */
export function bannedIrqsOf(args: string): number[] {
  const words = splitWords(args);
  const out: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const v = w.startsWith("--banirq=")
      ? w.slice(9)
      : w === "--banirq" || w === "-i"
      ? words[++i]
      : undefined;
    if (v !== undefined && /^[0-9]+$/.test(v)) out.push(Number(v));
  }
  return out;
}

/** A value as an EnvironmentFile (and sh) reads it back unchanged. */
export function quoteEnv(v: string): string {
  if (/^[A-Za-z0-9_.,:=/+@%-]*$/.test(v)) return v;
  return `"${v.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

function blockLines(b: BanSettings, env: EnvFile): string[] {
  const out = [BLOCK_BEGIN];
  if (b.cpulist !== null) {
    out.push(`IRQBALANCE_BANNED_CPULIST=${quoteEnv(b.cpulist)}`);
    if ((env.vars.get("IRQBALANCE_BANNED_CPUS")?.value ?? "") !== "") {
      out.push(
        "# the deprecated IRQBALANCE_BANNED_CPUS above would win over the list: emptied here",
        "IRQBALANCE_BANNED_CPUS=",
      );
    }
  }
  if (b.irqs.length > 0) {
    const theirs = env.vars.get("IRQBALANCE_ARGS")?.value ?? "";
    const already = new Set(bannedIrqsOf(theirs));
    const ours = b.irqs.filter((i) => !already.has(i)).map((i) => `--banirq=${i}`);
    if (ours.length > 0) {
      out.push(`IRQBALANCE_ARGS=${quoteEnv([theirs, ...ours].filter((w) => w !== "").join(" "))}`);
    }
  }
  out.push(BLOCK_END);
  return out;
}

/**
 * The file with sipmi's block set to `settings` (replacing an old block in
 * place, or appended), or with the block removed when `settings` is null.
 */
export function withBlock(text: string, path: string, settings: BanSettings | null): string {
  const lines = text.split("\n");
  const b = lines.findIndex((l) => l.startsWith("# BEGIN sipmi"));
  const e = lines.indexOf(BLOCK_END);
  const parsed = parseIrqbalanceFile(text, path);
  if (settings === null) {
    if (b < 0) return text;
    return [...lines.slice(0, b), ...lines.slice(e + 1)].join("\n");
  }
  const block = blockLines(settings, parsed.env);
  if (b >= 0) return [...lines.slice(0, b), ...block, ...lines.slice(e + 1)].join("\n");
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  return `${text}${sep}${block.join("\n")}\n`;
}

/** A small line diff of two versions of a config file: `- old` / `+ new` lines, in order. */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split("\n"), b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length, endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return [
    ...a.slice(start, endA).map((l) => `- ${l}`),
    ...b.slice(start, endB).map((l) => `+ ${l}`),
  ];
}
