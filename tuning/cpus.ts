// The CPUs as a tuning decision needs them: which are online, which the
// kernel keeps for isolated work (isolcpus, nohz_full), NUMA nodes, and
// which CPUs are hyperthread siblings of one core (a SIP worker and its
// NIC queue share caches best on one core; two busy workers do not want to
// share one).

import type { HostFs } from "../sys/hostfs.ts";
import { CpuSet, parseKernelCpuList } from "./cpuset.ts";
import { atLine, FormatError } from "./format_error.ts";
import { mapLimit } from "./pool.ts";

const CPU_DIR = "/sys/devices/system/cpu";

export interface CpuInfo {
  cpu: number;
  online: boolean;
  node: number | null;
  package: number | null;
  core: number | null;
  /** Hyperthreads of the same core, including this CPU. */
  thread_siblings: string | null;
}

export interface CpuList {
  online: string;
  offline: string;
  possible: string | null;
  present: string | null;
  isolated: string;
  nohz_full: string;
  /** The highest CPU number the kernel was built for (NR_CPUS - 1). */
  kernel_max: number | null;
  /** CPU-related kernel command line parameters, as written. */
  cmdline: Record<string, string>;
  nodes: { node: number; cpus: string }[];
  /** Groups of hyperthread siblings (one entry per core with more than one thread). */
  smt_groups: string[];
  cpus: CpuInfo[];
}

/** The CPU sets the rest of the tuning code works with. */
export interface CpuTopology {
  online: CpuSet;
  isolated: CpuSet;
  nohzFull: CpuSet;
  /** node -> CPUs */
  nodes: Map<number, CpuSet>;
}

async function readSet(fs: HostFs, path: string): Promise<CpuSet | null> {
  const t = await fs.readTextIfExists(path);
  if (t === undefined) return null;
  return atLine(path, 1, () => parseKernelCpuList(t));
}

async function readNum(fs: HostFs, path: string): Promise<number | null> {
  const t = await fs.readTextIfExists(path);
  if (t === undefined) return null;
  const v = t.trim();
  if (!/^-?[0-9]+$/.test(v)) throw new FormatError(path, 1, `expected an integer, found '${v}'`);
  return Number(v);
}

/** Online CPUs; a host without the sysfs file (a bare /proc capture) falls back to /proc/stat. */
export async function onlineCpus(fs: HostFs): Promise<CpuSet | null> {
  const online = await readSet(fs, `${CPU_DIR}/online`);
  if (online !== null) return online;
  const stat = await fs.readTextIfExists("/proc/stat");
  if (stat === undefined) return null;
  const cpus = [...stat.matchAll(/^cpu([0-9]+)\s/gm)].map((m) => Number(m[1]));
  return CpuSet.of(cpus);
}

export async function readTopology(fs: HostFs): Promise<CpuTopology> {
  const online = await onlineCpus(fs);
  if (online === null) {
    throw new FormatError(
      `${CPU_DIR}/online`,
      0,
      "missing (and /proc/stat too): cannot tell which CPUs are online",
    );
  }
  const nodes = new Map<number, CpuSet>();
  for (const e of (await fs.readDirIfExists("/sys/devices/system/node")) ?? []) {
    const m = /^node([0-9]+)$/.exec(e.name);
    if (!m) continue;
    const cpus = await readSet(fs, `/sys/devices/system/node/${e.name}/cpulist`);
    if (cpus !== null) nodes.set(Number(m[1]), cpus);
  }
  return {
    online,
    isolated: (await readSet(fs, `${CPU_DIR}/isolated`)) ?? CpuSet.EMPTY,
    nohzFull: (await readSet(fs, `${CPU_DIR}/nohz_full`)) ?? CpuSet.EMPTY,
    nodes,
  };
}

const CMDLINE_KEYS = [
  "isolcpus",
  "nohz_full",
  "rcu_nocbs",
  "irqaffinity",
  "nohz",
  "maxcpus",
  "nr_cpus",
];

async function cmdlineParams(fs: HostFs): Promise<Record<string, string>> {
  const text = await fs.readTextIfExists("/proc/cmdline");
  const out: Record<string, string> = {};
  if (text === undefined) return out;
  // Kernel parameters end at `--` (the rest goes to init).
  for (const word of text.trim().split(/\s+/)) {
    if (word === "--") break;
    const eq = word.indexOf("=");
    const key = eq < 0 ? word : word.slice(0, eq);
    if (CMDLINE_KEYS.includes(key)) out[key] = eq < 0 ? "" : word.slice(eq + 1);
  }
  return out;
}

export async function listCpus(fs: HostFs): Promise<CpuList> {
  const topo = await readTopology(fs);
  const [possible, present, offline, kernelMax, cmdline] = await Promise.all([
    readSet(fs, `${CPU_DIR}/possible`),
    readSet(fs, `${CPU_DIR}/present`),
    readSet(fs, `${CPU_DIR}/offline`),
    readNum(fs, `${CPU_DIR}/kernel_max`),
    cmdlineParams(fs),
  ]);
  const nodeOf = new Map<number, number>();
  for (const [node, cpus] of topo.nodes) for (const c of cpus) nodeOf.set(c, node);
  // Every CPU the kernel knows of: offline ones have no topology files.
  const all = (present ?? topo.online).union(offline ?? CpuSet.EMPTY).union(topo.online);
  const cpus = await mapLimit(all.toArray(), 64, async (cpu): Promise<CpuInfo> => {
    const t = `${CPU_DIR}/cpu${cpu}/topology`;
    const siblings = await readSet(fs, `${t}/thread_siblings_list`);
    return {
      cpu,
      online: topo.online.has(cpu),
      node: nodeOf.get(cpu) ?? null,
      package: await readNum(fs, `${t}/physical_package_id`),
      core: await readNum(fs, `${t}/core_id`),
      thread_siblings: siblings?.toList() ?? null,
    };
  });
  const smt = new Set<string>();
  for (const c of cpus) {
    if (c.thread_siblings !== null && c.thread_siblings.match(/[-,]/)) smt.add(c.thread_siblings);
  }
  return {
    online: topo.online.toList(),
    offline: (offline ?? CpuSet.EMPTY).toList(),
    possible: possible?.toList() ?? null,
    present: present?.toList() ?? null,
    isolated: topo.isolated.toList(),
    nohz_full: topo.nohzFull.toList(),
    kernel_max: kernelMax,
    cmdline,
    nodes: [...topo.nodes].sort((a, b) => a[0] - b[0]).map(([node, c]) => ({
      node,
      cpus: c.toList(),
    })),
    smt_groups: [...smt],
    cpus,
  };
}
