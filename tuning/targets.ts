// For each kind of change: what to keep before it (the snapshot entry), how
// to make it and read it back (the result row), and how to put the old
// state back. One place per kind, so apply, rollback, the confirm timeout
// and crash recovery all restore the same way.

import { HostFsError } from "../sys/hostfs.ts";
import { SysError } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import {
  type Action,
  type Change,
  classifyErrno,
  type DaemonTarget,
  type Row,
  type Step,
} from "./changes.ts";
import { CpuSet, parseCpuList, parseKernelCpuList, parseKernelCpuMask } from "./cpuset.ts";
import type { TuningEnv } from "./env.ts";
import { makeDaemonObey, restart, undoLive } from "./irqbalance_control.ts";
import { ifAlive, listTids, readStatusAffinity } from "./procs.ts";

/** What a row of this entry is called (the change it belongs to). */
export interface EntryLabel {
  step: Step;
  item: string;
  target: string;
}

export interface FileState {
  path: string;
  exists: boolean;
  /** The bytes, base64 (a config file is restored byte for byte). */
  data: string;
  mode: number | null;
  uid: number | null;
  gid: number | null;
}

export type SnapshotEntry =
  & EntryLabel
  & (
    | { kind: "kernel"; path: string; format: "list" | "mask"; cpus: string; nr: number }
    | {
      kind: "irqbalance";
      file: FileState | null;
      /** The daemon told, and how (set once it was): null when none was. */
      daemon: (DaemonTarget & { via: "socket" | "systemd" | null }) | null;
    }
    | { kind: "service"; unit: string; active: boolean }
    | { kind: "threads"; pid: number; comm: string; tasks: { tid: number; cpus: string }[] }
  );

// ------------------------------------------------------------------ helpers

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function readCpus(env: TuningEnv, path: string, format: "list" | "mask"): Promise<CpuSet> {
  const text = await env.fs.readText(path);
  return format === "list" ? parseKernelCpuList(text) : parseKernelCpuMask(text);
}

/** A thread's affinity: sched_getaffinity on the host, the status file on a fixture. */
async function threadCpus(env: TuningEnv, pid: number, tid: number): Promise<CpuSet | undefined> {
  if (env.reader !== undefined) {
    try {
      return CpuSet.of(env.reader(tid));
    } catch (e) {
      if (e instanceof SysError && e.code === "ESRCH") return undefined;
      throw e;
    }
  }
  return await ifAlive(() => readStatusAffinity(env.fs, `/proc/${pid}/task/${tid}/status`));
}

async function fileState(env: TuningEnv, path: string): Promise<FileState> {
  const st = await env.fs.statIfExists(path);
  if (st === undefined) return { path, exists: false, data: "", mode: null, uid: null, gid: null };
  return {
    path,
    exists: true,
    data: toBase64(await env.fs.readBytes(path)),
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
  };
}

/** The errno of a failure, from a HostFsError or a SysError. */
export function errnoOfFailure(e: unknown): string | null {
  if (e instanceof HostFsError) return e.errno;
  if (e instanceof SysError) return e.code;
  return null;
}

function row(
  l: EntryLabel,
  old: string,
  now: string,
  result: Row["result"],
  extra: Partial<Row> = {},
): Row {
  return { step: l.step, item: l.item, target: l.target, old, new: now, result, ...extra };
}

// ------------------------------------------------------------------ capture

/** What a change will overwrite, read just before it is made. */
export async function capture(env: TuningEnv, c: Change): Promise<SnapshotEntry> {
  const label: EntryLabel = { step: c.step, item: c.item, target: c.target };
  const a = c.action;
  switch (a.kind) {
    case "kernel_cpus": {
      const cpus = (await readCpus(env, a.path, a.format)).toList();
      return { ...label, kind: "kernel", path: a.path, format: a.format, cpus, nr: a.nr };
    }
    case "irqbalance":
      return {
        ...label,
        kind: "irqbalance",
        file: a.text === null ? null : await fileState(env, a.path),
        daemon: a.daemon === null ? null : { ...a.daemon, via: null },
      };
    case "service":
      return { ...label, kind: "service", unit: a.unit, active: a.action === "stop" };
    case "threads": {
      const tasks: { tid: number; cpus: string }[] = [];
      for (const tid of (await ifAlive(() => listTids(env.fs, a.pid))) ?? []) {
        if (!a.all && tid !== a.pid) continue;
        const cpus = await threadCpus(env, a.pid, tid);
        if (cpus !== undefined) tasks.push({ tid, cpus: cpus.toList() });
      }
      return { ...label, kind: "threads", pid: a.pid, comm: a.comm, tasks };
    }
  }
}

