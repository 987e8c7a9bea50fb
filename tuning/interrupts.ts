// /proc/interrupts and /proc/softirqs: a header of `CPUn` columns (online
// CPUs only, so numbers may have gaps), then one row per IRQ. Numeric rows
// (`38:`) carry a count per CPU, then the chip, hwirq/trigger and the action
// names; named rows (`LOC:`, s390x `I/O:`) carry counts and a description,
// and some (`ERR:`, `MIS:`) a single count. Layouts differ by architecture
// (x86 `IO-APIC 2-edge timer`, arm64 `GICv3 27 Level arch_timer`, s390x
// `PCI-MSI mlx5_async@...`, old x86 `IR-PCI-MSI-edge eth0-TxRx-0`), so the
// count columns are taken from the header and the rest is read leniently.
//
// The 1152-CPU fixture is 13 MB; the scanner below reads counts without
// splitting lines into token arrays.

import { FormatError } from "./format_error.ts";

export interface IrqRow {
  /** The row label without the colon: `38`, `LOC`, `I/O`. */
  irq: string;
  /** A numbered IRQ (has /proc/irq/N), as opposed to an architecture row. */
  numeric: boolean;
  /** Per-CPU counts, aligned with `Interrupts.cpus` (named rows may have fewer). */
  counts: number[];
  total: number;
  /** Interrupt chip (`IO-APIC`, `PCI-MSIX-0000:00:03.0`, `GICv3`); null on named rows. */
  chip: string | null;
  /** Hardware IRQ number within the chip's domain, when printed. */
  hwirq: string | null;
  /** Flow handler or trigger: `edge`, `fasteoi`, `Level`, `Edge`. */
  trigger: string | null;
  /** Action names of a numeric row (`virtio2-input.0`, `ehci_hcd:usb1, mmc0`); description of a named row. */
  name: string;
  /** 1-based line in the file. */
  line: number;
}

export interface Interrupts {
  /** The CPU number of each count column. */
  cpus: number[];
  rows: IrqRow[];
}

const SPACE = 32, TAB = 9, ZERO = 48, NINE = 57;

function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === 13;
}

/** Reads the `CPU0 CPU1 ...` header; throws naming the file when it is not one. */
export function parseCpuHeader(line: string, path: string): number[] {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length === 0 || tokens[0] === "") {
    throw new FormatError(
      path,
      1,
      "expected a header of CPU columns (CPU0 CPU1 ...), found nothing",
    );
  }
  const cpus: number[] = [];
  for (const t of tokens) {
    const m = /^CPU([0-9]+)$/.exec(t);
    if (!m) {
      throw new FormatError(
        path,
        1,
        `expected a header of CPU columns (CPU0 CPU1 ...), found '${t}'`,
      );
    }
    const n = Number(m[1]);
    if (cpus.length > 0 && n <= cpus[cpus.length - 1]) {
      throw new FormatError(path, 1, `CPU columns out of order at '${t}'`);
    }
    cpus.push(n);
  }
  return cpus;
}

interface ScannedRow {
  label: string;
  counts: number[];
  total: number;
  /** Text after the counts, trimmed. */
  rest: string;
}

/** Splits a row into label, leading decimal counts (at most `max`) and the rest. */
function scanRow(line: string, max: number, path: string, lineNo: number): ScannedRow {
  const colon = line.indexOf(":");
  const label = colon < 0 ? "" : line.slice(0, colon).trim();
  if (colon < 0 || label === "" || /\s/.test(label)) {
    throw new FormatError(
      path,
      lineNo,
      `expected 'NAME:' followed by counts, found '${cut(line)}'`,
    );
  }
  const counts: number[] = [];
  let total = 0;
  let pos = colon + 1;
  const len = line.length;
  while (counts.length < max) {
    while (pos < len && isSpace(line.charCodeAt(pos))) pos++;
    if (pos >= len) break;
    let end = pos, n = 0;
    for (; end < len; end++) {
      const c = line.charCodeAt(end);
      if (c < ZERO || c > NINE) break;
      n = n * 10 + (c - ZERO);
    }
    // A token that is not all digits starts the description.
    if (end === pos || (end < len && !isSpace(line.charCodeAt(end)))) break;
    if (!Number.isSafeInteger(n)) {
      throw new FormatError(path, lineNo, `${label}: count '${line.slice(pos, end)}' is too large`);
    }
    counts.push(n);
    total += n;
    pos = end;
  }
  return { label, counts, total, rest: line.slice(pos).trim() };
}

