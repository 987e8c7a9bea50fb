// The tuning write side as one object per MI instance: transactions under
// the apply lock, the confirm timeout, crash recovery, and staying in sync
// (re-verify every tuning.verify_interval_s; log, count and, with
// tuning.enforce, repair drift). Built from a TuningEnv and plain settings,
// with no process-wide state, so it runs wherever its env was built.
//
// Background work has explicit start/stop (the daemon calls them): start()
// rolls back an apply a crash interrupted, re-arms or expires a pending
// confirmation, and starts the verify loop; stop() ends both timers.

import { hostRoot } from "../sys/hostfs.ts";
import { processAlive } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { type Change, type Plan, type PlanResult, publicPlan, type Row } from "./changes.ts";
import type { TuningEnv } from "./env.ts";
import { planProfile } from "./plan.ts";
import type { LoadedProfile } from "./profile.ts";
import { type Journal, type Snapshot, StateStore } from "./state_store.ts";
import { describeEntry } from "./targets.ts";
import { type ApplyResult, restoreAll, runTransaction } from "./transaction.ts";
import { TuningError } from "./tuning_error.ts";
import { driftCauses, type VerifyResult } from "./verify.ts";

/** A profile already loaded (the applied one), as opposed to a path or an inline object. */
export class Loaded {
  readonly loaded: LoadedProfile;
  constructor(l: LoadedProfile) {
    this.loaded = { profile: l.profile, source: l.source };
  }
}

/** A profile file path, an inline profile object, or one already loaded. */
export type ProfileSource = string | Record<string, unknown> | Loaded;

export interface TuningSettings {
  /** Default profile file (tuning.profile); "" = none. */
  profile: string;
  /** Seconds between re-verifications of the applied profile; 0 = never. */
  verifyIntervalS: number;
  /** Re-apply the profile when drift is found. */
  enforce: boolean;
}

/** The settings of a config's `tuning` section. */
export function tuningSettings(
  t: { profile: string; verify_interval_s: number; enforce: boolean },
): TuningSettings {
  return { profile: t.profile, verifyIntervalS: t.verify_interval_s, enforce: t.enforce };
}

