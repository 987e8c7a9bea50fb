// The plan of each kind of target but irqbalance: IRQ affinity (by
// number, pattern or NIC, spread one CPU per queue), the default IRQ
// affinity, RPS, and the threads of processes. Each adds changes, unchanged
// or unchangeable targets, notes and errors to a plan (docs/tuning_changes.md).

import { getAffinity, type Selector } from "./affinity.ts";
import type { Plan } from "./changes.ts";
import { CpuSet, parseCpuList, parseKernelCpuMask } from "./cpuset.ts";
import type { TuningEnv } from "./env.ts";
import type { IrqRow } from "./interrupts.ts";
import { readDefaultAffinity, readIrqAffinity } from "./irq.ts";
import { LookupError } from "./lookup_error.ts";
import { describeNic, locateNic } from "./nic.ts";
import type { Pattern } from "./pattern.ts";
import { checkOnline, type HostFacts, type PlanOptions } from "./plan_host.ts";

// ------------------------------------------------------------------- IRQs

/** One IRQ to pin: which CPUs, asked by which item and why. */
export interface IrqTarget {
  irq: string;
  name: string;
  cpus: CpuSet;
  item: string;
  reason: string;
}

/** Adds an IRQ target, or an error when another item wants other CPUs for it. */
export function addIrqTarget(targets: Map<string, IrqTarget>, t: IrqTarget, plan: Plan): void {
  const had = targets.get(t.irq);
  if (had === undefined) {
    targets.set(t.irq, t);
    return;
  }
  if (!had.cpus.equals(t.cpus)) {
    plan.errors.push(
      `IRQ ${t.irq} (${t.name}): ${had.item} wants CPUs ${had.cpus.toList()}, ${t.item} wants ${t.cpus.toList()}`,
    );
  }
}

/** Plans each IRQ target: a change, unchanged, or unchangeable. Returns the IRQs sipmi pins. */
export async function planIrqs(
  env: TuningEnv,
  facts: HostFacts,
  targets: Iterable<IrqTarget>,
  plan: Plan,
  opts: PlanOptions = {},
): Promise<number[]> {
  const pinned: number[] = [];
  for (const t of targets) {
    const label = `IRQ ${t.irq} (${t.name})`;
    const a = await readIrqAffinity(env.fs, t.irq);
    const dir = `/proc/irq/${t.irq}`;
    const list = await env.fs.exists(`${dir}/smp_affinity_list`);
    if (!list && !(await env.fs.exists(`${dir}/smp_affinity`))) {
      plan.errors.push(`${t.item}: ${label} has no ${dir}/smp_affinity`);
      continue;
    }
    if (a.changeable === false || opts.unchangeable?.has(t.irq)) {
      plan.unchangeable.push({
        item: t.item,
        target: label,
        value: t.cpus.toList(),
        reason: a.unchangeableReason ?? "the kernel refused a write to it before (EIO/EPERM)",
      });
      continue;
    }
    pinned.push(Number(t.irq));
    const problem = checkOnline(t.cpus, facts.topo, `${t.item}: ${label}`);
    if (problem !== undefined) {
      plan.errors.push(problem);
      continue;
    }
    if (a.requested !== null && a.requested.equals(t.cpus)) {
      plan.unchanged.push({ item: t.item, target: label, value: t.cpus.toList() });
      continue;
    }
    plan.changes.push({
      step: "irqs",
      item: t.item,
      target: label,
      old: a.requested?.toList() ?? "?",
      new: t.cpus.toList(),
      reason: t.reason,
      action: {
        kind: "kernel_cpus",
        path: list ? `${dir}/smp_affinity_list` : `${dir}/smp_affinity`,
        format: list ? "list" : "mask",
        cpus: t.cpus.toList(),
        nr: facts.nr,
      },
    });
  }
  return pinned.sort((a, b) => a - b);
}

/** Numbered IRQs whose name (or number) matches a pattern. */
export function irqsMatching(facts: HostFacts, re: Pattern): IrqRow[] {
  return facts.interrupts.rows.filter((r) => r.numeric && (re.test(r.name) || re.test(r.irq)));
}

/**
 * A NIC's queue IRQs, one CPU each, round robin by queue: queue k (its rx
 * and tx IRQs alike) goes to the k-th CPU, wrapping. `cpus` of a single
 * CPU pins them all there.
 */
export async function spreadTargets(
  env: TuningEnv,
  facts: HostFacts,
  nic: string,
  cpus: CpuSet,
  opts: { numaLocal: boolean; spread: boolean; item: string },
  plan: Plan,
): Promise<IrqTarget[]> {
  let d;
  try {
    d = await describeNic(env.fs, nic, facts.interrupts);
  } catch (e) {
    if (e instanceof LookupError) {
      plan.errors.push(`${opts.item}: ${e.message}`);
      return [];
    }
    throw e;
  }
  if (d.queue_irqs.length === 0) {
    plan.errors.push(`${opts.item}: ${nic} has no queue IRQs (looked in ${d.irq_source})`);
    return [];
  }
  let use = cpus;
  if (opts.numaLocal) {
    const local = d.local_cpulist === null ? null : parseCpuList(d.local_cpulist);
    if (local === null || local.isEmpty) {
      plan.notes.push(`${opts.item}: ${nic} reports no NUMA-local CPUs; numa_local ignored`);
    } else {
      use = cpus.intersect(local);
      if (use.isEmpty) {
        plan.errors.push(
          `${opts.item}: none of CPUs ${cpus.toList()} is on ${nic}'s NUMA node ${d.numa_node} (local CPUs ${local.toList()})`,
        );
        return [];
      }
    }
  }
  const list = use.toArray();
  const queues = [...new Set(d.queue_irqs.map((q) => q.queue))];
  return d.queue_irqs.map((q) => {
    const k = queues.indexOf(q.queue);
    const one = opts.spread ? CpuSet.of([list[k % list.length]]) : use;
    return {
      irq: q.irq,
      name: q.name,
      cpus: one,
      item: opts.item,
      reason: opts.spread
        ? `${nic} queue ${q.queue} ${q.kind}: spread over ${use.toList()}`
        : `${nic} queue ${q.queue} ${q.kind}`,
    };
  });
}

