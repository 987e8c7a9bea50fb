// Verification: a plan of the profile that should be empty. Each change it
// would make is drift, with what sipmi can see of its cause (irqbalance
// moving an IRQ it does not ban, the SIP router restarted, a config file
// edited). The runtime logs and counts drift in its periodic pass.

import type { Plan, Skipped } from "./changes.ts";
import { readTopology } from "./cpus.ts";
import type { TuningEnv } from "./env.ts";
import { irqbalanceStatus } from "./irqbalance.ts";
import type { Applied } from "./state_store.ts";

export interface DriftItem {
  item: string;
  target: string;
  /** What the host has now. */
  have: string;
  /** What the profile wants. */
  want: string;
  /** What sipmi can see of why. */
  cause: string;
}

export interface VerifyResult {
  profile: string;
  checked_at: string;
  in_sync: boolean;
  drift: DriftItem[];
  /** Items that match the profile. */
  in_sync_items: number;
  unchangeable: Skipped[];
  notes: string[];
  /** Parts of the profile this host cannot meet (a NIC gone, a CPU offline). */
  errors: string[];
}

/** Each planned change of a verification is drift: say what sipmi can see of its cause. */
export async function driftCauses(
  env: TuningEnv,
  plan: Plan,
  applied: Applied | null,
): Promise<DriftItem[]> {
  if (plan.changes.length === 0) return [];
  const ib = await irqbalanceStatus(env.fs, await readTopology(env.fs));
  return plan.changes.map((c) => {
    let cause = "changed outside sipmi";
    if (c.step === "irqs" && c.action.kind === "kernel_cpus") {
      const irq = Number(/\/proc\/irq\/([0-9]+)\//.exec(c.action.path)?.[1]);
      if (ib.running && !ib.banned_irqs.includes(irq)) {
        cause = `irqbalance (pid ${ib.pids[0]}) runs and does not ban IRQ ${irq}: it moves it`;
      }
    } else if (c.step === "threads" && c.action.kind === "threads") {
      const before = applied?.pids[c.item];
      cause = before === undefined
        ? "not pinned yet"
        : before.includes(c.action.pid)
        ? "threads changed affinity or new threads started since the apply"
        : `process ${c.action.pid} started after the apply (was ${
          before.join(", ") || "none"
        }): restarted?`;
    } else if (c.step === "irqbalance") {
      cause = ib.running
        ? `irqbalance (pid ${ib.pids[0]}) runs with other bans (restarted, or its file edited)`
        : "its config file was edited";
    }
    return { item: c.item, target: c.target, have: c.old, want: c.new, cause };
  });
}
