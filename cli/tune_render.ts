// Human output of `sipmi tune ...`: each function takes the MI result (the
// same JSON `--json` prints, whether it came from this process or from a
// daemon) and returns aligned text. Nothing here reads the host.

import type { AffinityResult, ProcessAffinity } from "../tuning/affinity.ts";
import type { CpuList } from "../tuning/cpus.ts";
import type { DoctorReport } from "../tuning/doctor.ts";
import type { IrqInfo } from "../tuning/irq.ts";
import type { IrqbalanceStatus } from "../tuning/irqbalance.ts";
import type { NicDescription } from "../tuning/nic.ts";
import type { Section, TuneShow } from "../tuning/show.ts";
import type { HostStats } from "../tuning/stats.ts";
import { type Cell, keyValues, table } from "./table.ts";

/** Up to this many CPUs, IRQ tables get one count column per CPU (as /proc/interrupts). */
const PER_CPU_COLUMNS = 8;

function changeable(v: boolean | null): Cell {
  return v === null ? "?" : v ? "yes" : "NO";
}

function node(n: number | null): Cell {
  return n === null || n < 0 ? "-" : n;
}

function list(s: string | null): Cell {
  return s === null ? "-" : s === "" ? "none" : s;
}

/** `1:7315 0:12`: the busiest CPUs of a row, for hosts too wide for one column per CPU. */
function busiest(cpus: readonly number[], counts: readonly number[], n = 3): string {
  const pairs = counts.map((c, i) => [cpus[i], c] as const).filter(([, c]) => c > 0);
  pairs.sort((a, b) => b[1] - a[1]);
  const shown = pairs.slice(0, n).map(([cpu, c]) => `${cpu}:${c}`);
  if (pairs.length > n) shown.push(`+${pairs.length - n} CPUs`);
  return shown.join(" ");
}

export interface IrqListResult {
  cpus: number[];
  nic: string | null;
  source: string | null;
  count: number;
  irqs: IrqInfo[];
}

export function renderIrqList(r: IrqListResult): string {
  const wide = r.cpus.length > PER_CPU_COLUMNS;
  const headers = [
    "IRQ",
    ...(wide ? ["TOTAL", "BUSIEST CPU:COUNT"] : r.cpus.map((c) => `CPU${c}`)),
    "AFFINITY",
    "EFFECTIVE",
    "NODE",
    "CHANGE",
    "CHIP",
    "NAME",
  ];
  const rows = r.irqs.map((i) => [
    i.irq,
    ...(wide ? [i.total, busiest(r.cpus, i.counts)] : r.cpus.map((_, k) => i.counts[k] ?? null)),
    i.numeric ? list(i.smp_affinity_list) : "",
    i.numeric ? list(i.effective_affinity_list) : "",
    i.numeric ? node(i.node) : "",
    i.numeric ? changeable(i.changeable) : "",
    i.chip ?? "",
    i.name,
  ]);
  const head = r.nic !== null ? `IRQs of ${r.nic} (found via ${r.source})\n` : "";
  const foot = r.irqs.some((i) => i.changeable === false)
    ? "\nCHANGE NO: the kernel does not let userspace set this IRQ's affinity (managed, per-CPU)."
    : "";
  return `${head}${table(headers, rows)}\n${r.count} IRQs on ${r.cpus.length} CPUs${foot}`;
}

export function renderCpus(r: CpuList): string {
  const head = keyValues([
    ["online", list(r.online)],
    ["offline", list(r.offline)],
    ["isolated", list(r.isolated)],
    ["nohz_full", list(r.nohz_full)],
    ["present", list(r.present)],
    ["possible", list(r.possible)],
    ["kernel_max", r.kernel_max],
    ...Object.entries(r.cmdline).map(([k, v]): [string, Cell] => [`cmdline ${k}`, v]),
    ...r.nodes.map((n): [string, Cell] => [`node ${n.node}`, n.cpus]),
    ["SMT siblings", r.smt_groups.length === 0 ? "none" : r.smt_groups.join(" ")],
  ]);
  const rows = r.cpus.map((
    c,
  ) => [c.cpu, c.online, node(c.node), c.package, c.core, c.thread_siblings]);
  return `${head}\n\n${table(["CPU", "ONLINE", "NODE", "PACKAGE", "CORE", "SIBLINGS"], rows)}`;
}