// ------------------------------------------------------------------ perform

/**
 * Makes one change and reads it back. Throws on a failure the transaction
 * must roll back for; a refusal that is not a failure (an unchangeable IRQ)
 * comes back as its row. `entry` learns what only the change itself finds
 * out (threads that appeared since the snapshot, how irqbalance was told).
 */
export async function perform(env: TuningEnv, c: Change, entry: SnapshotEntry): Promise<Row> {
  const a: Action = c.action;
  switch (a.kind) {
    case "kernel_cpus": {
      const want = parseCpuList(a.cpus);
      const text = a.format === "list" ? want.toList() : want.toMask(a.nr);
      try {
        await env.fs.writeKernel(a.path, `${text}\n`);
      } catch (e) {
        const errno = errnoOfFailure(e);
        if (classifyErrno(a, errno) === "unchangeable") {
          return row(c, c.old, c.new, "unchangeable", {
            errno: errno ?? undefined,
            note: `the kernel refuses userspace changes to this IRQ (${errno}); skipped`,
          });
        }
        throw e;
      }
      const back = await readCpus(env, a.path, a.format);
      if (!back.equals(want)) {
        throw new Error(
          `${a.path}: wrote ${want.toList() || "(none)"}, the kernel kept ${
            back.toList() || "(none)"
          }`,
        );
      }
      return row(c, c.old, c.new, "applied");
    }
    case "irqbalance": {
      if (entry.kind !== "irqbalance") throw new Error("snapshot entry does not match the change");
      const notes: string[] = [];
      if (a.text !== null) {
        await env.fs.replaceFile(a.path, a.text, { mode: 0o644 });
        if ((await env.fs.readText(a.path)) !== a.text) {
          throw new Error(`${a.path}: read back differs`);
        }
        notes.push(`${a.path} written`);
      }
      if (a.daemon !== null && entry.daemon !== null) {
        const told = await makeDaemonObey(env.fs, env.services, a.daemon);
        entry.daemon.via = told.via;
        notes.push(told.how);
      } else if (a.text !== null) {
        notes.push("irqbalance does not run: it reads this at its next start");
      }
      return row(c, c.old, c.new, "applied", { note: notes.join("; ") });
    }
    case "service": {
      const r = await env.services.run(a.action, a.unit);
      if (r.code !== 0) {
        throw new Error(`systemctl ${a.action} ${a.unit} failed (exit ${r.code}): ${r.output}`);
      }
      return row(c, c.old, c.new, "applied", { note: env.services.describe(a.action, a.unit) });
    }
    case "threads": {
      if (entry.kind !== "threads") throw new Error("snapshot entry does not match the change");
      return await setThreads(env, c, a, entry);
    }
  }
}

async function setThreads(
  env: TuningEnv,
  c: Change,
  a: Extract<Action, { kind: "threads" }>,
  entry: Extract<SnapshotEntry, { kind: "threads" }>,
): Promise<Row> {
  const want = parseCpuList(a.cpus);
  const tids = ((await ifAlive(() => listTids(env.fs, a.pid))) ?? []).filter((t) =>
    a.all || t === a.pid
  );
  let done = 0, gone = 0;
  const kept = new Set<string>();
  for (const tid of tids) {
    if (!entry.tasks.some((t) => t.tid === tid)) {
      // A thread born since the snapshot: keep its mask too, before changing it.
      const cur = await threadCpus(env, a.pid, tid);
      if (cur === undefined) {
        gone++;
        continue;
      }
      entry.tasks.push({ tid, cpus: cur.toList() });
    }
    try {
      await env.writer(tid, want.toArray());
    } catch (e) {
      if (e instanceof SysError && e.code === "ESRCH") {
        gone++;
        continue;
      }
      throw e;
    }
    const back = await threadCpus(env, a.pid, tid);
    if (back === undefined) {
      gone++;
      continue;
    }
    done++;
    kept.add(back.toList());
  }
  if (done === 0 && gone > 0) {
    return row(c, c.old, c.new, "unchanged", {
      note: `process ${a.pid} exited before it could be pinned`,
    });
  }
  const extra: Partial<Row> = {};
  const notes = [`${done} thread${done === 1 ? "" : "s"} set`];
  if (gone > 0) notes.push(`${gone} exited meanwhile (ignored)`);
  const keptList = [...kept];
  if (keptList.length !== 1 || keptList[0] !== want.toList()) {
    extra.kept = keptList.join(" ");
    const dropped = want.minus(CpuSet.of(keptList.flatMap((k) => parseCpuList(k).toArray())));
    if (!dropped.isEmpty) notes.push(`the kernel dropped CPU ${dropped.toList()} (not online)`);
  }
  return row(c, c.old, c.new, "applied", { ...extra, note: notes.join("; ") });
}