export interface RuntimeLog {
  info(message: string): void;
  notice(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const QUIET: RuntimeLog = { info() {}, notice() {}, warn() {}, error() {} };

export interface RollbackResult {
  snapshot: string;
  what: string;
  dry_run: boolean;
  status: "rolled_back" | "rollback_failed" | "plan";
  rows: Row[];
}

export interface SnapshotInfo {
  id: string;
  created: string;
  what: string;
  changes: number;
  rolled_back: string | null;
}

export interface TuningStatus {
  applied: { source: string; applied: string; snapshot: string | null } | null;
  journal: Journal | null;
  pending_confirm: { snapshot: string; deadline: string } | null;
  /** The last plan made here (tune_plan), the last change, the last verification. */
  last_plan: PlanResult | null;
  last_apply: ApplyResult | null;
  last_verify: VerifyResult | null;
  verify_interval_s: number;
  enforce: boolean;
  unchangeable_irqs: string[];
}

/**
 * Where the runtime keeps its `tuning:` statistics: the MI instance's
 * registry in-process; in the tuning worker, counters and values posted to
 * the main thread's registry.
 */
export interface TuningStats {
  counter(group: string, name: string): { inc(n?: number): void };
  computed(group: string, name: string, fn: () => number): void;
}

export interface RuntimeHooks {
  stats?: TuningStats;
  log?: RuntimeLog;
}

export class TuningRuntime {
  readonly env: TuningEnv;
  readonly store: StateStore;
  readonly settings: TuningSettings;
  readonly #log: RuntimeLog;
  readonly #unchangeable = new Set<string>();
  #busy: string | null = null;
  #lastPlan: PlanResult | null = null;
  #lastApply: ApplyResult | null = null;
  #lastVerify: VerifyResult | null = null;
  /** Drift already logged (item + target), so a lasting drift is logged once. */
  #logged = new Set<string>();
  #verifyTimer: ReturnType<typeof setTimeout> | undefined;
  #confirmTimer: ReturnType<typeof setTimeout> | undefined;
  #tick: Promise<void> | null = null;
  #running = false;
  readonly #c;

  constructor(env: TuningEnv, settings: TuningSettings, hooks: RuntimeHooks = {}) {
    this.env = env;
    this.settings = { ...settings };
    this.store = new StateStore(env.fs, env.stateDir);
    this.#log = hooks.log ?? QUIET;
    const s = hooks.stats;
    const counter = (name: string) => s?.counter("tuning", name);
    this.#c = {
      applies: counter("applies"),
      failures: counter("apply_failures"),
      rollbacks: counter("rollbacks"),
      verifies: counter("verifies"),
      drift: counter("drift"),
      repairs: counter("repairs"),
    };
    s?.computed("tuning", "drift_now", () => this.#lastVerify?.drift.length ?? 0);
    s?.computed("tuning", "unchangeable", () => this.#unchangeable.size);
  }

  // -------------------------------------------------------------- lifecycle

  /** Crash recovery, then the confirm timer and the verify loop. The daemon calls this once. */
  async start(): Promise<void> {
    this.#running = true;
    for (const irq of await this.store.unchangeable()) this.#unchangeable.add(irq);
    await this.recover();
    this.#armVerify();
  }

  /**
   * Takes new settings (a config reload): the default profile, the verify
   * interval and enforcement apply from now on.
   */
  reconfigure(settings: TuningSettings): void {
    Object.assign(this.settings, settings);
    // A pass under way re-arms the loop when it ends; otherwise re-arm it now.
    if (this.#tick !== null) return;
    clearTimeout(this.#verifyTimer);
    this.#verifyTimer = undefined;
    this.#armVerify();
  }

  /** Ends the background work; waits for a verification in progress. */
  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#verifyTimer);
    clearTimeout(this.#confirmTimer);
    this.#verifyTimer = this.#confirmTimer = undefined;
    await this.#tick;
  }

  /**
   * Puts right what an earlier process left: an apply interrupted by a
   * crash is rolled back; a confirmation window is re-armed, or rolled back
   * when it has passed.
   */
  async recover(): Promise<string | null> {
    const j = await this.store.journal();
    if (j === null) return null;
    const ownerAlive = j.pid !== this.env.pid && processAlive(j.pid);
    if (j.state === "applying" && !ownerAlive) {
      this.#log.warn(
        `tuning: ${j.what} (snapshot ${j.snapshot}) was interrupted (pid ${j.pid} is gone): rolling back`,
      );
      try {
        await this.#withLock(
          "recovery",
          () => this.#rollbackLocked(j.snapshot, "interrupted apply"),
        );
      } catch (e) {
        // Whoever holds the lock now recovers first (recoverLocked) before changing anything.
        if (!(e instanceof TuningError && e.kind === "busy")) throw e;
      }
      return j.snapshot;
    }
    if (j.state === "pending_confirm" && j.deadline !== undefined) {
      const left = Date.parse(j.deadline) - Date.now();
      // A live owner (a `sipmi tune apply` waiting) decides first; this is the backstop.
      this.#armConfirm(j.snapshot, Math.max(0, left) + (ownerAlive ? 2000 : 0));
    }
    return null;
  }

  #armVerify(): void {
    if (!this.#running || this.settings.verifyIntervalS <= 0) return;
    this.#verifyTimer = setTimeout(() => {
      this.#tick = this.#periodic().finally(() => {
        this.#tick = null;
        this.#armVerify();
      });
    }, this.settings.verifyIntervalS * 1000);
    // The loop alone must not keep a process alive (a CLI run, a test).
    Deno.unrefTimer(this.#verifyTimer);
  }

