// From intent to changes: what has to be written on this host, now, for a
// profile (or for one single-change command) to hold. Everything is read
// and checked first; a request the host cannot meet (a CPU that is not
// online, an unknown NIC, an irqbalance sipmi cannot make obey) is an error
// in the plan, and nothing is written while there is one. A target already
// right is `unchanged`; an IRQ the kernel will not let userspace move is
// `unchangeable`, listed once and skipped. Verify is a plan that should be
// empty, so the two can never disagree.

import { CpuSet, parseCpuList, parseKernelCpuMask } from "./cpuset.ts";
import { type CpuTopology, readTopology } from "./cpus.ts";
import type { TuningEnv } from "./env.ts";
import { type Interrupts, type IrqRow } from "./interrupts.ts";
import { readDefaultAffinity, readInterrupts, readIrqAffinity } from "./irq.ts";
import { bannedCpus, irqbalanceStatus, parseArgsWords, parseEnvFile } from "./irqbalance.ts";
import { bannedIrqsOf, lineDiff, parseIrqbalanceFile, withBlock } from "./irqbalance_file.ts";
import { cpusCommand, IRQBALANCE_UNIT, obeyMethod } from "./irqbalance_control.ts";
import { type Change, type DaemonTarget, emptyPlan, type Plan, sortChanges } from "./changes.ts";
import { getAffinity, type Selector } from "./affinity.ts";
import { describeNic, locateNic } from "./nic.ts";
import { LookupError } from "./lookup_error.ts";
import { FormatError } from "./format_error.ts";
import { compilePattern } from "./pattern.ts";
import type { Profile } from "./profile.ts";

/** What the host looks like for a plan: read once, shared by every item. */
export interface HostFacts {
  topo: CpuTopology;
  /** nr_cpu_ids: masks are printed this wide, CPUs at or beyond it do not exist. */
  nr: number;
  interrupts: Interrupts;
}

/** Live pushes to irqbalance not yet visible in its `setup` answer (it applies them at its next pass). */
export interface PendingPush {
  pid: number;
  cpus: string;
  irqs: number[];
  /** ms since the epoch until which the push may still be pending. */
  until: number;
}

export interface PlanOptions {
  /** IRQs a write found unchangeable before (kernels that answer EIO on a 0644 file). */
  unchangeable?: ReadonlySet<string>;
  pending?: PendingPush | null;
}

export async function hostFacts(env: TuningEnv): Promise<HostFacts> {
  const [topo, interrupts, possible] = await Promise.all([
    readTopology(env.fs),
    readInterrupts(env.fs),
    env.fs.readTextIfExists("/sys/devices/system/cpu/possible"),
  ]);
  const nr = possible !== undefined ? parseCpuList(possible).max + 1 : topo.online.max + 1;
  return { topo, nr, interrupts };
}

/** Checks that a set of CPUs can be used on this host; the problem as text otherwise. */
export function checkOnline(cpus: CpuSet, topo: CpuTopology, what: string): string | undefined {
  if (cpus.isEmpty) return `${what}: no CPU given`;
  const missing = cpus.minus(topo.online);
  if (missing.isEmpty) return undefined;
  return `${what}: CPU ${missing.toList()} ${
    missing.size === 1 ? "is" : "are"
  } not online here (online: ${topo.online.toList()})`;
}

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

// ------------------------------------------------------------------- IRQs

/** One IRQ to pin: which CPUs, asked by which item and why. */
export interface IrqTarget {
  irq: string;
  name: string;
  cpus: CpuSet;
  item: string;
  reason: string;
}

/** Adds an IRQ target, or an error when another item wants other CPUs for it. */
export function addIrqTarget(targets: Map<string, IrqTarget>, t: IrqTarget, plan: Plan): void {
  const had = targets.get(t.irq);
  if (had === undefined) {
    targets.set(t.irq, t);
    return;
  }
  if (!had.cpus.equals(t.cpus)) {
    plan.errors.push(
      `IRQ ${t.irq} (${t.name}): ${had.item} wants CPUs ${had.cpus.toList()}, ${t.item} wants ${t.cpus.toList()}`,
    );
  }
}

