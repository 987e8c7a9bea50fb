// The host picture's model: one cell per CPU with what the picture marks on
// it, built from the MI results (web/host_data.ts). Pure, so the picture of
// a capture is the same on every run.
//
// Per CPU: online, NUMA node, SMT siblings (cells of one core sit together),
// isolated / nohz_full, banned by irqbalance; the SIP NIC's queue IRQs that
// fire there (effective affinity) and those only allowed there (requested);
// how many SIP router threads may run there and whether they are pinned;
// NET_RX and softnet drops, as rates since the previous view when there was
// one. Two mismatches are flagged per CPU: an IRQ fires where no SIP thread
// runs, and drops rose since the last view.

import type { CpuCounters, ShowNic, TuneShowResult } from "./host_data.ts";

export interface CpuCell {
  cpu: number;
  online: boolean;
  node: number | null;
  /** The core's CPUs (thread_siblings), e.g. "5,581". */
  core: string;
  isolated: boolean;
  banned: boolean;
  /** Queue IRQs whose effective affinity holds this CPU. */
  irqs: string[];
  /** Queue IRQs allowed here (smp_affinity_list) but firing elsewhere. */
  allowed: string[];
  /** SIP threads that may run here: pinned ones (mask smaller than every online CPU) and all. */
  sipPinned: number;
  sipAll: number;
  netRx: number | null;
  dropped: number | null;
  /** Per second since the previous view; null on the first view. */
  netRxRate: number | null;
  dropRate: number | null;
  /** An IRQ fires here and no SIP thread may run here. */
  irqWithoutSip: boolean;
  /** Softnet drops rose since the previous view. */
  dropsRising: boolean;
}

export interface NodeBlock {
  node: number | null;
  /** Cores in order; each core's CPUs in order. */
  cores: CpuCell[][];
  cpus: string;
}

export interface HostModel {
  cells: CpuCell[];
  nodes: NodeBlock[];
  nic: { name: string; node: number | null; local: string | null; queues: number } | null;
  nicError: string | null;
  /** Whether the SIP router was found (else SIP marks say nothing). */
  sipFound: string | null;
  sipThreads: number;
  /** Queue IRQs whose requested affinity is every online CPU (not drawn per cell). */
  requestedEverywhere: number;
  /** Seconds since the previous view; null on the first. */
  interval: number | null;
  /** Largest NET_RX value drawn (rate or since boot), for the heat scale. */
  netRxMax: number;
  mismatches: { irqWithoutSip: number; dropsRising: number };
}

/** The per-CPU counters of one view, kept for the rates of the next. */
export interface Sample {
  at: number;
  cpus: Map<number, { netRx: number | null; dropped: number | null }>;
}

export function sampleOf(counters: readonly CpuCounters[], at: number): Sample {
  return {
    at,
    cpus: new Map(counters.map((c) => [c.cpu, { netRx: c.net_rx, dropped: c.dropped }])),
  };
}

/**
 * The CPUs of a cpulist as MI results write them (`0-3,8`: numbers and
 * ranges; tune_show prints every CPU set so). Anything else reads as no CPU:
 * the picture draws what it can read.
 */
export function cpusOf(text: string | null | undefined): Set<number> {
  const out = new Set<number>();
  for (const item of (text ?? "").split(",")) {
    const m = /^\s*([0-9]+)(?:-([0-9]+))?\s*$/.exec(item);
    if (m === null) continue;
    const last = Math.min(Number(m[2] ?? m[1]), Number(m[1]) + 65535);
    for (let c = Number(m[1]); c <= last; c++) out.add(c);
  }
  return out;
}

function rate(now: number | null, before: number | null | undefined, secs: number): number | null {
  if (now === null || before === null || before === undefined || secs <= 0) return null;
  // A counter that went down (reboot, CPU hot-plug) has no rate.
  return now >= before ? (now - before) / secs : null;
}