// ------------------------------------------------------------------ restore

/** Puts back what a snapshot entry holds; only what differs is written. */
export async function restore(env: TuningEnv, e: SnapshotEntry): Promise<Row> {
  try {
    return await restoreOne(env, e);
  } catch (err) {
    return row(e, "", "", "failed", {
      errno: errnoOfFailure(err) ?? undefined,
      note: errText(err),
    });
  }
}

async function restoreOne(env: TuningEnv, e: SnapshotEntry): Promise<Row> {
  switch (e.kind) {
    case "kernel": {
      const want = parseCpuList(e.cpus);
      const cur = await readCpus(env, e.path, e.format);
      const show = (s: CpuSet) => s.toList() || "off";
      if (cur.equals(want)) return row(e, show(cur), show(want), "unchanged");
      const text = e.format === "list" ? want.toList() : want.toMask(e.nr);
      await env.fs.writeKernel(e.path, `${text}\n`);
      const back = await readCpus(env, e.path, e.format);
      if (!back.equals(want)) {
        throw new Error(`${e.path}: wrote ${want.toList()}, the kernel kept ${back.toList()}`);
      }
      return row(e, show(cur), show(want), "applied");
    }
    case "irqbalance": {
      const notes: string[] = [];
      let changed = false;
      if (e.file !== null) {
        const now = await fileState(env, e.file.path);
        if (now.exists !== e.file.exists || now.data !== e.file.data) {
          if (e.file.exists) {
            await env.fs.replaceFile(e.file.path, fromBase64(e.file.data), {
              mode: e.file.mode ?? 0o644,
            });
          } else await env.fs.removeFile(e.file.path);
          changed = true;
          notes.push(`${e.file.path} ${e.file.exists ? "restored" : "removed"}`);
        }
      }
      if (e.daemon?.via === "socket") notes.push(await undoLive(env.fs, e.daemon));
      else if (e.daemon?.via === "systemd") notes.push(await restart(env.services));
      const told = e.daemon?.via != null;
      return row(e, "", "as before", changed || told ? "applied" : "unchanged", {
        note: notes.join("; ") || undefined,
      });
    }
    case "service": {
      if (!e.active) return row(e, "", "stopped", "unchanged");
      const r = await env.services.run("start", e.unit);
      if (r.code !== 0) {
        throw new Error(`systemctl start ${e.unit} failed (exit ${r.code}): ${r.output}`);
      }
      return row(e, "stopped", "running", "applied", {
        note: env.services.describe("start", e.unit),
      });
    }
    case "threads": {
      let done = 0, gone = 0;
      for (const t of e.tasks) {
        const cur = await threadCpus(env, e.pid, t.tid);
        if (cur === undefined) {
          gone++;
          continue;
        }
        if (cur.toList() === t.cpus) continue;
        try {
          await env.writer(t.tid, parseCpuList(t.cpus).toArray());
          done++;
        } catch (err) {
          if (err instanceof SysError && err.code === "ESRCH") gone++;
          else throw err;
        }
      }
      const note = gone > 0 ? `${gone} threads exited (ignored)` : undefined;
      return row(e, "", `${e.tasks.length} threads as before`, done > 0 ? "applied" : "unchanged", {
        note,
      });
    }
  }
}

/** What restoring an entry gives, for a dry run of a rollback. */
export function describeEntry(e: SnapshotEntry): string {
  switch (e.kind) {
    case "kernel":
      return e.cpus || "off";
    case "irqbalance":
      return e.file === null
        ? "irqbalance as before"
        : `${e.file.path} ${e.file.exists ? "as before" : "removed"}`;
    case "service":
      return e.active ? "running" : "stopped";
    case "threads":
      return [...new Set(e.tasks.map((t) => t.cpus))].join(", ") || "(no threads)";
  }
}