/** Plans each IRQ target: a change, unchanged, or unchangeable. Returns the IRQs sipmi pins. */
export async function planIrqs(
  env: TuningEnv,
  facts: HostFacts,
  targets: Iterable<IrqTarget>,
  plan: Plan,
  opts: PlanOptions = {},
): Promise<number[]> {
  const pinned: number[] = [];
  for (const t of targets) {
    const label = `IRQ ${t.irq} (${t.name})`;
    const a = await readIrqAffinity(env.fs, t.irq);
    const dir = `/proc/irq/${t.irq}`;
    const list = await env.fs.exists(`${dir}/smp_affinity_list`);
    if (!list && !(await env.fs.exists(`${dir}/smp_affinity`))) {
      plan.errors.push(`${t.item}: ${label} has no ${dir}/smp_affinity`);
      continue;
    }
    if (a.changeable === false || opts.unchangeable?.has(t.irq)) {
      plan.unchangeable.push({
        item: t.item,
        target: label,
        value: t.cpus.toList(),
        reason: a.unchangeableReason ?? "the kernel refused a write to it before (EIO/EPERM)",
      });
      continue;
    }
    pinned.push(Number(t.irq));
    const problem = checkOnline(t.cpus, facts.topo, `${t.item}: ${label}`);
    if (problem !== undefined) {
      plan.errors.push(problem);
      continue;
    }
    if (a.requested !== null && a.requested.equals(t.cpus)) {
      plan.unchanged.push({ item: t.item, target: label, value: t.cpus.toList() });
      continue;
    }
    plan.changes.push({
      step: "irqs",
      item: t.item,
      target: label,
      old: a.requested?.toList() ?? "?",
      new: t.cpus.toList(),
      reason: t.reason,
      action: {
        kind: "kernel_cpus",
        path: list ? `${dir}/smp_affinity_list` : `${dir}/smp_affinity`,
        format: list ? "list" : "mask",
        cpus: t.cpus.toList(),
        nr: facts.nr,
      },
    });
  }
  return pinned.sort((a, b) => a - b);
}

/** Numbered IRQs whose name (or number) matches a pattern. */
export function irqsMatching(facts: HostFacts, re: RegExp): IrqRow[] {
  return facts.interrupts.rows.filter((r) => r.numeric && (re.test(r.name) || re.test(r.irq)));
}

/**
 * A NIC's queue IRQs, one CPU each, round robin by queue: queue k (its rx
 * and tx IRQs alike) goes to the k-th CPU, wrapping. `cpus` of a single
 * CPU pins them all there.
 */
export async function spreadTargets(
  env: TuningEnv,
  facts: HostFacts,
  nic: string,
  cpus: CpuSet,
  opts: { numaLocal: boolean; spread: boolean; item: string },
  plan: Plan,
): Promise<IrqTarget[]> {
  let d;
  try {
    d = await describeNic(env.fs, nic, facts.interrupts);
  } catch (e) {
    if (e instanceof LookupError) {
      plan.errors.push(`${opts.item}: ${e.message}`);
      return [];
    }
    throw e;
  }
  if (d.queue_irqs.length === 0) {
    plan.errors.push(`${opts.item}: ${nic} has no queue IRQs (looked in ${d.irq_source})`);
    return [];
  }
  let use = cpus;
  if (opts.numaLocal) {
    const local = d.local_cpulist === null ? null : parseCpuList(d.local_cpulist);
    if (local === null || local.isEmpty) {
      plan.notes.push(`${opts.item}: ${nic} reports no NUMA-local CPUs; numa_local ignored`);
    } else {
      use = cpus.intersect(local);
      if (use.isEmpty) {
        plan.errors.push(
          `${opts.item}: none of CPUs ${cpus.toList()} is on ${nic}'s NUMA node ${d.numa_node} (local CPUs ${local.toList()})`,
        );
        return [];
      }
    }
  }
  const list = use.toArray();
  const queues = [...new Set(d.queue_irqs.map((q) => q.queue))];
  return d.queue_irqs.map((q) => {
    const k = queues.indexOf(q.queue);
    const one = opts.spread ? CpuSet.of([list[k % list.length]]) : use;
    return {
      irq: q.irq,
      name: q.name,
      cpus: one,
      item: opts.item,
      reason: opts.spread
        ? `${nic} queue ${q.queue} ${q.kind}: spread over ${use.toList()}`
        : `${nic} queue ${q.queue} ${q.kind}`,
    };
  });
}