// --------------------------------------------------- default IRQ affinity

export async function planDefaultAffinity(
  env: TuningEnv,
  facts: HostFacts,
  cpus: CpuSet,
  item: string,
  plan: Plan,
): Promise<void> {
  const path = "/proc/irq/default_smp_affinity";
  const cur = await readDefaultAffinity(env.fs);
  if (cur === null) {
    plan.errors.push(`${item}: ${path} does not exist`);
    return;
  }
  const problem = checkOnline(cpus, facts.topo, item);
  if (problem !== undefined) return void plan.errors.push(problem);
  if (cur.equals(cpus)) {
    plan.unchanged.push({ item, target: path, value: cpus.toList() });
    return;
  }
  plan.changes.push({
    step: "default_irq_affinity",
    item,
    target: path,
    old: cur.toList(),
    new: cpus.toList(),
    reason: "IRQs that appear later start on these CPUs",
    action: { kind: "kernel_cpus", path, format: "mask", cpus: cpus.toList(), nr: facts.nr },
  });
}

// --------------------------------------------------------------------- RPS

export async function planRps(
  env: TuningEnv,
  facts: HostFacts,
  nic: string,
  cpus: CpuSet,
  item: string,
  plan: Plan,
): Promise<void> {
  let netDir: string;
  try {
    netDir = (await locateNic(env.fs, nic)).netDir;
  } catch (e) {
    if (e instanceof LookupError) return void plan.errors.push(`${item}: ${e.message}`);
    throw e;
  }
  if (!cpus.isEmpty) {
    const problem = checkOnline(cpus, facts.topo, item);
    if (problem !== undefined) return void plan.errors.push(problem);
  }
  const queues = ((await env.fs.readDirIfExists(`${netDir}/queues`)) ?? [])
    .filter((e) => /^rx-[0-9]+$/.test(e.name));
  const files = [];
  for (const q of queues) {
    const path = `${netDir}/queues/${q.name}/rps_cpus`;
    if (await env.fs.exists(path)) files.push({ queue: q.name, path });
  }
  if (files.length === 0) {
    plan.errors.push(`${item}: ${nic} has no rx-N/rps_cpus files (a kernel without RPS?)`);
    return;
  }
  for (const f of files) {
    const cur = parseKernelCpuMask(await env.fs.readText(f.path));
    const show = (s: CpuSet) => s.isEmpty ? "off" : s.toList();
    const target = `${nic} ${f.queue} RPS`;
    if (cur.equals(cpus)) {
      plan.unchanged.push({ item, target, value: show(cpus) });
      continue;
    }
    plan.changes.push({
      step: "rps",
      item,
      target,
      old: show(cur),
      new: show(cpus),
      reason: cpus.isEmpty ? "packet steering off" : "receive packet steering to these CPUs",
      action: {
        kind: "kernel_cpus",
        path: f.path,
        format: "mask",
        cpus: cpus.toList(),
        nr: facts.nr,
      },
    });
  }
}

// ----------------------------------------------------------------- threads

/**
 * Plans the affinity of every thread (or the main thread) of the processes
 * a selector finds. `seen` maps PIDs already planned to their item, so two
 * items naming one process do not fight.
 */
export async function planThreads(
  env: TuningEnv,
  sel: Selector,
  cpus: CpuSet,
  opts: {
    all: boolean;
    item: string;
    reason: string;
    seen?: Map<number, { item: string; cpus: CpuSet }>;
  },
  plan: Plan,
): Promise<number> {
  const found = await getAffinity(env.fs, sel, env.reader, true, { allowEmpty: true });
  plan.pids[opts.item] = found.processes.map((p) => p.pid);
  for (const p of found.processes) {
    const earlier = opts.seen?.get(p.pid);
    if (earlier !== undefined) {
      if (!earlier.cpus.equals(cpus)) {
        plan.errors.push(
          `pid ${p.pid} (${p.comm}): ${earlier.item} wants CPUs ${earlier.cpus.toList()}, ${opts.item} wants ${cpus.toList()}`,
        );
      }
      continue;
    }
    opts.seen?.set(p.pid, { item: opts.item, cpus });
    const tasks = (p.tasks ?? []).filter((t) => opts.all || t.tid === p.pid);
    const target = `pid ${p.pid} (${p.comm})`;
    if (tasks.every((t) => CpuSet.parseList(t.cpus).equals(cpus))) {
      plan.unchanged.push({ item: opts.item, target, value: cpus.toList() });
      continue;
    }
    const masks = new Map<string, number>();
    for (const t of tasks) masks.set(t.cpus, (masks.get(t.cpus) ?? 0) + 1);
    plan.changes.push({
      step: "threads",
      item: opts.item,
      target,
      old: [...masks].map(([m, n]) => tasks.length === 1 ? m : `${m} x${n}`).join(", "),
      new: cpus.toList(),
      reason: `${opts.reason}: ${opts.all ? `all ${tasks.length} threads` : "main thread"}`,
      action: { kind: "threads", pid: p.pid, comm: p.comm, cpus: cpus.toList(), all: opts.all },
    });
  }
  return found.processes.length;
}
