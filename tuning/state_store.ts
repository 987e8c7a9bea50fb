// sipmi's own files in `tuning.state_dir` (a host path, so under a fixture
// root it lands in the fixture): snapshots of what a change overwrote, the
// journal of the last transaction, the profile last applied, IRQs found
// unchangeable, and the apply lock. Every file is written atomically
// (temporary file, fsync, rename), so a crash leaves the old version or
// the new one, and rollback works after a restart.

import type { HostFs } from "../sys/hostfs.ts";
import { processAlive } from "../sys/libc.ts";
import type { SnapshotEntry } from "./targets.ts";
import type { Profile } from "./profile.ts";
import type { PendingPush } from "./plan_host.ts";

/** Snapshots kept; older ones are removed when a new one is written. */
export const MAX_SNAPSHOTS = 50;

let lastIdMs = 0;

export interface Snapshot {
  id: string;
  created: string;
  /** What the transaction was: `profile /etc/sipmi/host.jsonc`, `irq_set_affinity`. */
  what: string;
  /** What was there before each change, in apply order. */
  entries: SnapshotEntry[];
  /** When it was restored, if it was. */
  rolled_back?: string;
}

export type JournalState =
  | "applying"
  | "applied"
  | "pending_confirm"
  | "rolled_back"
  | "rollback_failed";

export interface Journal {
  state: JournalState;
  snapshot: string;
  what: string;
  /** The process that runs (or ran) the transaction. */
  pid: number;
  started: string;
  finished?: string;
  /** pending_confirm: rolled back at this time unless confirmed. */
  deadline?: string;
  confirmed?: string;
}

export interface Applied {
  source: string;
  profile: Profile;
  applied: string;
  /** The snapshot of the apply that changed something (null: the host already matched). */
  snapshot: string | null;
  /** Processes each item pinned at apply time, to tell a restarted SIP router from drift. */
  pids: Record<string, number[]>;
}

export interface LockInfo {
  pid: number;
  since: string;
  what: string;
}

export class StateStore {
  readonly #fs: HostFs;
  readonly dir: string;

  constructor(fs: HostFs, dir: string) {
    this.#fs = fs;
    this.dir = dir.replace(/\/+$/, "") || "/";
  }

  #path(name: string): string {
    return `${this.dir}/${name}`;
  }

  async #read<T>(name: string): Promise<T | null> {
    const text = await this.#fs.readTextIfExists(this.#path(name));
    if (text === undefined) return null;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(
        `${this.#path(name)} is not JSON: a damaged state file (move it away to continue)`,
      );
    }
  }

  async #write(name: string, value: unknown): Promise<void> {
    await this.#fs.makeDir(`${this.dir}/snapshots`);
    await this.#fs.replaceFile(this.#path(name), JSON.stringify(value, null, 1) + "\n", {
      mode: 0o640,
    });
  }

  async #remove(name: string): Promise<void> {
    await this.#fs.removeFile(this.#path(name));
  }

  // -------------------------------------------------------------- snapshots

  /**
   * A new snapshot id: its UTC time to the millisecond, so ids sort in the
   * order snapshots were taken (transactions are serialized by the lock;
   * within one process the time is kept strictly increasing).
   */
  static newId(): string {
    const ms = Math.max(Date.now(), lastIdMs + 1);
    lastIdMs = ms;
    const t = new Date(ms).toISOString().replace(/[-:.]/g, "");
    return `${t}-${crypto.randomUUID().slice(0, 6)}`;
  }

  async saveSnapshot(s: Snapshot): Promise<void> {
    await this.#write(`snapshots/${s.id}.json`, s);
    const all = await this.snapshotIds();
    for (const old of all.slice(0, Math.max(0, all.length - MAX_SNAPSHOTS))) {
      await this.#remove(`snapshots/${old}.json`);
    }
  }

  /** Snapshot ids, oldest first (ids start with their UTC time). */
  async snapshotIds(): Promise<string[]> {
    const entries = (await this.#fs.readDirIfExists(`${this.dir}/snapshots`)) ?? [];
    return entries.map((e) => e.name).filter((n) => /^[0-9TZ]+-[0-9a-f]+\.json$/.test(n))
      .map((n) => n.slice(0, -5)).sort();
  }

  async snapshot(id: string): Promise<Snapshot | null> {
    if (!/^[0-9TZ]+-[0-9a-f]+$/.test(id)) return null;
    return await this.#read<Snapshot>(`snapshots/${id}.json`);
  }

  // ---------------------------------------------------------------- journal

  journal(): Promise<Journal | null> {
    return this.#read<Journal>("journal.json");
  }

  writeJournal(j: Journal): Promise<void> {
    return this.#write("journal.json", j);
  }

  applied(): Promise<Applied | null> {
    return this.#read<Applied>("applied.json");
  }

  async writeApplied(a: Applied | null): Promise<void> {
    if (a === null) await this.#remove("applied.json");
    else await this.#write("applied.json", a);
  }

  async unchangeable(): Promise<string[]> {
    return (await this.#read<string[]>("unchangeable.json")) ?? [];
  }

  writeUnchangeable(irqs: string[]): Promise<void> {
    return this.#write("unchangeable.json", irqs);
  }

  async pendingPush(): Promise<PendingPush | null> {
    const p = await this.#read<PendingPush>("irqbalance_push.json");
    return p !== null && p.until > Date.now() ? p : null;
  }

  writePendingPush(p: PendingPush): Promise<void> {
    return this.#write("irqbalance_push.json", p);
  }

  // ------------------------------------------------------------------- lock

  /**
   * Takes the apply lock for `pid` (O_EXCL create). A lock whose owner is
   * gone is stale and taken over. Returns null when taken, else who holds it.
   */
  async lock(pid: number, what: string): Promise<LockInfo | null> {
    await this.#fs.makeDir(`${this.dir}/snapshots`);
    const info: LockInfo = { pid, since: new Date().toISOString(), what };
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await this.#fs.createExclusive(this.#path("apply.lock"), JSON.stringify(info))) {
        return null;
      }
      // A lock file cut short by a crash reads as no holder: stale too.
      const holder = await this.#read<LockInfo>("apply.lock").catch(() => null);
      if (holder !== null && processAlive(holder.pid)) return holder;
      await this.#remove("apply.lock");
    }
    return (await this.#read<LockInfo>("apply.lock")) ?? { pid: 0, since: "", what: "unknown" };
  }

  async unlock(): Promise<void> {
    await this.#remove("apply.lock");
  }
}
