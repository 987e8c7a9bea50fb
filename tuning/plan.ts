// From intent to changes: what has to be written on this host, now, for a
// profile (or for one single-change command) to hold. Everything is read
// and checked first; a request the host cannot meet (a CPU that is not
// online, an unknown NIC, an irqbalance sipmi cannot make obey) is an error
// in the plan, and nothing is written while there is one. A target already
// right is `unchanged`; an IRQ the kernel will not let userspace move is
// `unchangeable`, listed once and skipped. Verify is a plan that should be
// empty, so the two can never disagree.

//
// This file turns a profile into a plan; plan_items.ts and
// plan_irqbalance.ts plan each kind of target, plan_host.ts reads the host.

import { CpuSet, parseCpuList } from "./cpuset.ts";
import type { CpuTopology } from "./cpus.ts";
import type { TuningEnv } from "./env.ts";
import { irqbalanceStatus } from "./irqbalance.ts";
import { emptyPlan, type Plan, sortChanges } from "./changes.ts";
import type { Selector } from "./affinity.ts";
import { compilePattern } from "./pattern.ts";
import type { Profile } from "./profile.ts";
import { checkOnline, hostFacts, type PlanOptions } from "./plan_host.ts";
import {
  addIrqTarget,
  irqsMatching,
  type IrqTarget,
  planDefaultAffinity,
  planIrqs,
  planRps,
  planThreads,
  spreadTargets,
} from "./plan_items.ts";
import { planIrqbalance } from "./plan_irqbalance.ts";

/** Turns a profile's CPU values into sets, with the errors of this host. */
export class CpuNames {
  readonly #topo: CpuTopology;
  readonly sip: CpuSet | null;
  readonly errors: string[] = [];

  constructor(topo: CpuTopology, sipCpus: string) {
    this.#topo = topo;
    this.sip = sipCpus === "" ? null : this.#list(sipCpus, "sip_cpus");
  }

  #list(text: string, where: string): CpuSet | null {
    const set = parseCpuList(text);
    const problem = checkOnline(set, this.#topo, where);
    if (problem !== undefined) {
      this.errors.push(problem);
      return null;
    }
    return set;
  }

  /** The set a value names, or null (with an error recorded) when this host cannot have it. */
  resolve(value: string, where: string): CpuSet | null {
    const online = this.#topo.online;
    if (value === "all") return online;
    if (value === "sip_cpus" || value === "housekeeping") {
      if (this.sip === null) {
        this.errors.push(
          `${where}: "${value}" needs sip_cpus, which the profile does not set (or names CPUs that are not online)`,
        );
        return null;
      }
      if (value === "sip_cpus") return this.sip;
      const hk = online.minus(this.sip);
      if (hk.isEmpty) {
        this.errors.push(
          `${where}: "housekeeping" is empty: sip_cpus (${this.sip.toList()}) takes every online CPU`,
        );
        return null;
      }
      return hk;
    }
    return this.#list(value, where);
  }

