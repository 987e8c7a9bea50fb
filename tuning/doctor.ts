// `tune doctor`: findings an operator acts on, each with its evidence and
// what to do. The checks follow the seed guidance for a SIP host: one
// device's interrupts on the same few cores, the SIP router's threads on
// those cores, and irqbalance told to leave them alone. Each check that
// could not run says why in `skipped`, so "no findings" never hides
// "nothing was checked".

import { CpuSet } from "./cpuset.ts";
import { type CpuTopology, readTopology } from "./cpus.ts";
import type { TuningEnv } from "./env.ts";
import { type IrqInfo, irqInfos, readInterrupts } from "./irq.ts";
import { type IrqbalanceStatus, irqbalanceStatus } from "./irqbalance.ts";
import { describeNic, type NicDescription, sipNic } from "./nic.ts";
import { findSipProcesses, type SipProcesses } from "./sip.ts";
import { type HostStats, hostStats } from "./stats.ts";
import type { VerifyResult } from "./verify.ts";

export type Severity = "warning" | "info";

export interface Finding {
  id: string;
  severity: Severity;
  title: string;
  evidence: string[];
  advice: string;
}

export interface DoctorReport {
  nic: string | null;
  /** Seconds between the two counter samples; 0 = counters since boot only. */
  interval: number;
  findings: Finding[];
  summary: { warning: number; info: number };
  checked: string[];
  skipped: { check: string; reason: string }[];
}

interface Facts {
  topo: CpuTopology;
  /** Every numbered IRQ with its affinity. */
  irqs: IrqInfo[];
  nic: NicDescription | null;
  irqbalance: IrqbalanceStatus;
  sip: SipProcesses;
  stats: HostStats;
  /** Verification of the profile applied here; null when none is. */
  profile: VerifyResult | null;
}

const MAX_EVIDENCE = 12;

const ADVICE = {
  rcvbuf:
    "Sockets overflow their receive buffer: raise net.core.rmem_max and the SIP router's buffer setting, add workers, or run them on the IRQ CPUs.",
  inerrors: "Check checksum errors (InCsumErrors) and memory errors (MemErrors) in /proc/net/snmp.",
  socket:
    "The SIP router reads too slowly: more workers, a larger receive buffer, or workers on the IRQ CPUs.",
  backlog: "Raise net.core.netdev_max_backlog, or spread receive work (more queues, RPS).",
  squeeze:
    "Raise net.core.netdev_budget / netdev_budget_usecs, or spread receive work over more CPUs.",
};

function clip(lines: string[]): string[] {
  if (lines.length <= MAX_EVIDENCE) return lines;
  return [...lines.slice(0, MAX_EVIDENCE), `... and ${lines.length - MAX_EVIDENCE} more`];
}

function set(list: string | null): CpuSet | null {
  return list === null ? null : CpuSet.parseList(list);
}

type Check = (f: Facts, out: Finding[], skip: (reason: string) => void) => void;

