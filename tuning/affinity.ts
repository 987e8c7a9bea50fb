// CPU affinity of processes and each of their threads. sched_setaffinity
// acts on one thread, so a process is pinned only when every thread is:
// the answer lists the distinct masks and, on request, every thread.
//
// Two sources are read and cross-checked: sched_getaffinity(2) through FFI
// (sys/libc.ts) and Cpus_allowed_list of /proc/PID/task/TID/status. They
// agree on a sane host; a disagreement is shown, not hidden. On a fixture
// root there is no live process to ask, so only the status files count.

import type { HostFs } from "../sys/hostfs.ts";
import { SysError } from "../sys/libc.ts";
import { CpuSet } from "./cpuset.ts";
import { LookupError } from "./lookup_error.ts";
import { compilePattern } from "./pattern.ts";
import { mapLimit } from "./pool.ts";
import {
  ifAlive,
  listTids,
  pidsByName,
  pidsByUnit,
  readCmdline,
  readComm,
  readStatusAffinity,
} from "./procs.ts";

/** sched_getaffinity of one thread; undefined when it is not available (a fixture root). */
export type AffinityReader = ((tid: number) => number[]) | undefined;

export type Selector = { pid: number } | { name: string } | { unit: string };

export interface ThreadAffinity {
  tid: number;
  comm: string;
  /** The CPUs the thread may run on (sched_getaffinity, else the status file). */
  cpus: string;
  sched_getaffinity: string | null;
  status: string;
  /** Whether both sources agree; null when only one was read. */
  agree: boolean | null;
}

export interface ProcessAffinity {
  pid: number;
  comm: string;
  command: string;
  /** Affinity of the main thread (what `taskset -p` shows). */
  cpus: string;
  threads: number;
  /** Distinct thread masks -> how many threads have each. */
  thread_cpus: Record<string, number>;
  /** Every thread has the same mask. */
  uniform: boolean;
  agree: boolean | null;
  tasks?: ThreadAffinity[];
}

export interface AffinityResult {
  selector: Selector;
  source: "sched_getaffinity+status" | "status";
  processes: ProcessAffinity[];
  /** Union of every listed thread's CPUs. */
  cpus: string;
  /** Every thread's two sources agree (null when only the status files were read). */
  agree: boolean | null;
}

export async function pidsFor(fs: HostFs, sel: Selector): Promise<number[]> {
  if ("pid" in sel) return (await fs.exists(`/proc/${sel.pid}/task`)) ? [sel.pid] : [];
  if ("name" in sel) {
    // Validated where the selector was made (a parameter, a profile).
    const re = compilePattern(sel.name);
    if (typeof re === "string") throw new Error(`process name pattern ${re}`);
    return await pidsByName(fs, re);
  }
  return await pidsByUnit(fs, sel.unit);
}

function describe(sel: Selector): string {
  if ("pid" in sel) return `process ${sel.pid}`;
  if ("name" in sel) return `process matching /${sel.name}/`;
  return `process in unit ${sel.unit}`;
}

async function threadAffinity(
  fs: HostFs,
  pid: number,
  tid: number,
  reader: AffinityReader,
): Promise<ThreadAffinity | undefined> {
  const base = `/proc/${pid}/task/${tid}`;
  const read = await ifAlive(async () => ({
    comm: await readComm(fs, `${base}/comm`),
    status: await readStatusAffinity(fs, `${base}/status`),
  }));
  if (read === undefined) return undefined;
  let sys: CpuSet | null = null;
  if (reader !== undefined) {
    try {
      sys = CpuSet.of(reader(tid));
    } catch (e) {
      // The thread exited between the two reads.
      if (e instanceof SysError && e.code === "ESRCH") return undefined;
      throw e;
    }
  }
  return {
    tid,
    comm: read.comm,
    cpus: (sys ?? read.status).toList(),
    sched_getaffinity: sys?.toList() ?? null,
    status: read.status.toList(),
    agree: sys === null ? null : sys.equals(read.status),
  };
}

export async function processAffinity(
  fs: HostFs,
  pid: number,
  reader: AffinityReader,
  withTasks: boolean,
): Promise<ProcessAffinity | undefined> {
  const head = await ifAlive(async () => ({
    comm: await readComm(fs, `/proc/${pid}/comm`),
    argv: await readCmdline(fs, pid),
    tids: await listTids(fs, pid),
  }));
  if (head === undefined) return undefined;
  const tasks = (await mapLimit(head.tids, 32, (tid) => threadAffinity(fs, pid, tid, reader)))
    .filter((t): t is ThreadAffinity => t !== undefined);
  if (tasks.length === 0) return undefined;
  const main = tasks.find((t) => t.tid === pid) ?? tasks[0];
  const thread_cpus: Record<string, number> = {};
  for (const t of tasks) thread_cpus[t.cpus] = (thread_cpus[t.cpus] ?? 0) + 1;
  const agree = reader === undefined ? null : tasks.every((t) => t.agree === true);
  const out: ProcessAffinity = {
    pid,
    comm: head.comm,
    command: head.argv.join(" ").slice(0, 200),
    cpus: main.cpus,
    threads: tasks.length,
    thread_cpus,
    uniform: Object.keys(thread_cpus).length === 1,
    agree,
  };
  if (withTasks) out.tasks = tasks;
  return out;
}

export async function getAffinity(
  fs: HostFs,
  sel: Selector,
  reader: AffinityReader,
  withTasks: boolean,
  opts: { allowEmpty?: boolean } = {},
): Promise<AffinityResult> {
  const pids = await pidsFor(fs, sel);
  const processes = (await mapLimit(pids, 16, (pid) => processAffinity(fs, pid, reader, withTasks)))
    .filter((p): p is ProcessAffinity => p !== undefined);
  if (processes.length === 0 && !opts.allowEmpty) throw new LookupError(`no ${describe(sel)}`);
  const union = CpuSet.of(
    processes.flatMap((p) =>
      Object.keys(p.thread_cpus).flatMap((l) => CpuSet.parseList(l).toArray())
    ),
  );
  return {
    selector: sel,
    source: reader === undefined ? "status" : "sched_getaffinity+status",
    processes,
    cpus: union.toList(),
    agree: reader === undefined ? null : processes.every((p) => p.agree === true),
  };
}
