// Finding processes and their threads in /proc: by PID, by name, by the
// systemd unit whose cgroup holds them. Processes come and go while we
// read, so a task that vanishes between listing and reading is skipped,
// never an error.

import { type HostFs, HostFsError } from "../sys/hostfs.ts";
import { type CpuSet, parseCpuList } from "./cpuset.ts";
import { atLine, FormatError } from "./format_error.ts";
import type { Pattern } from "./pattern.ts";
import { mapLimit } from "./pool.ts";

/** Thrown away: the task exited while we looked at it. */
function gone(e: unknown): boolean {
  return e instanceof HostFsError &&
    (e.notFound || e.kind === "NotFound" || /ESRCH|No such process/.test(e.message));
}

/** Runs a read of one task's files; undefined when the task is gone. */
export async function ifAlive<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
}

export async function listPids(fs: HostFs): Promise<number[]> {
  const entries = await fs.readDir("/proc");
  return entries.filter((e) => /^[0-9]+$/.test(e.name)).map((e) => Number(e.name));
}

export async function listTids(fs: HostFs, pid: number): Promise<number[]> {
  const entries = await fs.readDir(`/proc/${pid}/task`);
  return entries.filter((e) => /^[0-9]+$/.test(e.name)).map((e) => Number(e.name));
}

export async function readComm(fs: HostFs, path: string): Promise<string> {
  return (await fs.readText(path)).replace(/\n$/, "");
}

/** argv of a process (empty for kernel threads). */
export async function readCmdline(fs: HostFs, pid: number): Promise<string[]> {
  const t = await fs.readText(`/proc/${pid}/cmdline`);
  const parts = t.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** The environment a process started with (root only); undefined when unreadable. */
export async function readEnviron(
  fs: HostFs,
  pid: number,
): Promise<Record<string, string> | undefined> {
  let t: string;
  try {
    t = await fs.readText(`/proc/${pid}/environ`);
  } catch (e) {
    if (e instanceof HostFsError && (e.notFound || e.kind === "PermissionDenied")) return undefined;
    throw e;
  }
  const out: Record<string, string> = {};
  for (const kv of t.split("\0")) {
    const eq = kv.indexOf("=");
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** `Cpus_allowed_list` of /proc/PID/task/TID/status (or /proc/PID/status). */
export async function readStatusAffinity(fs: HostFs, path: string): Promise<CpuSet> {
  const text = await fs.readText(path);
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("Cpus_allowed_list:")) {
      return atLine(path, i + 1, () => parseCpuList(lines[i].slice("Cpus_allowed_list:".length)));
    }
  }
  throw new FormatError(path, 0, "no Cpus_allowed_list line");
}

/** PIDs whose comm or argv[0] basename matches. */
export async function pidsByName(fs: HostFs, re: Pattern): Promise<number[]> {
  const pids = await listPids(fs);
  const hits = await mapLimit(pids, 64, async (pid) => {
    return await ifAlive(async () => {
      const comm = await readComm(fs, `/proc/${pid}/comm`);
      if (re.test(comm)) return true;
      const argv0 = (await readCmdline(fs, pid))[0];
      return argv0 !== undefined && argv0 !== "" &&
        re.test(argv0.slice(argv0.lastIndexOf("/") + 1));
    });
  });
  return pids.filter((_, i) => hits[i] === true);
}

/**
 * PIDs in a systemd unit's cgroup: a line of /proc/PID/cgroup whose path has
 * the unit as a component (`0::/system.slice/opensips.service`, or the
 * `name=systemd` hierarchy on cgroup v1). Works without talking to systemd.
 */
export async function pidsByUnit(fs: HostFs, unit: string): Promise<number[]> {
  const pids = await listPids(fs);
  const hits = await mapLimit(pids, 64, async (pid) => {
    return await ifAlive(async () => {
      const text = await fs.readText(`/proc/${pid}/cgroup`);
      return text.split("\n").some((line) => {
        const path = line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
        return path.split("/").includes(unit);
      });
    });
  });
  return pids.filter((_, i) => hits[i] === true);
}