const CHECKS: Record<string, Check> = {
  nic_irq_spread(f, out, skip) {
    if (f.nic === null) return skip("no SIP NIC");
    if (f.topo.online.size < 2) return skip("one online CPU");
    const ev: string[] = [];
    for (const q of f.nic.queue_irqs) {
      const req = set(q.smp_affinity_list), active = set(q.active_cpus);
      if (req !== null && req.size > 1) {
        ev.push(
          `IRQ ${q.irq} (${q.name}) may run on ${req.size} CPUs: smp_affinity_list ${req.toList()}`,
        );
      }
      if (active !== null && active.size > 1) {
        ev.push(`IRQ ${q.irq} (${q.name}) took interrupts on CPUs ${active.toList()}`);
      }
    }
    if (ev.length === 0) return;
    out.push({
      id: "nic_irq_spread",
      severity: "warning",
      title: `${f.nic.name} queue IRQs are spread over many CPUs`,
      evidence: clip(ev),
      advice:
        "Pin each queue IRQ to one CPU (NUMA-local, where the SIP workers run) so its packets stay in one cache.",
    });
  },

  irqbalance_unbanned(f, out, skip) {
    const ib = f.irqbalance;
    if (!ib.running) return skip("irqbalance is not running");
    const nothingBanned = (ib.banned_cpus === null || ib.banned_cpus === "") &&
      ib.banned_irqs.length === 0 &&
      ib.policy_script === null;
    if (!nothingBanned) return;
    const pinned: string[] = [];
    for (const i of f.irqs) {
      const req = set(i.smp_affinity_list);
      if (req !== null && !req.equals(f.topo.online) && i.changeable === true) {
        pinned.push(`IRQ ${i.irq} (${i.name}) pinned to ${req.toList()}`);
      }
    }
    if (pinned.length === 0) return;
    out.push({
      id: "irqbalance_unbanned",
      severity: "warning",
      title: "irqbalance runs with nothing banned while IRQs are pinned",
      evidence: clip([
        `irqbalance pid ${ib.pids.join(", ")}, banned CPUs none, no --banirq`,
        ...pinned,
      ]),
      advice:
        "irqbalance will move the pinned IRQs on its next pass: set IRQBALANCE_BANNED_CPULIST or --banirq for them (then restart irqbalance), or stop and mask irqbalance.",
    });
  },

  nic_irq_remote_numa(f, out, skip) {
    if (f.nic === null) return skip("no SIP NIC");
    const local = set(f.nic.local_cpulist);
    if (f.nic.numa_node === null || f.nic.numa_node < 0 || local === null || local.isEmpty) {
      return skip(`${f.nic.name} reports no NUMA node`);
    }
    const ev: string[] = [];
    for (const q of f.nic.queue_irqs) {
      const cpus = set(q.effective_affinity_list) ?? set(q.smp_affinity_list);
      if (cpus !== null && !cpus.isSubsetOf(local)) {
        ev.push(
          `IRQ ${q.irq} (${q.name}) on CPUs ${cpus.toList()}, outside node ${f.nic.numa_node} (${local.toList()})`,
        );
      }
    }
    if (ev.length === 0) return;
    out.push({
      id: "nic_irq_remote_numa",
      severity: "warning",
      title: `${f.nic.name} IRQs are handled on a remote NUMA node`,
      evidence: clip(ev),
      advice: `Move the queue IRQs to CPUs of node ${f.nic.numa_node} (${local.toList()}).`,
    });
  },

  sip_threads_irq_disjoint(f, out, skip) {
    if (f.nic === null) return skip("no SIP NIC");
    const a = f.sip.affinity;
    if (a === null || a.processes.length === 0) {
      out.push({
        id: "sip_router_not_found",
        severity: "info",
        title: "SIP router processes not found",
        evidence: [
          `units searched: ${f.sip.searched.units.join(", ") || "none"}`,
          `process names searched: ${f.sip.searched.process_names.join(", ") || "none"}`,
        ],
        advice:
          "Set tuning.sip.units or tuning.sip.process_names to the SIP router's unit or process name.",
      });
      return;
    }
    const irqCpus = CpuSet.of(
      f.nic.queue_irqs.flatMap((q) =>
        (set(q.effective_affinity_list) ?? set(q.smp_affinity_list) ?? CpuSet.EMPTY).toArray()
      ),
    );
    const sipCpus = CpuSet.parseList(a.cpus);
    if (irqCpus.isEmpty) return skip(`${f.nic.name} has no queue IRQs`);
    if (irqCpus.intersects(sipCpus)) return;
    out.push({
      id: "sip_threads_irq_disjoint",
      severity: "warning",
      title: "SIP router threads and the NIC's IRQs are on different CPUs",
      evidence: [
        `${f.sip.found_by}: ${a.processes.length} processes, threads on CPUs ${sipCpus.toList()}`,
        `${f.nic.name} queue IRQs on CPUs ${irqCpus.toList()}`,
      ],
      advice:
        "Put the NIC queue IRQs and the SIP worker threads on the same cores (same L2/L3), so packets are processed where they were received.",
    });
  },

  drops_rising(f, out) {
    const s = f.stats;
    const t = s.rates?.totals ?? s.totals;
    const when = s.rates ? `per second over ${s.interval}s` : "since boot";
    const suffix = s.rates ? "rising" : "nonzero";
    // Since boot the counters only hint (they may be months old); a rate is a problem now.
    const severity: Severity = s.rates ? "warning" : "info";
    // InErrors counts RcvbufErrors too; report it only when something else adds to it.
    const otherInErrors = t.udp_in_errors !== null && t.udp_rcvbuf_errors !== null
      ? t.udp_in_errors - t.udp_rcvbuf_errors
      : null;
    const items: [string, number | null, string, string][] = [
      [
        "udp_rcvbuf_errors",
        t.udp_rcvbuf_errors,
        "UDP receive buffer errors (Udp RcvbufErrors)",
        ADVICE.rcvbuf,
      ],
      [
        "udp6_rcvbuf_errors",
        t.udp6_rcvbuf_errors,
        "UDP/IPv6 receive buffer errors (Udp6RcvbufErrors)",
        ADVICE.rcvbuf,
      ],
      [
        "udp_in_errors",
        otherInErrors,
        "UDP input errors other than buffer errors (Udp InErrors)",
        ADVICE.inerrors,
      ],
      [
        "socket_drops",
        t.socket_drops,
        `drops on SIP sockets (ports ${s.ports.join(", ")})`,
        ADVICE.socket,
      ],
      [
        "softnet_drops",
        t.softnet_dropped,
        "softnet backlog drops (softnet_stat dropped)",
        ADVICE.backlog,
      ],
      [
        "softnet_time_squeeze",
        t.softnet_time_squeeze,
        "softnet time squeeze (NET_RX ran out of budget)",
        ADVICE.squeeze,
      ],
    ];
    for (const [id, v, what, advice] of items) {
      if (v === null || v <= 0) continue;
      out.push({
        id: `${id}_${suffix}`,
        severity,
        title: `${what}: ${v} ${when}`,
        evidence: evidenceFor(id, s),
        advice,
      });
    }
  },

  managed_irq_on_isolated(f, out, skip) {
    const isolated = f.topo.isolated.union(f.topo.nohzFull);
    if (isolated.isEmpty) return skip("no isolated or nohz_full CPUs");
    const ev: string[] = [];
    for (const i of f.irqs) {
      if (i.changeable !== false) continue;
      const cpus = set(i.effective_affinity_list) ?? set(i.smp_affinity_list);
      if (cpus !== null && cpus.intersects(isolated)) {
        ev.push(
          `IRQ ${i.irq} (${i.name}) on CPUs ${cpus.toList()}; isolated/nohz_full ${isolated.toList()}`,
        );
      }
    }
    if (ev.length === 0) return;
    out.push({
      id: "managed_irq_on_isolated",
      severity: "warning",
      title: "kernel-managed IRQs run on isolated CPUs",
      evidence: clip(ev),
      advice:
        "Userspace cannot move managed IRQs; boot with isolcpus=managed_irq,<cpus> to keep them off isolated CPUs.",
    });
  },

  irqbalance_config(f, out) {
    const ib = f.irqbalance;
    if (ib.deprecated_mask_wins) {
      out.push({
        id: "irqbalance_deprecated_mask",
        severity: "warning",
        title: "IRQBALANCE_BANNED_CPUS overrides IRQBALANCE_BANNED_CPULIST",
        evidence: [`${ib.config_file}: both are set; the deprecated hex mask wins`],
        advice: "Delete the IRQBALANCE_BANNED_CPUS line and keep IRQBALANCE_BANNED_CPULIST.",
      });
    }
    if (ib.problems.length > 0) {
      out.push({
        id: "irqbalance_config_problem",
        severity: "warning",
        title: "irqbalance configuration has problems",
        evidence: clip(ib.problems),
        advice: "Fix the lines named; irqbalance ignores or misreads them.",
      });
    }
    if (ib.restart_needed) {
      out.push({
        id: "irqbalance_restart_needed",
        severity: "info",
        title: "irqbalance runs with other settings than its config file has",
        evidence: [`config file ${ib.config_file}; running pid ${ib.pids[0]}`],
        advice: "irqbalance reads its environment only at start: systemctl try-restart irqbalance.",
      });
    }
  },

  profile_drift(f, out, skip) {
    const v = f.profile;
    if (v === null) return skip("no profile applied by sipmi");
    if (v.drift.length > 0) {
      out.push({
        id: "profile_drift",
        severity: "warning",
        title: `the host drifted from profile ${v.profile}`,
        evidence: clip(
          v.drift.map((d) => `${d.target} is ${d.have}, wants ${d.want} (${d.item}): ${d.cause}`),
        ),
        advice:
          "Re-apply with sipmi tune apply (or turn on tuning.enforce); ban pinned IRQs in irqbalance so it stops moving them.",
      });
    }
    if (v.errors.length > 0) {
      out.push({
        id: "profile_unmet",
        severity: "warning",
        title: `profile ${v.profile} asks for what this host no longer has`,
        evidence: clip(v.errors),
        advice: "Fix the profile or the host (a NIC renamed, a CPU offline), then apply again.",
      });
    }
  },

  nic_single_queue(f, out, skip) {
    if (f.nic === null) return skip("no SIP NIC");
    if (f.topo.online.size < 2) return skip("one online CPU");
    const rx = f.nic.rx_queues;
    if (rx.length !== 1) return;
    if (rx[0].rps_cpus !== null && rx[0].rps_cpus !== "") return;
    out.push({
      id: "nic_single_queue",
      severity: "info",
      title: `${f.nic.name} has one RX queue and RPS is off`,
      evidence: [
        `${f.nic.name}: rx queues ${rx.map((q) => q.queue).join(", ")}, rps_cpus empty`,
        `online CPUs ${f.topo.online.toList()}`,
      ],
      advice:
        "All receive processing runs on the one CPU that takes the IRQ; consider RPS (rx-0/rps_cpus) for the SIP worker CPUs, or more queues.",
    });
  },
};

