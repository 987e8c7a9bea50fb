// What a plan reads of the host before it decides anything: the CPUs
// (online, nr_cpu_ids), /proc/interrupts, and the checks every item shares.
// Read once per plan and shared by every item of it.

import { type CpuSet, parseCpuList } from "./cpuset.ts";
import { type CpuTopology, readTopology } from "./cpus.ts";
import type { TuningEnv } from "./env.ts";
import type { Interrupts } from "./interrupts.ts";
import { readInterrupts } from "./irq.ts";

/** What the host looks like for a plan: read once, shared by every item. */
export interface HostFacts {
  topo: CpuTopology;
  /** nr_cpu_ids: masks are printed this wide, CPUs at or beyond it do not exist. */
  nr: number;
  interrupts: Interrupts;
}

/** Live pushes to irqbalance not yet visible in its `setup` answer (it applies them at its next pass). */
export interface PendingPush {
  pid: number;
  cpus: string;
  irqs: number[];
  /** ms since the epoch until which the push may still be pending. */
  until: number;
}

export interface PlanOptions {
  /** IRQs a write found unchangeable before (kernels that answer EIO on a 0644 file). */
  unchangeable?: ReadonlySet<string>;
  pending?: PendingPush | null;
}

export async function hostFacts(env: TuningEnv): Promise<HostFacts> {
  const [topo, interrupts, possible] = await Promise.all([
    readTopology(env.fs),
    readInterrupts(env.fs),
    env.fs.readTextIfExists("/sys/devices/system/cpu/possible"),
  ]);
  const nr = possible !== undefined ? parseCpuList(possible).max + 1 : topo.online.max + 1;
  return { topo, nr, interrupts };
}

/** Checks that a set of CPUs can be used on this host; the problem as text otherwise. */
export function checkOnline(cpus: CpuSet, topo: CpuTopology, what: string): string | undefined {
  if (cpus.isEmpty) return `${what}: no CPU given`;
  const missing = cpus.minus(topo.online);
  if (missing.isEmpty) return undefined;
  return `${what}: CPU ${missing.toList()} ${
    missing.size === 1 ? "is" : "are"
  } not online here (online: ${topo.online.toList()})`;
}
