// One change of the host as a transaction: snapshot everything the plan
// touches, journal "applying", make the changes in the safe order (default
// affinity, irqbalance, IRQs, RPS, threads), read every write back, and on
// the first failure restore the snapshot, newest first. A crash between
// "applying" and the end leaves the journal saying so; the next start rolls
// the snapshot back (runtime.ts). The caller holds the apply lock.

import { errText } from "../sys/log.ts";
import { type Change, type Plan, type Row, type Skipped, summarize } from "./changes.ts";
import type { TuningEnv } from "./env.ts";
import { type Journal, type Snapshot, StateStore } from "./state_store.ts";
import { capture, errnoOfFailure, perform, restore } from "./targets.ts";

export type ApplyStatus = "applied" | "unchanged" | "rolled_back" | "rollback_failed";

export interface ApplyResult {
  dry_run: false;
  what: string;
  status: ApplyStatus;
  /** The snapshot to roll back to (null when nothing was changed). */
  snapshot: string | null;
  rows: Row[];
  summary: ReturnType<typeof summarize>;
  /** After a failure: restoring the snapshot, one row per change undone. */
  restored: Row[];
  unchanged: number;
  /** Targets the kernel does not let userspace change: listed, skipped. */
  unchangeable: Skipped[];
  notes: string[];
  /** Waiting for `tune confirm` until this time, else rolled back. */
  confirm_deadline?: string;
}

export interface TransactionHooks {
  /** Called as each change's row is known (the runtime remembers unchangeable IRQs). */
  onRow?: (row: Row, change: Change) => void;
  /** Seconds to wait for a confirmation; 0 or absent: none. */
  confirmTimeoutS?: number;
}

function failedRow(c: Change, e: unknown): Row {
  return {
    step: c.step,
    item: c.item,
    target: c.target,
    old: c.old,
    new: c.new,
    result: "failed",
    errno: errnoOfFailure(e) ?? undefined,
    note: errText(e),
  };
}

/** Restores entries newest first; rows in that order. */
export async function restoreAll(
  env: TuningEnv,
  snap: Snapshot,
  count = snap.entries.length,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (let i = count - 1; i >= 0; i--) rows.push(await restore(env, snap.entries[i]));
  return rows;
}

export async function runTransaction(
  env: TuningEnv,
  store: StateStore,
  plan: Plan,
  hooks: TransactionHooks = {},
): Promise<ApplyResult> {
  const base = {
    dry_run: false as const,
    what: plan.what,
    restored: [] as Row[],
    unchanged: plan.unchanged.length,
    unchangeable: plan.unchangeable,
    notes: [...plan.notes],
  };
  if (plan.changes.length === 0) {
    return { ...base, status: "unchanged", snapshot: null, rows: [], summary: summarize([]) };
  }
  const snap: Snapshot = {
    id: StateStore.newId(),
    created: new Date().toISOString(),
    what: plan.what,
    entries: [],
  };
  for (const c of plan.changes) snap.entries.push(await capture(env, c));
  await store.saveSnapshot(snap);
  const journal: Journal = {
    state: "applying",
    snapshot: snap.id,
    what: plan.what,
    pid: env.pid,
    started: snap.created,
  };
  await store.writeJournal(journal);

  const rows: Row[] = [];
  let failed = false;
  for (let i = 0; i < plan.changes.length; i++) {
    const c = plan.changes[i];
    let r: Row;
    try {
      r = await perform(env, c, snap.entries[i]);
    } catch (e) {
      r = failedRow(c, e);
    }
    rows.push(r);
    hooks.onRow?.(r, c);
    if (r.result === "failed") {
      failed = true;
      break;
    }
  }
  // Threads born during the apply joined their entries: keep them for rollback.
  await store.saveSnapshot(snap);
  if (failed) {
    const restored = await restoreAll(env, snap, rows.length);
    const ok = restored.every((r) => r.result !== "failed");
    snap.rolled_back = new Date().toISOString();
    await store.saveSnapshot(snap);
    await store.writeJournal({
      ...journal,
      state: ok ? "rolled_back" : "rollback_failed",
      finished: snap.rolled_back,
    });
    return {
      ...base,
      status: ok ? "rolled_back" : "rollback_failed",
      snapshot: snap.id,
      rows,
      summary: summarize(rows),
      restored,
    };
  }
  const finished = new Date().toISOString();
  const timeout = hooks.confirmTimeoutS ?? 0;
  if (timeout > 0) {
    const deadline = new Date(Date.now() + timeout * 1000).toISOString();
    await store.writeJournal({ ...journal, state: "pending_confirm", finished, deadline });
    return {
      ...base,
      status: "applied",
      snapshot: snap.id,
      rows,
      summary: summarize(rows),
      confirm_deadline: deadline,
    };
  }
  await store.writeJournal({ ...journal, state: "applied", finished });
  return { ...base, status: "applied", snapshot: snap.id, rows, summary: summarize(rows) };
}