function evidenceFor(key: string, s: HostStats): string[] {
  const r = s.rates;
  switch (key) {
    case "udp_rcvbuf_errors":
    case "udp_in_errors":
      return [
        `/proc/net/snmp Udp: RcvbufErrors ${s.udp?.RcvbufErrors ?? "-"}, InErrors ${
          s.udp?.InErrors ?? "-"
        }, SndbufErrors ${s.udp?.SndbufErrors ?? "-"}`,
      ];
    case "udp6_rcvbuf_errors":
      return [
        `/proc/net/snmp6 Udp6RcvbufErrors ${s.udp6?.RcvbufErrors ?? "-"}, Udp6InErrors ${
          s.udp6?.InErrors ?? "-"
        }`,
      ];
    case "socket_drops":
      return clip(
        s.sockets.filter((x) => (x.drops ?? 0) > 0).map((x) => {
          const rate = r?.sockets.find((y) => y.local === x.local && y.proto === x.proto)?.drops;
          return `${x.proto} ${x.local}: drops ${x.drops}${
            rate != null ? ` (${rate}/s)` : ""
          }, rx_queue ${x.rx_queue} bytes`;
        }),
      );
    default: {
      const field = key === "softnet_drops" ? "dropped" : "time_squeeze";
      return clip(
        s.cpus.filter((c) => (c[field] ?? 0) > 0).map((c) => {
          const rate = r?.cpus.find((y) => y.cpu === c.cpu)?.[field];
          return `CPU ${c.cpu}: ${field} ${c[field]}${rate != null ? ` (${rate}/s)` : ""}`;
        }),
      );
    }
  }
}