export function buildModel(
  show: TuneShowResult,
  counters: readonly CpuCounters[],
  previous: Sample | null,
  now: Sample,
): HostModel {
  const online = cpusOf(show.cpus.online);
  const isolated = new Set([...cpusOf(show.cpus.isolated), ...cpusOf(show.cpus.nohz_full)]);
  const banned = cpusOf(show.irqbalance.banned_cpus);
  const nic: ShowNic | null = "error" in show.nic ? null : show.nic;

  const irqsAt = new Map<number, string[]>(), allowedAt = new Map<number, string[]>();
  const push = (m: Map<number, string[]>, cpu: number, irq: string) => {
    const l = m.get(cpu);
    if (l) l.push(irq);
    else m.set(cpu, [irq]);
  };
  let requestedEverywhere = 0;
  for (const q of nic?.queue_irqs ?? []) {
    const eff = cpusOf(q.effective_affinity_list ?? q.smp_affinity_list);
    const req = cpusOf(q.smp_affinity_list);
    for (const c of eff) push(irqsAt, c, q.irq);
    const everywhere = req.size >= online.size && [...online].every((c) => req.has(c));
    if (everywhere) requestedEverywhere++;
    else for (const c of req) if (!eff.has(c)) push(allowedAt, c, q.irq);
  }

  const sipPinned = new Map<number, number>(), sipAll = new Map<number, number>();
  let sipThreads = 0;
  for (const p of show.sip.affinity?.processes ?? []) {
    for (const [mask, n] of Object.entries(p.thread_cpus)) {
      const cpus = cpusOf(mask);
      sipThreads += n;
      const pinned = [...online].some((c) => !cpus.has(c));
      for (const c of cpus) {
        sipAll.set(c, (sipAll.get(c) ?? 0) + n);
        if (pinned) sipPinned.set(c, (sipPinned.get(c) ?? 0) + n);
      }
    }
  }
  const sipFound = show.sip.affinity !== null && (show.sip.affinity.processes.length ?? 0) > 0
    ? show.sip.found_by
    : null;

  const byCpu = new Map(counters.map((c) => [c.cpu, c]));
  const secs = previous === null ? 0 : (now.at - previous.at) / 1000;
  const cells: CpuCell[] = show.cpus.cpus.map((c) => {
    const k = byCpu.get(c.cpu);
    const before = previous?.cpus.get(c.cpu);
    const netRx = k?.net_rx ?? null, dropped = k?.dropped ?? null;
    const dropRate = rate(dropped, before?.dropped, secs);
    const irqs = irqsAt.get(c.cpu) ?? [];
    return {
      cpu: c.cpu,
      online: c.online,
      node: c.node,
      core: c.thread_siblings ?? String(c.cpu),
      isolated: isolated.has(c.cpu),
      banned: banned.has(c.cpu),
      irqs,
      allowed: allowedAt.get(c.cpu) ?? [],
      sipPinned: sipPinned.get(c.cpu) ?? 0,
      sipAll: sipAll.get(c.cpu) ?? 0,
      netRx,
      dropped,
      netRxRate: rate(netRx, before?.netRx, secs),
      dropRate,
      irqWithoutSip: sipFound !== null && irqs.length > 0 && (sipAll.get(c.cpu) ?? 0) === 0,
      dropsRising: dropRate !== null && dropRate > 0,
    };
  });

  const netRxMax = Math.max(
    0,
    ...cells.map((c) => (previous === null ? c.netRx : c.netRxRate) ?? 0),
  );
  return {
    cells,
    nodes: nodeBlocks(cells, show.cpus.nodes),
    nic: nic === null ? null : {
      name: nic.name,
      node: nic.numa_node !== undefined && nic.numa_node !== null && nic.numa_node >= 0
        ? nic.numa_node
        : null,
      local: nic.local_cpulist ?? null,
      queues: nic.queue_irqs.length,
    },
    nicError: "error" in show.nic ? show.nic.error : null,
    sipFound,
    sipThreads,
    requestedEverywhere,
    interval: previous === null ? null : secs,
    netRxMax,
    mismatches: {
      irqWithoutSip: cells.filter((c) => c.irqWithoutSip).length,
      dropsRising: cells.filter((c) => c.dropsRising).length,
    },
  };
}

/** CPUs by NUMA node (in node order; CPUs without a node last), SMT siblings together. */
function nodeBlocks(cells: CpuCell[], nodes: { node: number; cpus: string }[]): NodeBlock[] {
  const groups = new Map<number | null, CpuCell[]>();
  for (const n of [...nodes].sort((a, b) => a.node - b.node)) groups.set(n.node, []);
  for (const c of cells) {
    const key = c.node !== null && groups.has(c.node) ? c.node : null;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(c);
  }
  const out: NodeBlock[] = [];
  for (const [node, members] of groups) {
    if (members.length === 0) continue;
    const cores = new Map<string, CpuCell[]>();
    for (const c of [...members].sort((a, b) => a.cpu - b.cpu)) {
      const l = cores.get(c.core);
      if (l) l.push(c);
      else cores.set(c.core, [c]);
    }
    out.push({
      node,
      cores: [...cores.values()],
      cpus: nodes.find((n) => n.node === node)?.cpus ?? members.map((c) => c.cpu).join(","),
    });
  }
  return out;
}