  /** The names as this host resolves them, for the plan's header. */
  table(): Record<string, string> {
    const out: Record<string, string> = { online: this.#topo.online.toList() };
    if (this.sip !== null) {
      out.sip_cpus = this.sip.toList();
      out.housekeeping = this.#topo.online.minus(this.sip).toList();
    }
    return out;
  }
}

// ----------------------------------------------------------------- profile

/** The changes that make a profile hold on this host now. */
export async function planProfile(
  env: TuningEnv,
  profile: Profile,
  source: string,
  opts: PlanOptions = {},
): Promise<Plan> {
  const plan = emptyPlan(`profile ${source}`);
  const facts = await hostFacts(env);
  const names = new CpuNames(facts.topo, profile.sip_cpus);

  if (profile.default_irq_affinity !== "") {
    const cpus = names.resolve(profile.default_irq_affinity, "default_irq_affinity");
    if (cpus !== null) await planDefaultAffinity(env, facts, cpus, "default_irq_affinity", plan);
  }

  const targets = new Map<string, IrqTarget>();
  for (const [i, n] of profile.nics.entries()) {
    if (n.irqs === "") continue;
    const item = `nics[${i}] ${n.name}`;
    const spread = n.irqs === "spread";
    const cpus = names.resolve(spread ? (n.cpus || "sip_cpus") : n.irqs, item);
    if (cpus === null) continue;
    for (
      const t of await spreadTargets(env, facts, n.name, cpus, {
        numaLocal: n.numa_local,
        spread,
        item,
      }, plan)
    ) {
      addIrqTarget(targets, t, plan);
    }
  }
  for (const [i, x] of profile.irqs.entries()) {
    const item = `irqs[${i}] /${x.match}/`;
    const cpus = names.resolve(x.cpus, item);
    const re = compilePattern(x.match);
    if (cpus === null || typeof re === "string") continue;
    const rows = irqsMatching(facts, re);
    if (rows.length === 0) plan.notes.push(`${item}: no IRQ on this host matches`);
    for (const r of rows) {
      addIrqTarget(targets, {
        irq: r.irq,
        name: r.name,
        cpus,
        item,
        reason: `name matches /${x.match}/`,
      }, plan);
    }
  }
  const pinned = await planIrqs(env, facts, targets.values(), plan, opts);

  const ib = profile.irqbalance;
  if (ib.mode === "ban") {
    const cpus = names.resolve(ib.ban, "irqbalance.ban");
    if (cpus !== null) {
      await planIrqbalance(
        env,
        facts,
        { mode: "ban", cpus, irqs: ib.ban_irqs ? pinned : [] },
        "irqbalance.ban",
        plan,
        opts,
      );
    }
  } else if (ib.mode === "stop") {
    await planIrqbalance(env, facts, { mode: "stop" }, "irqbalance", plan, opts);
  } else if (pinned.length > 0) {
    const status = await irqbalanceStatus(env.fs, facts.topo);
    if (status.running) {
      plan.notes.push(
        `irqbalance (pid ${
          status.pids[0]
        }) runs and the profile leaves it alone: it may move the pinned IRQs (set "irqbalance": {"ban": "sip_cpus"})`,
      );
    }
  }

  for (const [i, r] of profile.rps.entries()) {
    const item = `rps[${i}] ${r.nic}`;
    const cpus = r.cpus === "off" ? CpuSet.EMPTY : names.resolve(r.cpus, item);
    if (cpus !== null) await planRps(env, facts, r.nic, cpus, item, plan);
  }

  const seen = new Map<number, { item: string; cpus: CpuSet }>();
  for (const [i, p] of profile.processes.entries()) {
    const item = p.unit !== ""
      ? `processes[${i}] unit ${p.unit}`
      : `processes[${i}] name /${p.name}/`;
    const cpus = names.resolve(p.cpus || "sip_cpus", item);
    if (cpus === null) continue;
    const sel: Selector = p.unit !== "" ? { unit: p.unit } : { name: p.name };
    const n = await planThreads(env, sel, cpus, {
      all: p.threads,
      item,
      reason: "SIP router",
      seen,
    }, plan);
    if (n === 0) plan.notes.push(`${item}: no such process is running; nothing to pin`);
  }
  if (profile.sipmi.cpus !== "") {
    const cpus = names.resolve(profile.sipmi.cpus, "sipmi.cpus");
    if (cpus !== null) {
      const n = await planThreads(env, { pid: env.pid }, cpus, {
        all: true,
        item: "sipmi.cpus",
        reason: "sipmi's own threads",
        seen,
      }, plan);
      if (n === 0) {
        plan.notes.push(
          `sipmi.cpus: sipmi's own process (pid ${env.pid}) is not in this root: skipped`,
        );
      }
    }
  }
  plan.errors = [...new Set([...names.errors, ...plan.errors])];
  plan.cpus = names.table();
  sortChanges(plan.changes);
  return plan;
}