export function renderNic(r: NicDescription): string {
  const head = keyValues([
    ["NIC", r.name],
    ["driver", r.pci_driver ? `${r.driver} (on ${r.pci_driver})` : r.driver],
    ["PCI", r.bus_info],
    ["state", `${r.operstate ?? "-"}, mtu ${r.mtu ?? "-"}`],
    ["NUMA node", node(r.numa_node)],
    ["local CPUs", list(r.local_cpulist)],
    ["IRQs from", r.irq_source],
  ]);
  const queues = r.queue_irqs.length === 0 ? "no queue IRQs" : table(
    ["QUEUE", "KIND", "IRQ", "AFFINITY", "EFFECTIVE", "ACTIVE ON", "CHANGE", "TOTAL", "NAME"],
    r.queue_irqs.map((q) => [
      q.queue,
      q.kind,
      q.irq,
      list(q.smp_affinity_list),
      list(q.effective_affinity_list),
      list(q.active_cpus),
      changeable(q.changeable),
      q.total,
      q.name,
    ]),
  );
  const others = r.other_irqs.length === 0 ? "" : "\n\nOther IRQs (not queues):\n" + table(
    ["IRQ", "ROLE", "AFFINITY", "EFFECTIVE", "CHANGE", "TOTAL", "NAME"],
    r.other_irqs.map((o) => [
      o.irq,
      o.role,
      list(o.smp_affinity_list),
      list(o.effective_affinity_list),
      changeable(o.changeable),
      o.total,
      o.name,
    ]),
  );
  const steering = table(
    ["QUEUE", "RPS CPUS", "RPS FLOWS", "XPS CPUS", "XPS RXQS"],
    [
      ...r.rx_queues.map((
        q,
      ) => [q.queue, list(q.rps_cpus ?? null), q.rps_flow_cnt ?? null, "", ""]),
      ...r.tx_queues.map((
        q,
      ) => [q.queue, "", "", list(q.xps_cpus ?? null), list(q.xps_rxqs ?? null)]),
    ],
  );
  const counters = Object.entries(r.counters).map(([k, v]) => `${k} ${v}`).join(", ");
  return `${head}\n\n${queues}${others}\n\n${steering}\n\ncounters: ${counters || "none"}`;
}

export function renderIrqbalance(r: IrqbalanceStatus): string {
  const from = {
    socket: "the running daemon's socket (its live settings)",
    process: "the running daemon's environment",
    config_file: r.config_file,
    defaults: "defaults (no config file)",
  };
  const out = keyValues([
    ["running", r.running ? `yes (pid ${r.pids.join(", ")})` : "no"],
    ["config file", r.config_file ?? "none found"],
    ...Object.entries(r.settings).map(([k, v]): [string, Cell] => [`  ${k}`, JSON.stringify(v)]),
    ["effective from", from[r.effective_from]],
    ["banned CPUs", `${list(r.banned_cpus)} (chosen by ${r.banned_cpus_source})`],
    ["banned IRQs", r.banned_irqs.length === 0 ? "none" : r.banned_irqs.join(", ")],
    ["banned modules", r.banned_modules.length === 0 ? "none" : r.banned_modules.join(", ")],
    ["policy script", r.policy_script ?? "none"],
    ["oneshot", r.oneshot],
    ["command line", r.command_line?.join(" ") ?? "-"],
  ]);
  const notes: string[] = [];
  if (r.deprecated_mask_wins) {
    notes.push("IRQBALANCE_BANNED_CPUS is set and wins over IRQBALANCE_BANNED_CPULIST.");
  }
  if (r.restart_needed) {
    notes.push("The daemon runs with other settings than the config file has: restart it.");
  }
  notes.push(...r.problems);
  return notes.length === 0 ? out : `${out}\n\n${notes.join("\n")}`;
}

