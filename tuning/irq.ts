// IRQs as an operator sees them: the /proc/interrupts row joined with
// /proc/irq/N (requested smp_affinity_list, effective_affinity_list, node)
// and whether userspace may change the affinity at all.
//
// "Changeable" is judged by the mode of /proc/irq/N/smp_affinity: kernels
// since 6.x create it 0444 for IRQs whose affinity userspace cannot set
// (kernel-managed, per-CPU, no-balancing); older kernels answer EIO/EPERM
// on write instead, which only the apply step (a later issue) can see. A
// fixture root keeps the mode, so a 0444 file is judged by its mode even
// though root could write to a plain file.

import type { HostFs } from "../sys/hostfs.ts";
import { CpuSet, parseKernelCpuList, parseKernelCpuMask } from "./cpuset.ts";
import { atLine, FormatError } from "./format_error.ts";
import { type Interrupts, type IrqRow, parseInterrupts } from "./interrupts.ts";
import { mapLimit } from "./pool.ts";

export const INTERRUPTS = "/proc/interrupts";

/** What /proc/irq/N says about one numbered IRQ; null where the kernel has no file. */
export interface IrqAffinity {
  /** Requested CPUs (smp_affinity_list, or smp_affinity when there is no list file). */
  requested: CpuSet | null;
  /** Where the interrupt is delivered (effective_affinity_list); null on kernels without it. */
  effective: CpuSet | null;
  /** The IRQ descriptor's NUMA node; -1 = none. */
  node: number | null;
  /** null when /proc/irq/N/smp_affinity does not exist (unknown). */
  changeable: boolean | null;
  unchangeableReason: string | null;
}

/** One row of irq_list: JSON as returned by the MI command. */
export interface IrqInfo {
  irq: string;
  numeric: boolean;
  name: string;
  chip: string | null;
  hwirq: string | null;
  trigger: string | null;
  total: number;
  /** Per-CPU counts, aligned with the `cpus` of the listing. */
  counts: number[];
  smp_affinity_list: string | null;
  effective_affinity_list: string | null;
  node: number | null;
  changeable: boolean | null;
  unchangeable_reason: string | null;
}

export async function readInterrupts(fs: HostFs): Promise<Interrupts> {
  return parseInterrupts(await fs.readText(INTERRUPTS), INTERRUPTS);
}

async function readList(fs: HostFs, listPath: string, maskPath?: string): Promise<CpuSet | null> {
  const list = await fs.readTextIfExists(listPath);
  if (list !== undefined) return atLine(listPath, 1, () => parseKernelCpuList(firstLine(list)));
  if (maskPath === undefined) return null;
  const mask = await fs.readTextIfExists(maskPath);
  if (mask === undefined) return null;
  return atLine(maskPath, 1, () => parseKernelCpuMask(firstLine(mask)));
}

function firstLine(text: string): string {
  const nl = text.indexOf("\n");
  return nl < 0 ? text : text.slice(0, nl);
}

/** Reads a file holding one decimal integer (`node`, `numa_node`); null when absent. */
export async function readInt(fs: HostFs, path: string): Promise<number | null> {
  const text = await fs.readTextIfExists(path);
  if (text === undefined) return null;
  const t = firstLine(text).trim();
  if (!/^-?[0-9]+$/.test(t)) throw new FormatError(path, 1, `expected an integer, found '${t}'`);
  return Number(t);
}

export async function readIrqAffinity(fs: HostFs, irq: string): Promise<IrqAffinity> {
  const dir = `/proc/irq/${irq}`;
  const [requested, effective, node, stat] = await Promise.all([
    readList(fs, `${dir}/smp_affinity_list`, `${dir}/smp_affinity`),
    readList(fs, `${dir}/effective_affinity_list`, `${dir}/effective_affinity`),
    readInt(fs, `${dir}/node`),
    fs.statIfExists(`${dir}/smp_affinity`),
  ]);
  let changeable: boolean | null = null, reason: string | null = null;
  if (stat !== undefined && stat.mode !== null) {
    changeable = (stat.mode & 0o222) !== 0;
    if (!changeable) {
      reason = `${dir}/smp_affinity is mode 0${
        stat.mode.toString(8)
      }: the kernel does not let userspace set it (managed, per-CPU or no-balancing IRQ)`;
    }
  }
  return { requested, effective, node, changeable, unchangeableReason: reason };
}

const NO_AFFINITY: IrqAffinity = {
  requested: null,
  effective: null,
  node: null,
  changeable: null,
  unchangeableReason: null,
};

/** Reads the affinity of numeric rows (named rows have no /proc/irq/N); files read 64 at a time. */
export async function irqInfos(fs: HostFs, rows: readonly IrqRow[]): Promise<IrqInfo[]> {
  return await mapLimit(rows, 64, async (row) => {
    const a = row.numeric ? await readIrqAffinity(fs, row.irq) : NO_AFFINITY;
    return toInfo(row, a);
  });
}

function toInfo(row: IrqRow, a: IrqAffinity): IrqInfo {
  return {
    irq: row.irq,
    numeric: row.numeric,
    name: row.name,
    chip: row.chip,
    hwirq: row.hwirq,
    trigger: row.trigger,
    total: row.total,
    counts: row.counts,
    smp_affinity_list: a.requested?.toList() ?? null,
    effective_affinity_list: a.effective?.toList() ?? null,
    node: a.node,
    changeable: a.changeable,
    unchangeable_reason: a.unchangeableReason,
  };
}

/** The CPUs that actually took interrupts of this row (non-zero counts). */
export function cpusWithCounts(cpus: readonly number[], counts: readonly number[]): CpuSet {
  const out: number[] = [];
  for (let i = 0; i < counts.length && i < cpus.length; i++) if (counts[i] > 0) out.push(cpus[i]);
  return CpuSet.of(out);
}

/** /proc/irq/default_smp_affinity: the mask new IRQs start with; null when absent. */
export async function readDefaultAffinity(fs: HostFs): Promise<CpuSet | null> {
  return await readList(
    fs,
    "/proc/irq/default_smp_affinity_list",
    "/proc/irq/default_smp_affinity",
  );
}