// --------------------------------------------------- default IRQ affinity

export async function planDefaultAffinity(
  env: TuningEnv,
  facts: HostFacts,
  cpus: CpuSet,
  item: string,
  plan: Plan,
): Promise<void> {
  const path = "/proc/irq/default_smp_affinity";
  const cur = await readDefaultAffinity(env.fs);
  if (cur === null) {
    plan.errors.push(`${item}: ${path} does not exist`);
    return;
  }
  const problem = checkOnline(cpus, facts.topo, item);
  if (problem !== undefined) return void plan.errors.push(problem);
  if (cur.equals(cpus)) {
    plan.unchanged.push({ item, target: path, value: cpus.toList() });
    return;
  }
  plan.changes.push({
    step: "default_irq_affinity",
    item,
    target: path,
    old: cur.toList(),
    new: cpus.toList(),
    reason: "IRQs that appear later start on these CPUs",
    action: { kind: "kernel_cpus", path, format: "mask", cpus: cpus.toList(), nr: facts.nr },
  });
}

// --------------------------------------------------------------------- RPS

export async function planRps(
  env: TuningEnv,
  facts: HostFacts,
  nic: string,
  cpus: CpuSet,
  item: string,
  plan: Plan,
): Promise<void> {
  let netDir: string;
  try {
    netDir = (await locateNic(env.fs, nic)).netDir;
  } catch (e) {
    if (e instanceof LookupError) return void plan.errors.push(`${item}: ${e.message}`);
    throw e;
  }
  if (!cpus.isEmpty) {
    const problem = checkOnline(cpus, facts.topo, item);
    if (problem !== undefined) return void plan.errors.push(problem);
  }
  const queues = ((await env.fs.readDirIfExists(`${netDir}/queues`)) ?? [])
    .filter((e) => /^rx-[0-9]+$/.test(e.name));
  const files = [];
  for (const q of queues) {
    const path = `${netDir}/queues/${q.name}/rps_cpus`;
    if (await env.fs.exists(path)) files.push({ queue: q.name, path });
  }
  if (files.length === 0) {
    plan.errors.push(`${item}: ${nic} has no rx-N/rps_cpus files (a kernel without RPS?)`);
    return;
  }
  for (const f of files) {
    const cur = parseKernelCpuMask(await env.fs.readText(f.path));
    const show = (s: CpuSet) => s.isEmpty ? "off" : s.toList();
    const target = `${nic} ${f.queue} RPS`;
    if (cur.equals(cpus)) {
      plan.unchanged.push({ item, target, value: show(cpus) });
      continue;
    }
    plan.changes.push({
      step: "rps",
      item,
      target,
      old: show(cur),
      new: show(cpus),
      reason: cpus.isEmpty ? "packet steering off" : "receive packet steering to these CPUs",
      action: {
        kind: "kernel_cpus",
        path: f.path,
        format: "mask",
        cpus: cpus.toList(),
        nr: facts.nr,
      },
    });
  }
}

// ----------------------------------------------------------------- threads

/**
 * Plans the affinity of every thread (or the main thread) of the processes
 * a selector finds. `seen` maps PIDs already planned to their item, so two
 * items naming one process do not fight.
 */