function agree(v: boolean | null): Cell {
  return v === null ? "-" : v ? "yes" : "NO";
}

function processRows(ps: readonly ProcessAffinity[]): Cell[][] {
  return ps.map((p) => [
    p.pid,
    p.comm,
    p.threads,
    p.cpus,
    Object.entries(p.thread_cpus).map(([cpus, n]) => `${cpus} x${n}`).join(" "),
    agree(p.agree),
  ]);
}

export function renderAffinity(r: AffinityResult): string {
  const src = r.source === "status"
    ? "/proc status files only (not the live host)"
    : "sched_getaffinity, checked against /proc";
  const parts = [
    table(["PID", "COMM", "THREADS", "CPUS", "THREAD MASKS", "AGREE"], processRows(r.processes)),
  ];
  const tasks = r.processes.flatMap((p) =>
    (p.tasks ?? []).map((t) => [p.pid, t.tid, t.comm, t.cpus, t.status, agree(t.agree)])
  );
  if (tasks.length > 0) {
    parts.push(table(["PID", "TID", "COMM", "CPUS", "STATUS FILE", "AGREE"], tasks));
  }
  parts.push(`all threads may run on CPUs ${list(r.cpus)}; source: ${src}`);
  return parts.join("\n\n");
}

function rateCell(v: number | null | undefined): Cell {
  return v === null || v === undefined ? null : v;
}

export function renderStats(r: HostStats): string {
  const rates = r.rates;
  const cpuRows = r.cpus.map((c) => {
    const k = rates?.cpus.find((x) => x.cpu === c.cpu);
    return rates
      ? [
        c.cpu,
        rateCell(k?.net_rx),
        rateCell(k?.processed),
        rateCell(k?.dropped),
        rateCell(k?.time_squeeze),
        c.dropped,
        c.time_squeeze,
      ]
      : [c.cpu, c.net_rx, c.processed, c.dropped, c.time_squeeze];
  });
  const cpuHead = rates
    ? ["CPU", "NET_RX/s", "PROCESSED/s", "DROPPED/s", "SQUEEZE/s", "DROPPED", "SQUEEZE"]
    : ["CPU", "NET_RX", "PROCESSED", "DROPPED", "SQUEEZE"];
  const t = r.totals, tr = rates?.totals;
  const withRate = (v: number | null, rate: number | null | undefined) =>
    v === null ? "-" : rate === undefined || rate === null ? String(v) : `${v} (${rate}/s)`;
  const udp = keyValues([
    ["Udp RcvbufErrors", withRate(t.udp_rcvbuf_errors, tr?.udp_rcvbuf_errors)],
    ["Udp InErrors", withRate(t.udp_in_errors, tr?.udp_in_errors)],
    ["Udp SndbufErrors", withRate(t.udp_sndbuf_errors, tr?.udp_sndbuf_errors)],
    ["Udp6 RcvbufErrors", withRate(t.udp6_rcvbuf_errors, tr?.udp6_rcvbuf_errors)],
    ["Udp6 InErrors", withRate(t.udp6_in_errors, tr?.udp6_in_errors)],
  ]);
  const socks = r.sockets.length === 0 ? `no UDP sockets on port ${r.ports.join(", ")}` : table(
    ["PROTO", "LOCAL", "RX QUEUE", "DROPS", ...(rates ? ["DROPS/s"] : [])],
    r.sockets.map((s) => [
      s.proto,
      s.local,
      s.rx_queue,
      s.drops,
      ...(rates
        ? [rateCell(rates.sockets.find((x) => x.local === s.local && x.proto === s.proto)?.drops)]
        : []),
    ]),
  );
  const nic = r.nic === null ? "" : `\n\n${r.nic.name}: ` + Object.entries(r.nic.counters)
    .map(([k, v]) => `${k} ${rates?.nic ? `${v} (${rates.nic[k] ?? 0}/s)` : v}`).join(", ");
  const head = rates ? `rates over ${r.interval}s` : "counters since boot";
  const cols = r.softnet_columns === null ? "" : ` (softnet_stat: ${r.softnet_columns} columns)`;
  return `${head}${cols}\n${table(cpuHead, cpuRows)}\n\n${udp}\n\n${socks}${nic}`;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

export function renderDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  for (const f of r.findings) {
    lines.push(`${f.severity.toUpperCase()} ${f.id}: ${f.title}`);
    for (const e of f.evidence) lines.push(`    ${e}`);
    lines.push(`  -> ${f.advice}`, "");
  }
  if (r.findings.length === 0) lines.push("no findings", "");
  const when = r.interval > 0
    ? `counters sampled over ${r.interval}s`
    : "counters since boot (interval 0)";
  lines.push(
    `${plural(r.summary.warning, "warning")}, ${plural(r.summary.info, "note")}; NIC ${
      r.nic ?? "none"
    }; ${when}`,
  );
  for (const s of r.skipped) lines.push(`skipped ${s.check}: ${s.reason}`);
  return lines.join("\n");
}

