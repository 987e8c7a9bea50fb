// What the host picture reads, and how: MI commands through the listener's
// gateway, read-only, like any client would run them — `tune_show` (CPUs,
// the SIP NIC's queue IRQs, irqbalance, the SIP router's threads),
// `tune_doctor` (findings, without its sampling pause: rates come from the
// picture's own views), `host_stats` (per-CPU NET_RX and softnet counters)
// and, when `which` lists it, `tune_status` (the last plan and the last
// verification's drift). The shapes below are the parts of those results
// the picture draws; everything else is ignored.

import type { CallResult, MiClient, MiErrorObject } from "./gateway.ts";

export interface ShowCpu {
  cpu: number;
  online: boolean;
  node: number | null;
  core: number | null;
  thread_siblings: string | null;
}

export interface ShowQueueIrq {
  irq: string;
  name: string;
  kind?: string;
  queue?: number;
  total?: number;
  smp_affinity_list: string | null;
  effective_affinity_list: string | null;
  active_cpus?: string;
  changeable?: boolean | null;
}

export interface ShowNic {
  name: string;
  driver?: string | null;
  numa_node?: number | null;
  local_cpulist?: string | null;
  queue_irqs: ShowQueueIrq[];
}

export interface ShowProcess {
  pid: number;
  comm: string;
  threads: number;
  /** Distinct thread masks → how many threads have each. */
  thread_cpus: Record<string, number>;
}

export interface TuneShowResult {
  cpus: {
    online: string;
    isolated: string;
    nohz_full: string;
    nodes: { node: number; cpus: string }[];
    cpus: ShowCpu[];
  };
  nic: ShowNic | { error: string };
  irqbalance: { running: boolean; banned_cpus: string | null; pids?: number[] };
  sip: {
    found_by: string | null;
    affinity: { processes: ShowProcess[] } | null;
  };
}

export interface CpuCounters {
  cpu: number;
  net_rx: number | null;
  dropped: number | null;
  time_squeeze: number | null;
}

export interface HostStatsResult {
  cpus: CpuCounters[];
}

export interface Finding {
  id: string;
  severity: string;
  title: string;
  evidence: string[];
  advice: string;
}

export interface DoctorResult {
  findings: Finding[];
  skipped?: { check: string; reason: string }[];
}

export interface PlanChange {
  item: string;
  target: string;
  old: string;
  new: string;
  reason: string;
}

export interface DriftItem {
  item: string;
  target: string;
  have: string;
  want: string;
  cause: string;
}

/** The parts of `tune_status` drawn: the last plan and the last verification. */
export interface TuneStatusResult {
  last_plan: { what: string; changes: PlanChange[]; errors?: string[] } | null;
  last_verify: {
    profile: string;
    checked_at: string;
    in_sync: boolean;
    drift: DriftItem[];
  } | null;
}

export type Part<T> = { ok: true; value: T } | { ok: false; error: MiErrorObject };

export interface HostData {
  show: Part<TuneShowResult>;
  doctor: Part<DoctorResult>;
  stats: Part<HostStatsResult>;
  /** Absent when the daemon has no `tune_status` (tuning transactions). */
  status?: Part<TuneStatusResult>;
}

function part<T>(r: CallResult): Part<T> {
  return r.ok ? { ok: true, value: r.result as T } : { ok: false, error: r.error };
}

/** Runs the commands the picture needs, in parallel; `nic` picks another NIC than the SIP one. */
export async function readHost(
  client: MiClient,
  opts: { nic?: string; conn?: unknown },
): Promise<HostData> {
  const call = (method: string, params?: Record<string, unknown>) =>
    client.call(method, params, { readOnly: true, conn: opts.conn });
  const nic = opts.nic !== undefined ? { nic: opts.nic } : {};
  const [show, doctor, stats, which] = await Promise.all([
    call("tune_show", nic),
    call("tune_doctor", { interval: 0, ...nic }),
    call("host_stats", nic),
    call("which"),
  ]);
  const data: HostData = { show: part(show), doctor: part(doctor), stats: part(stats) };
  if (which.ok && Array.isArray(which.result) && which.result.includes("tune_status")) {
    data.status = part(await call("tune_status"));
  }
  return data;
}