  async #periodic(): Promise<void> {
    try {
      const applied = await this.store.applied();
      if (applied === null) return;
      const v = await this.verify(new Loaded(applied), { watch: true });
      if (v.in_sync || !this.settings.enforce || v.errors.length > 0) return;
      try {
        const r = await this.#applyProfile({ profile: applied.profile, source: applied.source }, {
          repair: true,
        });
        this.#c.repairs?.inc(r.summary.applied);
        this.#log.notice(
          `tuning: drift repaired (tuning.enforce): ${r.summary.applied} changes, snapshot ${r.snapshot}`,
        );
        await this.verify(new Loaded(applied), { watch: true });
      } catch (e) {
        // Another change runs, or one waits for its confirmation: the next pass tries again.
        if (e instanceof TuningError && (e.kind === "busy" || e.kind === "state")) {
          this.#log.info(`tuning: drift not repaired now: ${e.message}`);
        } else throw e;
      }
    } catch (e) {
      this.#log.error(`tuning: periodic verification failed: ${errText(e)}`);
    }
  }

  // ------------------------------------------------------------ the lock

  async #withLock<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.#busy !== null) throw new TuningError("busy", "Busy", `${this.#busy} is running`);
    this.#busy = what;
    try {
      const holder = await this.store.lock(this.env.pid, what);
      if (holder !== null) {
        throw new TuningError(
          "busy",
          "Busy",
          `${holder.what} is running (pid ${holder.pid}, since ${holder.since})`,
        );
      }
      try {
        return await fn();
      } finally {
        await this.store.unlock();
      }
    } finally {
      this.#busy = null;
    }
  }

  async #refuseWhilePending(): Promise<void> {
    const j = await this.store.journal();
    if (j?.state === "pending_confirm") {
      throw new TuningError(
        "state",
        "A change waits for confirmation",
        `${j.what} (snapshot ${j.snapshot}) until ${j.deadline}: run tune confirm or tune rollback first`,
      );
    }
  }

  // -------------------------------------------------------------- profiles

  /** The profile a command means: the one given, else tuning.profile, else the one applied. */
  async #profile(from?: ProfileSource): Promise<LoadedProfile> {
    if (from instanceof Loaded) return from.loaded;
    const given = from ?? (this.settings.profile !== "" ? this.settings.profile : undefined);
    if (given !== undefined) {
      // The profile reader (JSONC, and the npm module behind it) loads when first needed:
      // the daemon's tuning worker that never reads a profile file never loads it.
      const [{ loadProfile }, { ConfigError }] = await Promise.all([
        import("./profile.ts"),
        import("../config/load.ts"),
      ]);
      try {
        return await loadProfile(hostRoot, given as string | Record<string, unknown>);
      } catch (e) {
        if (e instanceof ConfigError) {
          throw new TuningError("profile", "Bad profile", e.problems.join("; "));
        }
        throw e;
      }
    }
    const applied = await this.store.applied();
    if (applied !== null) return { profile: applied.profile, source: applied.source };
    throw new TuningError(
      "profile",
      "No profile",
      "give one (profile=FILE), set tuning.profile in the config, or apply one first",
    );
  }

  async #plan(loaded: LoadedProfile): Promise<Plan> {
    return await planProfile(this.env, loaded.profile, loaded.source, {
      unchangeable: this.#unchangeable,
      pending: await this.store.pendingPush(),
    });
  }

  async plan(from?: ProfileSource): Promise<PlanResult> {
    this.#lastPlan = publicPlan(await this.#plan(await this.#profile(from)));
    return this.#lastPlan;
  }

  /** Applies a profile (or, with dryRun, plans it). */
  async apply(
    from: ProfileSource | undefined,
    opts: { dryRun?: boolean; confirmTimeoutS?: number } = {},
  ): Promise<ApplyResult | PlanResult> {
    const loaded = await this.#profile(from);
    if (opts.dryRun) return this.#lastPlan = publicPlan(await this.#plan(loaded));
    return await this.#applyProfile(loaded, { confirmTimeoutS: opts.confirmTimeoutS });
  }

  async #applyProfile(
    loaded: LoadedProfile,
    opts: { confirmTimeoutS?: number; repair?: boolean },
  ): Promise<ApplyResult> {
    return await this.#withLock(`tune_apply ${loaded.source}`, async () => {
      await this.#refuseWhilePending();
      await this.recoverLocked();
      const plan = await this.#plan(loaded);
      if (opts.repair) plan.what = `repair of ${plan.what} (tuning.enforce)`;
      const r = await this.#transaction(plan, opts.confirmTimeoutS);
      // The snapshot that undoes the profile: the first apply's, not a repair's or a no-op's.
      const prev = await this.store.applied();
      const same = prev !== null && prev.source === loaded.source;
      await this.store.writeApplied({
        source: loaded.source,
        profile: loaded.profile,
        applied: new Date().toISOString(),
        snapshot: opts.repair || r.snapshot === null ? (same ? prev.snapshot : null) : r.snapshot,
        pids: plan.pids,
      });
      return r;
    });
  }

  /** A plan made by a single-change command: applied as its own transaction, or shown (dryRun). */
  async change(plan: Plan, opts: { dryRun?: boolean } = {}): Promise<ApplyResult | PlanResult> {
    if (plan.errors.length > 0) {
      throw new TuningError("plan", "Impossible request", plan.errors.join("; "));
    }
    if (opts.dryRun) return publicPlan(plan);
    return await this.#withLock(plan.what, async () => {
      await this.#refuseWhilePending();
      await this.recoverLocked();
      return await this.#transaction(plan);
    });
  }

  async #transaction(plan: Plan, confirmTimeoutS = 0): Promise<ApplyResult> {
    if (plan.errors.length > 0) {
      throw new TuningError("plan", "Impossible plan", plan.errors.join("; "));
    }
    const r = await runTransaction(this.env, this.store, plan, {
      confirmTimeoutS,
      onRow: (row, c) => this.#noteRow(row, c),
    });
    await this.#rememberPushes(plan, r);
    if (this.#unchangeable.size > 0) await this.store.writeUnchangeable([...this.#unchangeable]);
    this.#lastApply = r;
    if (r.status === "unchanged" || r.status === "applied") {
      if (r.status === "applied") this.#c.applies?.inc();
      if (r.confirm_deadline !== undefined && r.snapshot !== null) {
        this.#armConfirm(r.snapshot, Date.parse(r.confirm_deadline) - Date.now());
      }
      return r;
    }
    this.#c.failures?.inc();
    this.#c.rollbacks?.inc();
    const failed = r.rows.find((x) => x.result === "failed");
    const what = failed
      ? `${failed.target}: ${failed.errno ? `${failed.errno}: ` : ""}${failed.note}`
      : "";
    const restored = r.restored.filter((x) => x.result === "applied").length;
    const tail = r.status === "rolled_back"
      ? `rolled back: ${restored} changes restored from snapshot ${r.snapshot}`
      : `ROLLBACK INCOMPLETE (snapshot ${r.snapshot}): ${
        r.restored.filter((x) => x.result === "failed").map((x) => `${x.target}: ${x.note}`).join(
          "; ",
        )
      }`;
    this.#log.error(`tuning: ${plan.what} failed at ${what}; ${tail}`);
    throw new TuningError(
      "failed",
      r.status === "rolled_back"
        ? "Apply failed, rolled back"
        : "Apply failed, rollback incomplete",
      `${what}; ${tail}`,
      r,
    );
  }

  #noteRow(row: Row, c: Change): void {
    if (row.result !== "unchangeable" || c.action.kind !== "kernel_cpus") return;
    const m = /^\/proc\/irq\/([0-9]+)\//.exec(c.action.path);
    if (m && !this.#unchangeable.has(m[1])) {
      this.#unchangeable.add(m[1]);
      this.#log.notice(`tuning: ${row.target} is unchangeable (${row.errno}): skipped from now on`);
    }
  }

  /** A live irqbalance push shows in its `setup` only after its next pass: remember it until then. */
  async #rememberPushes(plan: Plan, r: ApplyResult): Promise<void> {
    for (let i = 0; i < r.rows.length; i++) {
      const a = plan.changes[i].action;
      if (a.kind !== "irqbalance" || a.daemon === null || r.rows[i].result !== "applied") continue;
      if (!r.rows[i].note?.includes("next pass")) continue;
      const sleep = Number(/every ([0-9]+)s/.exec(r.rows[i].note ?? "")?.[1] ?? 10);
      await this.store.writePendingPush({
        pid: a.daemon.pid,
        cpus: a.daemon.cpus,
        irqs: a.daemon.irqs,
        until: Date.now() + (2 * sleep + 2) * 1000,
      });
    }
  }

  // ---------------------------------------------------------- confirmation

  #armConfirm(snapshot: string, ms: number): void {
    clearTimeout(this.#confirmTimer);
    this.#confirmTimer = setTimeout(() => {
      this.#confirmTimer = undefined;
      this.#expire(snapshot).catch((e) =>
        this.#log.error(`tuning: confirm timeout: ${errText(e)}`)
      );
    }, Math.max(0, ms));
  }

  async #expire(snapshot: string): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await this.#withLock("confirm timeout", async () => {
          const j = await this.store.journal();
          if (j?.state !== "pending_confirm" || j.snapshot !== snapshot) return;
          this.#log.warn(
            `tuning: no confirmation for ${j.what} by ${j.deadline}: rolling back snapshot ${snapshot}`,
          );
          await this.#rollbackLocked(snapshot, "confirm timeout");
        });
        return;
      } catch (e) {
        if (!(e instanceof TuningError && e.kind === "busy")) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async confirm(): Promise<{ confirmed: string; what: string }> {
    return await this.#withLock("tune_confirm", async () => {
      const j = await this.store.journal();
      if (j?.state !== "pending_confirm") {
        throw new TuningError(
          "state",
          "Nothing to confirm",
          "no applied change waits for confirmation",
        );
      }
      await this.store.writeJournal({
        ...j,
        state: "applied",
        confirmed: new Date().toISOString(),
      });
      clearTimeout(this.#confirmTimer);
      this.#confirmTimer = undefined;
      this.#log.notice(`tuning: ${j.what} (snapshot ${j.snapshot}) confirmed`);
      return { confirmed: j.snapshot, what: j.what };
    });
  }

  // -------------------------------------------------------------- rollback

  /**
   * Restores a snapshot: the one named, else the newest not rolled back yet
   * (of the given profile's applies, when `profile` names one).
   */
  async rollback(
    id?: string,
    opts: { dryRun?: boolean; profile?: string } = {},
  ): Promise<RollbackResult> {
    if (opts.dryRun) {
      const snap = await this.#pick(id, opts.profile);
      return {
        snapshot: snap.id,
        what: snap.what,
        dry_run: true,
        status: "plan",
        rows: snap.entries.map((e) => ({
          step: e.step,
          item: e.item,
          target: e.target,
          old: "",
          new: describeEntry(e),
          result: "unchanged" as const,
        })).reverse(),
      };
    }
    return await this.#withLock("tune_rollback", async () => {
      const snap = await this.#pick(id, opts.profile);
      return await this.#rollbackLocked(snap.id, "tune_rollback");
    });
  }

  async #pick(id?: string, profile?: string): Promise<Snapshot> {
    if (id !== undefined) {
      const s = await this.store.snapshot(id);
      if (s === null) {
        throw new TuningError("state", "No such snapshot", `${id} (tune_snapshots lists them)`);
      }
      return s;
    }
    const of = profile === undefined
      ? () => true
      : (s: Snapshot) =>
        s.what === `profile ${profile}` ||
        s.what === `repair of profile ${profile} (tuning.enforce)`;
    const ids = await this.store.snapshotIds();
    for (let i = ids.length - 1; i >= 0; i--) {
      const s = await this.store.snapshot(ids[i]);
      if (s !== null && s.rolled_back === undefined && of(s)) return s;
    }
    throw new TuningError(
      "state",
      "Nothing to roll back",
      profile === undefined
        ? "no snapshot that is not rolled back already"
        : `no snapshot of profile ${profile} that is not rolled back already`,
    );
  }

  /** The recovery part of every transaction: done under the lock the caller holds. */
  async recoverLocked(): Promise<void> {
    const j = await this.store.journal();
    if (j?.state === "applying" && (j.pid === this.env.pid || !processAlive(j.pid))) {
      this.#log.warn(
        `tuning: ${j.what} (snapshot ${j.snapshot}) was interrupted: rolling back first`,
      );
      await this.#rollbackLocked(j.snapshot, "interrupted apply");
    }
  }

  async #rollbackLocked(id: string, why: string): Promise<RollbackResult> {
    const snap = await this.store.snapshot(id);
    if (snap === null) throw new TuningError("state", "No such snapshot", id);
    const rows = await restoreAll(this.env, snap);
    const ok = rows.every((r) => r.result !== "failed");
    snap.rolled_back = new Date().toISOString();
    await this.store.saveSnapshot(snap);
    const j = await this.store.journal();
    if (j !== null && j.snapshot === id) {
      await this.store.writeJournal({
        ...j,
        state: ok ? "rolled_back" : "rollback_failed",
        finished: snap.rolled_back,
      });
    }
    const applied = await this.store.applied();
    if (applied !== null && applied.snapshot === id) await this.store.writeApplied(null);
    this.#c.rollbacks?.inc();
    const failed = rows.filter((r) => r.result === "failed");
    if (failed.length > 0) {
      this.#log.error(
        `tuning: rollback of ${snap.what} (${why}) left ${failed.length} targets unrestored: ${
          failed.map((r) => `${r.target}: ${r.note}`).join("; ")
        }`,
      );
    } else this.#log.notice(`tuning: rolled back ${snap.what} (snapshot ${id}, ${why})`);
    return {
      snapshot: id,
      what: snap.what,
      dry_run: false,
      status: ok ? "rolled_back" : "rollback_failed",
      rows,
    };
  }

  async snapshots(): Promise<{ snapshots: SnapshotInfo[] }> {
    const out: SnapshotInfo[] = [];
    for (const id of (await this.store.snapshotIds()).reverse()) {
      const s = await this.store.snapshot(id);
      if (s === null) continue;
      out.push({
        id,
        created: s.created,
        what: s.what,
        changes: s.entries.length,
        rolled_back: s.rolled_back ?? null,
      });
    }
    return { snapshots: out };
  }

  // ------------------------------------------------------------------ verify

  /** Verifies the profile last applied here; null when none is. */
  async verifyApplied(): Promise<VerifyResult | null> {
    const applied = await this.store.applied();
    return applied === null ? null : await this.verify(new Loaded(applied));
  }

  /**
   * Compares the host with a profile. The daemon's periodic pass (`watch`)
   * also logs each new drift item once and counts it; an explicit
   * verification answers with the drift and leaves the log alone.
   */
  async verify(from?: ProfileSource, opts: { watch?: boolean } = {}): Promise<VerifyResult> {
    const loaded = await this.#profile(from);
    const plan = await this.#plan(loaded);
    const applied = await this.store.applied();
    const drift = await driftCauses(
      this.env,
      plan,
      applied?.source === loaded.source ? applied : null,
    );
    const v: VerifyResult = {
      profile: loaded.source,
      checked_at: new Date().toISOString(),
      in_sync: drift.length === 0 && plan.errors.length === 0,
      drift,
      in_sync_items: plan.unchanged.length,
      unchangeable: plan.unchangeable,
      notes: plan.notes,
      errors: plan.errors,
    };
    this.#lastVerify = v;
    if (!opts.watch) return v;
    this.#c.verifies?.inc();
    const now = new Set(drift.map((d) => `${d.item}\u0000${d.target}`));
    for (const d of drift) {
      const key = `${d.item}\u0000${d.target}`;
      if (this.#logged.has(key)) continue;
      this.#c.drift?.inc();
      this.#log.warn(
        `tuning drift: ${d.item}: ${d.target} is ${d.have}, the profile wants ${d.want} (${d.cause})`,
      );
    }
    this.#logged = now;
    return v;
  }

  // ------------------------------------------------------------------ status

  async status(): Promise<TuningStatus> {
    const applied = await this.store.applied();
    const j = await this.store.journal();
    return {
      applied: applied === null
        ? null
        : { source: applied.source, applied: applied.applied, snapshot: applied.snapshot },
      journal: j,
      pending_confirm: j?.state === "pending_confirm" && j.deadline !== undefined
        ? { snapshot: j.snapshot, deadline: j.deadline }
        : null,
      last_plan: this.#lastPlan,
      last_apply: this.#lastApply,
      last_verify: this.#lastVerify,
      verify_interval_s: this.settings.verifyIntervalS,
      enforce: this.settings.enforce,
      unchangeable_irqs: [...this.#unchangeable],
    };
  }
}
