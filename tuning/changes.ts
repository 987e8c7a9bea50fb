// The vocabulary of the write side: a plan is a list of changes (target,
// old, new, reason), each with the action that makes it; applying a change
// gives a result row classified as applied, unchanged, unchangeable or
// failed, with the errno name. Plans, snapshots and results are plain JSON:
// they are MI results, stored in the state directory, and drawn by others.

/** The order an apply runs in (rollback runs backwards). */
export const STEPS = ["default_irq_affinity", "irqbalance", "irqs", "rps", "threads"] as const;
export type Step = typeof STEPS[number];

export type Action =
  /** Write CPUs to a kernel file: a cpulist file or a hex mask file. */
  | { kind: "kernel_cpus"; path: string; format: "list" | "mask"; cpus: string; nr: number }
  /** irqbalance's config file (new text, or null: leave it) and making the daemon obey. */
  | {
    kind: "irqbalance";
    path: string;
    text: string | null;
    daemon: DaemonTarget | null;
  }
  /** Start or stop a service (irqbalance "stop"). */
  | { kind: "service"; unit: string; action: "stop" | "start" }
  /** sched_setaffinity of a process's threads (all of them, or its main thread). */
  | { kind: "threads"; pid: number; comm: string; cpus: string; all: boolean };

/** A running irqbalance and what it must ban once the change is made. */
export interface DaemonTarget {
  pid: number;
  /** Banned CPUs to tell it (cpulist). */
  cpus: string;
  /** The argument of `settings cpus` for them, or null when only a restart can do it. */
  cpus_command: string | null;
  /** Banned IRQs to tell it: its own --banirq plus sipmi's. */
  irqs: number[];
  /** Its --banirq from the command line (what a live rollback tells it again). */
  own_irqs: number[];
}

export interface Change {
  step: Step;
  /** Which part of the profile or which command asked for it: `nics[0] eth0`. */
  item: string;
  /** What changes, as an operator names it: `IRQ 38 (virtio2-input.0)`, `pid 4242 (opensips)`. */
  target: string;
  old: string;
  new: string;
  reason: string;
  action: Action;
  /** For a config file: the lines removed (`- `) and added (`+ `). */
  diff?: string[];
}

export type Outcome = "applied" | "unchanged" | "unchangeable" | "failed";

/** The result of one change (or of restoring one). */
export interface Row {
  step: Step;
  item: string;
  target: string;
  old: string;
  new: string;
  result: Outcome;
  /** `EIO`, `EPERM`, `EINVAL`, ... when the kernel refused. */
  errno?: string;
  /** What the kernel kept, when it differs from what was asked (offline CPUs dropped). */
  kept?: string;
  note?: string;
}

export interface Skipped {
  item: string;
  target: string;
  /** The value the profile asks for, which the host has already (unchanged) or cannot take. */
  value: string;
  reason?: string;
}

export interface Plan {
  /** What asked: `profile /etc/sipmi/host.jsonc`, `irq_set_affinity`. */
  what: string;
  /** CPU names as this host resolves them (sip_cpus, housekeeping). */
  cpus: Record<string, string>;
  changes: Change[];
  unchanged: Skipped[];
  /** Targets the kernel does not let userspace change: listed once, skipped. */
  unchangeable: Skipped[];
  notes: string[];
  /** Requests this host cannot meet: nothing is written while there is one. */
  errors: string[];
  /** Processes each item found (to tell a restarted SIP router from drift later). */
  pids: Record<string, number[]>;
}

/** A change as results show it: a config file's new text is left out (its diff is there). */
export type PublicChange = Omit<Change, "action"> & { action: Record<string, unknown> };

/** A plan as MI results show it (what tune_plan answers and dry runs return). */
export interface PlanResult extends Omit<Plan, "changes"> {
  dry_run: true;
  changes: PublicChange[];
}

export function publicPlan(plan: Plan): PlanResult {
  return {
    dry_run: true,
    ...plan,
    changes: plan.changes.map((c) => {
      if (c.action.kind !== "irqbalance") return c;
      const { text, ...rest } = c.action;
      return { ...c, action: { ...rest, rewrites_file: text !== null } };
    }),
  };
}

export function emptyPlan(what: string): Plan {
  return {
    what,
    cpus: {},
    changes: [],
    unchanged: [],
    unchangeable: [],
    notes: [],
    errors: [],
    pids: {},
  };
}

export function sortChanges(changes: Change[]): Change[] {
  return changes.sort((a, b) => STEPS.indexOf(a.step) - STEPS.indexOf(b.step));
}

/** Errno names that mean "the kernel will never let userspace change this IRQ". */
const UNCHANGEABLE_IRQ = new Set(["EIO", "EPERM", "EACCES"]);

/** How a refused write counts: unchangeable IRQs are skipped, not failures (docs/tuning_changes.md). */
export function classifyErrno(action: Action, errno: string | null): Outcome {
  if (
    action.kind === "kernel_cpus" && action.path.startsWith("/proc/irq/") && errno !== null &&
    UNCHANGEABLE_IRQ.has(errno) && action.path !== "/proc/irq/default_smp_affinity"
  ) {
    return "unchangeable";
  }
  return "failed";
}

export function summarize(rows: readonly Row[]): Record<Outcome, number> {
  const out: Record<Outcome, number> = { applied: 0, unchanged: 0, unchangeable: 0, failed: 0 };
  for (const r of rows) out[r.result]++;
  return out;
}