export async function planThreads(
  env: TuningEnv,
  sel: Selector,
  cpus: CpuSet,
  opts: {
    all: boolean;
    item: string;
    reason: string;
    seen?: Map<number, { item: string; cpus: CpuSet }>;
  },
  plan: Plan,
): Promise<number> {
  const found = await getAffinity(env.fs, sel, env.reader, true, { allowEmpty: true });
  plan.pids[opts.item] = found.processes.map((p) => p.pid);
  for (const p of found.processes) {
    const earlier = opts.seen?.get(p.pid);
    if (earlier !== undefined) {
      if (!earlier.cpus.equals(cpus)) {
        plan.errors.push(
          `pid ${p.pid} (${p.comm}): ${earlier.item} wants CPUs ${earlier.cpus.toList()}, ${opts.item} wants ${cpus.toList()}`,
        );
      }
      continue;
    }
    opts.seen?.set(p.pid, { item: opts.item, cpus });
    const tasks = (p.tasks ?? []).filter((t) => opts.all || t.tid === p.pid);
    const target = `pid ${p.pid} (${p.comm})`;
    if (tasks.every((t) => CpuSet.parseList(t.cpus).equals(cpus))) {
      plan.unchanged.push({ item: opts.item, target, value: cpus.toList() });
      continue;
    }
    const masks = new Map<string, number>();
    for (const t of tasks) masks.set(t.cpus, (masks.get(t.cpus) ?? 0) + 1);
    plan.changes.push({
      step: "threads",
      item: opts.item,
      target,
      old: [...masks].map(([m, n]) => tasks.length === 1 ? m : `${m} x${n}`).join(", "),
      new: cpus.toList(),
      reason: `${opts.reason}: ${opts.all ? `all ${tasks.length} threads` : "main thread"}`,
      action: { kind: "threads", pid: p.pid, comm: p.comm, cpus: cpus.toList(), all: opts.all },
    });
  }
  return found.processes.length;
}

// -------------------------------------------------------------- irqbalance

export type IrqbalanceWant =
  | { mode: "ban"; cpus: CpuSet | null; irqs: number[] | null; addIrqs?: boolean }
  | { mode: "unban" }
  | { mode: "stop" };

/** Where irqbalance's config lives or would be created; null when neither directory exists. */
async function configPath(env: TuningEnv, existing: string | null): Promise<string | null> {
  if (existing !== null) return existing;
  if (await env.fs.exists("/etc/default")) return "/etc/default/irqbalance";
  if (await env.fs.exists("/etc/sysconfig")) return "/etc/sysconfig/irqbalance";
  return null;
}

function describeBans(cpus: string | null, irqs: readonly number[]): string {
  return `banned CPUs ${cpus === null ? "?" : cpus === "" ? "none" : cpus}, banned IRQs ${
    irqs.length === 0 ? "none" : irqs.join(", ")
  }`;
}