function sectionOr<T>(s: Section<T>, render: (v: T) => string): string {
  return typeof s === "object" && s !== null && "error" in s
    ? `(${(s as { error: string }).error})`
    : render(s as T);
}

export function renderShow(r: TuneShow): string {
  const c = r.cpus;
  const cpus = keyValues([
    ["online", list(c.online)],
    ["isolated", list(c.isolated)],
    ["nohz_full", list(c.nohz_full)],
    ["NUMA", c.nodes.map((n) => `node${n.node} ${n.cpus}`).join(", ") || "-"],
    ["SMT siblings", c.smt_groups.length === 0 ? "none" : c.smt_groups.join(" ")],
    ["default IRQ affinity", list(r.default_smp_affinity)],
  ]);
  const nic = sectionOr(r.nic, renderNic);
  const ib = r.irqbalance;
  const irqbalance = keyValues([
    ["running", ib.running ? `yes (pid ${ib.pids.join(", ")})` : "no"],
    ["config file", ib.config_file ?? "none found"],
    ["banned CPUs", `${list(ib.banned_cpus)} (chosen by ${ib.banned_cpus_source})`],
    ["banned IRQs", ib.banned_irqs.length === 0 ? "none" : ib.banned_irqs.join(", ")],
  ]);
  const a = r.sip.affinity;
  const sip = a === null
    ? `not found (units: ${r.sip.searched.units.join(", ") || "none"}; names: ${
      r.sip.searched.process_names.join(", ") || "none"
    })`
    : `found by ${r.sip.found_by}; threads may run on CPUs ${list(a.cpus)}\n` +
      table(["PID", "COMM", "THREADS", "CPUS", "THREAD MASKS", "AGREE"], processRows(a.processes));
  return [
    "== CPUs",
    cpus,
    "",
    "== SIP NIC",
    nic,
    "",
    "== irqbalance",
    irqbalance,
    "",
    "== SIP router",
    sip,
    "",
    "== Profile",
    renderProfileState(r.profile),
  ].join("\n");
}

function renderProfileState(p: TuneShow["profile"]): string {
  if (p.applied === null) return "none applied by sipmi";
  const v = p.verify;
  const head = keyValues([
    ["applied", `${p.applied.source} at ${p.applied.applied}`],
    [
      "waiting for confirm",
      p.pending_confirm === null ? "no" : `until ${p.pending_confirm.deadline}`,
    ],
    ["now", v === null ? "-" : v.in_sync ? "in sync" : `${v.drift.length} items drifted`],
  ]);
  if (v === null || v.drift.length === 0) return head;
  return `${head}\n${
    table(
      ["TARGET", "HAS", "WANTS", "CAUSE"],
      v.drift.map((d) => [d.target, d.have, d.want, d.cause]),
    )
  }`;
}
