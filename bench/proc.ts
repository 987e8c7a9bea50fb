// What the benchmark reads of a server process tree: CPU time and memory.
// Read through HostFs like every other /proc access.

import { hostRoot } from "../sys/hostfs.ts";

/** USER_HZ: /proc/PID/stat counts CPU time in these ticks (100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The pid and all its descendants (for multi-process servers such as Kamailio). */
export async function processTree(pid: number): Promise<number[]> {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const children = await hostRoot.readTextIfExists(`/proc/${out[i]}/task/${out[i]}/children`);
    for (const c of (children ?? "").trim().split(/\s+/)) if (c) out.push(Number(c));
  }
  return out;
}

/** User + system CPU seconds of the processes (all their threads). */
export async function cpuSeconds(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await hostRoot.readTextIfExists(`/proc/${pid}/stat`);
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15: utime, stime
  }
  return ticks / TICKS_PER_SECOND;
}

export interface Memory {
  /** Sum of VmRSS (counts shared pages once per process). */
  rssMb: number;
  /** Sum of Pss (shared pages divided among their users): fair across process models. */
  pssMb: number;
  processes: number;
}

export async function memory(pids: number[]): Promise<Memory> {
  let rss = 0, pss = 0, n = 0;
  for (const pid of pids) {
    const status = await hostRoot.readTextIfExists(`/proc/${pid}/status`);
    if (!status) continue;
    n++;
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const rollup = await hostRoot.readTextIfExists(`/proc/${pid}/smaps_rollup`);
    pss += Number(/Pss:\s+(\d+)/.exec(rollup ?? "")?.[1] ?? 0);
  }
  return { rssMb: rss / 1024, pssMb: pss / 1024, processes: n };
}