export async function planIrqbalance(
  env: TuningEnv,
  facts: HostFacts,
  want: IrqbalanceWant,
  item: string,
  plan: Plan,
  opts: PlanOptions = {},
): Promise<void> {
  const { fs } = env;
  const status = await irqbalanceStatus(fs, facts.topo);
  const pid = status.pids[0];
  if (want.mode === "stop") {
    if (!status.running) {
      plan.unchanged.push({ item, target: IRQBALANCE_UNIT, value: "stopped" });
    } else if (!(await env.services.systemd())) {
      plan.errors.push(
        `${item}: irqbalance (pid ${pid}) runs and systemd is absent here: sipmi cannot stop it and start it again on rollback`,
      );
    } else {
      plan.changes.push({
        step: "irqbalance",
        item,
        target: IRQBALANCE_UNIT,
        old: `running (pid ${pid})`,
        new: "stopped",
        reason: "no IRQ balancing: every IRQ stays where it is pinned",
        action: { kind: "service", unit: IRQBALANCE_UNIT, action: "stop" },
      });
    }
    return;
  }
  const path = await configPath(env, status.config_file);
  if (status.config_file === null && !status.running) {
    plan.notes.push(
      `${item}: irqbalance is not installed here (no /etc/default/irqbalance or /etc/sysconfig/irqbalance) and does not run: nothing to ban`,
    );
    return;
  }
  if (path === null) {
    plan.errors.push(
      `${item}: irqbalance runs but there is no /etc/default or /etc/sysconfig for its config file`,
    );
    return;
  }
  const current = status.config_file === null ? "" : await fs.readText(path);
  let parsed;
  try {
    parsed = parseIrqbalanceFile(current, path);
  } catch (e) {
    if (e instanceof FormatError) return void plan.errors.push(`${item}: ${e.message}`);
    throw e;
  }
  let next: string;
  if (want.mode === "unban") next = withBlock(current, path, null);
  else {
    const hold = facts.topo.isolated.union(facts.topo.nohzFull);
    const cpus = want.cpus === null
      ? parsed.block?.cpulist ?? null
      : want.cpus.union(hold).toList();
    const had = parsed.block?.irqs ?? [];
    const irqs = want.irqs === null
      ? had
      : want.addIrqs
      ? [...new Set([...had, ...want.irqs])]
      : want.irqs;
    next = withBlock(current, path, { cpulist: cpus, irqs: irqs.sort((a, b) => a - b) });
    if (want.cpus !== null && !hold.isEmpty && !hold.isSubsetOf(want.cpus)) {
      plan.notes.push(
        `${item}: isolated/nohz_full CPUs ${hold.toList()} are banned too: once IRQBALANCE_BANNED_CPULIST is set, irqbalance no longer bans them by itself`,
      );
    }
  }
  // What irqbalance bans once it reads `next` (what a restart would give).
  const vars = new Map([...parseEnvFile(next, path).vars].map(([k, v]) => [k, v.value]));
  const wantCpus = bannedCpus(vars, facts.topo, [], () => path).cpus?.toList() ?? "";
  const wantIrqs = [...new Set(bannedIrqsOf(vars.get("IRQBALANCE_ARGS") ?? ""))].sort((a, b) =>
    a - b
  );
  let daemon: DaemonTarget | null = null;
  if (status.running) {
    const pending = opts.pending;
    const pushed = pending != null && pending.pid === pid && pending.until > Date.now() &&
      pending.cpus === wantCpus && pending.irqs.join() === wantIrqs.join();
    const obeys = status.banned_cpus === wantCpus &&
      [...status.banned_irqs].sort((a, b) => a - b).join() === wantIrqs.join();
    if (pushed && !obeys) {
      plan.notes.push(
        `${item}: irqbalance (pid ${pid}) was told its new bans and applies them at its next pass`,
      );
    } else if (!obeys) {
      const cmd = cpusCommand(wantCpus, status.environment_banned_cpus);
      if ((await obeyMethod(fs, env.services, pid, cmd)) === null) {
        plan.errors.push(
          `${item}: irqbalance (pid ${pid}) runs, does not answer on its socket (no /run/irqbalance?) and systemd is absent: sipmi cannot make it take a new ban; stop it, or set "irqbalance": "leave"`,
        );
        return;
      }
      const own = status.command_line === null
        ? []
        : parseArgsWords(status.command_line.slice(1), [], "").banirq;
      daemon = {
        pid,
        cpus: wantCpus,
        cpus_command: cmd,
        irqs: wantIrqs,
        own_irqs: own.sort((a, b) => a - b),
      };
    }
  }
  const fileChanges = next !== current;
  if (!fileChanges && daemon === null) {
    plan.unchanged.push({ item, target: path, value: describeBans(wantCpus, wantIrqs) });
    return;
  }
  const change: Change = {
    step: "irqbalance",
    item,
    target: fileChanges ? path : `irqbalance (pid ${pid})`,
    old: describeBans(status.running ? status.banned_cpus : status.banned_cpus, status.banned_irqs),
    new: describeBans(wantCpus, wantIrqs),
    reason: want.mode === "unban"
      ? "sipmi's ban taken out of the config file"
      : daemon === null
      ? "kept at the next irqbalance start"
      : `the running irqbalance (pid ${pid}) takes it now`,
    action: { kind: "irqbalance", path, text: fileChanges ? next : null, daemon },
  };
  if (fileChanges) change.diff = lineDiff(current, next);
  plan.changes.push(change);
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
