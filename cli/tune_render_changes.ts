// Human output of the tuning write side: plans as a diff (target, old ->
// new, why), results row by row with what the kernel kept, verifications
// item by item, snapshots. Each function takes the MI result, whether it
// came from this process or a daemon; nothing here reads the host.

import type { PlanResult, Row, Skipped } from "../tuning/changes.ts";
import type { RollbackResult, SnapshotInfo, TuningStatus } from "../tuning/runtime.ts";
import type { VerifyResult } from "../tuning/verify.ts";
import type { ApplyResult } from "../tuning/transaction.ts";
import { type Cell, keyValues, table } from "./table.ts";

const STEP_TITLES: Record<string, string> = {
  default_irq_affinity: "default IRQ affinity",
  irqbalance: "irqbalance",
  irqs: "IRQs",
  rps: "RPS",
  threads: "threads",
};

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

function list(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : ["", `${title}:`, ...lines.map((l) => `  ${l}`)];
}

function skipped(s: readonly Skipped[]): string[] {
  return s.map((x) => `${x.target}: ${x.value}${x.reason ? ` (${x.reason})` : ""} [${x.item}]`);
}

export function renderPlan(p: PlanResult): string {
  const cpus = Object.entries(p.cpus).map(([k, v]) => `${k} ${v}`).join(", ");
  const out = [
    `Plan for ${p.what}${cpus ? ` (${cpus})` : ""}: ${plural(p.changes.length, "change")}`,
  ];
  if (p.changes.length > 0) {
    out.push("");
    const rows: Cell[][] = p.changes.map((
      c,
    ) => [STEP_TITLES[c.step] ?? c.step, c.target, c.old, "->", c.new, `${c.item}: ${c.reason}`]);
    out.push(table(["STEP", "TARGET", "NOW", "", "THEN", "WHY"], rows));
    for (const c of p.changes) {
      if (c.diff === undefined || c.diff.length === 0) continue;
      out.push("", `${c.target}:`, ...c.diff.map((l) => `  ${l}`));
    }
  }
  out.push(...list(`unchanged (${p.unchanged.length})`, skipped(p.unchanged)));
  out.push(...list("unchangeable, skipped", skipped(p.unchangeable)));
  out.push(...list("notes", p.notes));
  out.push(...list("ERRORS (nothing is written while there is one)", p.errors));
  return out.join("\n");
}

function rowTable(rows: readonly Row[]): string {
  return table(
    ["RESULT", "TARGET", "OLD", "", "NEW", "NOTE"],
    rows.map((r) => [
      r.result.toUpperCase(),
      r.target,
      r.old,
      "->",
      r.kept !== undefined ? `${r.new} (kept ${r.kept})` : r.new,
      [r.errno, r.note].filter((x) => x !== undefined && x !== "").join(": "),
    ]),
  );
}

export function renderApply(r: ApplyResult): string {
  const s = r.summary;
  const out: string[] = [];
  if (r.status === "unchanged") {
    out.push(`${r.what}: 0 changes (${r.unchanged} already as wanted)`);
  } else {
    out.push(`${r.what}: ${r.status}`, "", rowTable(r.rows));
    if (r.restored.length > 0) out.push("", "restored from the snapshot:", rowTable(r.restored));
    out.push(
      "",
      `${s.applied} applied, ${s.unchanged} unchanged, ${s.unchangeable} unchangeable, ${s.failed} failed; ${r.unchanged} already as wanted`,
    );
    if (r.snapshot !== null && r.status === "applied") {
      out.push(`snapshot ${r.snapshot} (undo: sipmi tune rollback ${r.snapshot})`);
    }
  }
  out.push(...list("unchangeable, skipped", skipped(r.unchangeable)));
  out.push(...list("notes", r.notes));
  return out.join("\n");
}

/** A single change or a profile apply: a plan when it was a dry run. */
export function renderChange(r: ApplyResult | PlanResult): string {
  return "dry_run" in r && r.dry_run === true
    ? renderPlan(r as PlanResult)
    : renderApply(r as ApplyResult);
}

export function renderVerify(v: VerifyResult): string {
  const out: string[] = [];
  if (v.in_sync) {
    out.push(`in sync with ${v.profile}: ${plural(v.in_sync_items, "item")} as the profile wants`);
  } else if (v.drift.length > 0) {
    out.push(
      `DRIFT from ${v.profile}: ${plural(v.drift.length, "item")} ${
        v.drift.length === 1 ? "differs" : "differ"
      }, ${v.in_sync_items} as wanted`,
      "",
      table(
        ["ITEM", "TARGET", "HAS", "WANTS", "CAUSE"],
        v.drift.map((d) => [d.item, d.target, d.have, d.want, d.cause]),
      ),
    );
  } else {
    out.push(`${v.profile}: cannot be met on this host`);
  }
  out.push(...list("unchangeable, skipped", skipped(v.unchangeable)));
  out.push(...list("notes", v.notes));
  out.push(...list("ERRORS", v.errors));
  return out.join("\n");
}

export function renderRollback(r: RollbackResult): string {
  const head = r.dry_run
    ? `Rolling back ${r.what} (snapshot ${r.snapshot}) would restore:`
    : `${r.what} (snapshot ${r.snapshot}): ${r.status.replace("_", " ")}`;
  if (r.dry_run) {
    return `${head}\n${
      table(
        ["STEP", "TARGET", "BACK TO"],
        r.rows.map((x) => [STEP_TITLES[x.step], x.target, x.new]),
      )
    }`;
  }
  return `${head}\n\n${rowTable(r.rows)}`;
}

export function renderSnapshots(r: { snapshots: SnapshotInfo[] }): string {
  if (r.snapshots.length === 0) return "no snapshots";
  return table(
    ["SNAPSHOT", "CREATED", "CHANGES", "ROLLED BACK", "WHAT"],
    r.snapshots.map((s) => [s.id, s.created, s.changes, s.rolled_back ?? "no", s.what]),
  );
}

export function renderConfirm(r: { confirmed: string; what: string }): string {
  return `confirmed: ${r.what} (snapshot ${r.confirmed}) stays applied`;
}

export function renderStatus(s: TuningStatus): string {
  const v = s.last_verify;
  return keyValues([
    [
      "applied profile",
      s.applied === null ? "none" : `${s.applied.source} at ${s.applied.applied}`,
    ],
    ["undo snapshot", s.applied?.snapshot ?? "-"],
    [
      "waiting for confirm",
      s.pending_confirm === null
        ? "no"
        : `until ${s.pending_confirm.deadline} (snapshot ${s.pending_confirm.snapshot})`,
    ],
    [
      "last transaction",
      s.journal === null ? "-" : `${s.journal.what}: ${s.journal.state.replace("_", " ")}`,
    ],
    [
      "last verify",
      v === null
        ? "-"
        : `${v.checked_at}: ${v.in_sync ? "in sync" : `${plural(v.drift.length, "item")} drifted`}`,
    ],
    ["verify every", s.verify_interval_s === 0 ? "never" : `${s.verify_interval_s}s`],
    ["enforce", s.enforce],
    [
      "unchangeable IRQs",
      s.unchangeable_irqs.length === 0 ? "none" : s.unchangeable_irqs.join(", "),
    ],
  ]);
}