export async function tuneDoctor(
  env: TuningEnv,
  opts: {
    interval: number;
    nic?: string;
    soft: (e: unknown) => boolean;
    profile: VerifyResult | null;
  },
): Promise<DoctorReport> {
  const { fs: hostfs } = env;
  const skipped: { check: string; reason: string }[] = [];
  const [topo, interrupts] = await Promise.all([readTopology(hostfs), readInterrupts(hostfs)]);
  let nic: NicDescription | null = null, nicName: string | null = null;
  try {
    nicName = await sipNic(hostfs, opts.nic ?? env.sip.nic);
    nic = await describeNic(hostfs, nicName, interrupts);
  } catch (e) {
    if (!opts.soft(e)) throw e;
    skipped.push({ check: "nic", reason: (e as Error).message });
  }
  const [irqbalance, sip, stats] = await Promise.all([
    irqbalanceStatus(hostfs, topo),
    findSipProcesses(hostfs, env.sip, env.reader, false),
    hostStats(hostfs, { ports: env.sip.ports, nic: nic?.name ?? null, interval: opts.interval }),
  ]);
  const irqs = await irqInfos(hostfs, interrupts.rows.filter((r) => r.numeric));
  const facts: Facts = { topo, irqs, nic, irqbalance, sip, stats, profile: opts.profile };
  const findings: Finding[] = [];
  for (const [name, check] of Object.entries(CHECKS)) {
    await check(facts, findings, (reason) => skipped.push({ check: name, reason }));
  }
  const order = { warning: 0, info: 1 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    nic: nicName,
    interval: stats.interval ?? 0,
    findings,
    summary: {
      warning: findings.filter((f) => f.severity === "warning").length,
      info: findings.filter((f) => f.severity === "info").length,
    },
    checked: Object.keys(CHECKS),
    skipped,
  };
}