function cut(s: string): string {
  const t = s.trim();
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

// chip, then optional hwirq, then `-handler` (x86 `2-edge`, Xen `-ioapic-level`)
// or a trigger word (arm64 `27 Level`), then the action names.
const TAIL = /^(\S+)(?:\s+([0-9]+)(?=[\s-]|$))?(?:\s*-(\S+)|\s+(Level|Edge)(?=\s|$))?\s*(.*)$/;

/** Parses /proc/interrupts text; `path` names the file in errors. */
export function parseInterrupts(text: string, path = "/proc/interrupts"): Interrupts {
  const lines = text.split("\n");
  const cpus = parseCpuHeader(lines[0] ?? "", path);
  const rows: IrqRow[] = [];
  const seen = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === "") continue;
    const lineNo = i + 1;
    const s = scanRow(line, cpus.length, path, lineNo);
    const numeric = /^[0-9]+$/.test(s.label);
    if (numeric && s.counts.length < cpus.length) {
      const next = s.rest.split(/\s/, 1)[0];
      throw new FormatError(
        path,
        lineNo,
        `IRQ ${s.label}: expected ${cpus.length} per-CPU counts, found ${s.counts.length}` +
          (s.counts.length === 0 && next !== ""
            ? ` ('${cut(next)}' is not a count)`
            : " (truncated line?)"),
      );
    }
    if (s.counts.length === 0) {
      throw new FormatError(path, lineNo, `${s.label}: no counts (truncated line?)`);
    }
    const first = seen.get(s.label);
    if (first !== undefined) {
      throw new FormatError(path, lineNo, `${s.label} is listed twice (first on line ${first})`);
    }
    seen.set(s.label, lineNo);
    let chip: string | null = null, hwirq: string | null = null, trigger: string | null = null;
    let name = s.rest;
    if (numeric && s.rest !== "") {
      const m = TAIL.exec(s.rest)!;
      chip = m[1];
      hwirq = m[2] ?? null;
      trigger = m[3] ?? m[4] ?? null;
      name = m[5];
    }
    rows.push({
      irq: s.label,
      numeric,
      counts: s.counts,
      total: s.total,
      chip,
      hwirq,
      trigger,
      name,
      line: lineNo,
    });
  }
  return { cpus, rows };
}

export interface Softirqs {
  cpus: number[];
  /** `NET_RX` -> per-CPU counts aligned with `cpus`. */
  rows: Map<string, number[]>;
}

/** Parses /proc/softirqs: the same header, then `NAME:` rows with one count per CPU. */
export function parseSoftirqs(text: string, path = "/proc/softirqs"): Softirqs {
  const lines = text.split("\n");
  const cpus = parseCpuHeader(lines[0] ?? "", path);
  const rows = new Map<string, number[]>();
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const s = scanRow(lines[i], cpus.length, path, i + 1);
    if (s.counts.length !== cpus.length || s.rest !== "") {
      throw new FormatError(
        path,
        i + 1,
        `${s.label}: expected ${cpus.length} per-CPU counts, found ${s.counts.length}` +
          (s.rest !== "" ? ` and '${cut(s.rest)}'` : " (truncated line?)"),
      );
    }
    if (rows.has(s.label)) throw new FormatError(path, i + 1, `${s.label} is listed twice`);
    rows.set(s.label, s.counts);
  }
  return { cpus, rows };
}
