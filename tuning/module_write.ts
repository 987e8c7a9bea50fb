// The MI commands that change the host: single changes (irq_set_affinity,
// irq_spread, irq_default_affinity, irqbalance_ban, affinity_set, rps_set)
// and profile transactions (tune_plan, tune_apply, tune_verify,
// tune_rollback, tune_snapshots, tune_confirm, tune_status). Every change
// goes through the runtime's transaction (snapshot, apply in order, read
// back, roll back on failure), and every command that changes the host is
// `mutating` unless it is a dry run. Parameter helpers come from module.ts,
// so patterns are compiled in one place.

import { invalidParams } from "../mi/jsonrpc.ts";
import type { Params, Recipe } from "../mi/params.ts";
import type { CommandSpec } from "../mi/registry.ts";
import type { Selector } from "./affinity.ts";
import { emptyPlan } from "./changes.ts";
import { CpuSet, CpuSetError, parseCpuList } from "./cpuset.ts";
import { LookupError } from "./lookup_error.ts";
import { checkOnline, hostFacts } from "./plan_host.ts";
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
import type { Pattern } from "./pattern.ts";
import type { TuningRuntime } from "./runtime.ts";
import { mutatingUnlessTrue } from "./wire.ts";

/** The parameter readers of module.ts (one set for every tuning command). */
export interface ParamHelpers {
  recipes(required: readonly string[], optional: readonly string[]): Recipe[];
  regex(p: Params, name: string): Pattern;
  bool(p: Params, name: string): boolean;
  nic(p: Params): string | undefined;
  selector(p: Params): Selector;
  guard(handler: CommandSpec["handler"]): CommandSpec["handler"];
}

/** Longest confirmation window, in seconds. */
export const MAX_CONFIRM_TIMEOUT = 3600;

function cpusParam(p: Params, opts: { off?: boolean } = {}): CpuSet {
  const v = p.raw("cpus");
  const text = typeof v === "number" && Number.isInteger(v) ? String(v) : v;
  if (typeof text !== "string") {
    throw invalidParams("Parameter 'cpus' must be a cpulist such as \"2-3\"");
  }
  if (opts.off && text === "off") return CpuSet.EMPTY;
  try {
    const set = parseCpuList(text);
    if (set.isEmpty) throw new CpuSetError("no CPU given");
    return set;
  } catch (e) {
    if (e instanceof CpuSetError) {
      throw invalidParams(
        `Parameter 'cpus' must be a cpulist such as "2-3"${
          opts.off ? ' or "off"' : ""
        }: ${e.message}`,
      );
    }
    throw e;
  }
}

/** IRQ numbers: a number, "38", "38,39" or an array of those. */
function irqParam(p: Params, name = "irq"): string[] {
  const v = p.raw(name);
  const items = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [v];
  const out: string[] = [];
  for (const x of items) {
    const s = typeof x === "number" && Number.isInteger(x)
      ? String(x)
      : typeof x === "string"
      ? x.trim()
      : "";
    if (!/^[0-9]{1,7}$/.test(s)) {
      throw invalidParams(`Parameter '${name}' must be IRQ numbers, not ${JSON.stringify(x)}`);
    }
    out.push(String(Number(s)));
  }
  if (out.length === 0) throw invalidParams(`Parameter '${name}' names no IRQ`);
  return out;
}

function dryRun(h: ParamHelpers, p: Params): boolean {
  return p.has("dry_run") && h.bool(p, "dry_run");
}

function profileParam(p: Params): string | Record<string, unknown> | undefined {
  if (!p.has("profile")) return undefined;
  const v = p.raw("profile");
  if (typeof v === "string" && v !== "") return v;
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  throw invalidParams("Parameter 'profile' must be a profile file path or a profile object");
}

function secondsParam(p: Params, name: string, max: number): number {
  const v = p.raw(name);
  const n = typeof v === "number"
    ? v
    : typeof v === "string" && /^[0-9]+$/.test(v)
    ? Number(v)
    : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw invalidParams(`Parameter '${name}' must be whole seconds from 1 to ${max}`);
  }
  return n;
}

export function writeCommands(rt: TuningRuntime, h: ParamHelpers): CommandSpec[] {
  const env = rt.env;
  const dry = ["dry_run"];
  const mutating = mutatingUnlessTrue("dry_run");

  return [
    {
      name: "irq_set_affinity",
      help:
        "sets the CPU affinity of IRQs chosen by number (irq), a NIC's queue IRQs (nic) or name pattern (match); reads back; params: irq | nic | match, cpus, dry_run",
      recipes: ["irq", "nic", "match"].flatMap((by) => h.recipes([by, "cpus"], dry)),
      mutating,
      handler: h.guard(async (p) => {
        const cpus = cpusParam(p);
        const facts = await hostFacts(env);
        const plan = emptyPlan("irq_set_affinity");
        const item = "irq_set_affinity";
        const targets = new Map<string, IrqTarget>();
        if (p.has("nic")) {
          const nic = h.nic(p)!;
          const found = await spreadTargets(env, facts, nic, cpus, {
            numaLocal: false,
            spread: false,
            item: `${item} ${nic}`,
          }, plan);
          for (const t of found) addIrqTarget(targets, t, plan);
        } else {
          const rows = p.has("irq")
            ? irqParam(p).map((n) => {
              const r = facts.interrupts.rows.find((x) => x.numeric && x.irq === n);
              if (r === undefined) throw new LookupError(`no IRQ ${n} in /proc/interrupts`);
              return r;
            })
            : irqsMatching(facts, h.regex(p, "match"));
          if (rows.length === 0) throw new LookupError(`no IRQ name matches /${p.str("match")}/`);
          for (const r of rows) {
            addIrqTarget(targets, { irq: r.irq, name: r.name, cpus, item, reason: "asked" }, plan);
          }
        }
        await planIrqs(env, facts, targets.values(), plan);
        return await rt.change(plan, { dryRun: dryRun(h, p) });
      }),
    },
    {
      name: "irq_spread",
      help:
        "pins a NIC's queue IRQs one CPU each, round robin over cpus; params: nic, cpus, numa_local, dry_run",
      recipes: h.recipes(["nic", "cpus"], ["numa_local", "dry_run"]),
      mutating,
      handler: h.guard(async (p) => {
        const cpus = cpusParam(p);
        const nic = h.nic(p)!;
        const facts = await hostFacts(env);
        const plan = emptyPlan("irq_spread");
        const problem = checkOnline(cpus, facts.topo, "cpus");
        if (problem !== undefined) throw invalidParams(problem);
        const targets = new Map<string, IrqTarget>();
        const found = await spreadTargets(env, facts, nic, cpus, {
          numaLocal: p.has("numa_local") && h.bool(p, "numa_local"),
          spread: true,
          item: `irq_spread ${nic}`,
        }, plan);
        for (const t of found) addIrqTarget(targets, t, plan);
        await planIrqs(env, facts, targets.values(), plan);
        return await rt.change(plan, { dryRun: dryRun(h, p) });
      }),
    },
    {
      name: "irq_default_affinity",
      help:
        "sets /proc/irq/default_smp_affinity, where IRQs that appear later start; params: cpus, dry_run",
      recipes: h.recipes(["cpus"], dry),
      mutating,
      handler: h.guard(async (p) => {
        const cpus = cpusParam(p);
        const facts = await hostFacts(env);
        const plan = emptyPlan("irq_default_affinity");
        await planDefaultAffinity(env, facts, cpus, "irq_default_affinity", plan);
        return await rt.change(plan, { dryRun: dryRun(h, p) });
      }),
    },
    {
      name: "irqbalance_ban",
      help:
        "bans CPUs (cpus) or adds IRQs (irqs) in sipmi's block of irqbalance's config, or removes the block (unban), then makes a running irqbalance obey; params: cpus | irqs | unban, dry_run",
      recipes: [
        ...h.recipes(["cpus"], dry),
        ...h.recipes(["irqs"], dry),
        ...h.recipes(["unban"], dry),
      ],
      mutating,
      handler: h.guard(async (p) => {
        const facts = await hostFacts(env);
        const plan = emptyPlan("irqbalance_ban");
        if (p.has("unban")) {
          if (!h.bool(p, "unban")) throw invalidParams("Parameter 'unban' must be true");
          await planIrqbalance(env, facts, { mode: "unban" }, "irqbalance_ban", plan);
        } else if (p.has("cpus")) {
          const cpus = cpusParam(p);
          const problem = checkOnline(cpus, facts.topo, "cpus");
          if (problem !== undefined) throw invalidParams(problem);
          await planIrqbalance(
            env,
            facts,
            { mode: "ban", cpus, irqs: null },
            "irqbalance_ban",
            plan,
          );
        } else {
          const irqs = irqParam(p, "irqs").map(Number);
          await planIrqbalance(
            env,
            facts,
            { mode: "ban", cpus: null, irqs, addIrqs: true },
            "irqbalance_ban",
            plan,
          );
        }
        if (plan.notes.some((n) => n.includes("not installed")) && plan.changes.length === 0) {
          throw new LookupError(plan.notes.find((n) => n.includes("not installed"))!);
        }
        return await rt.change(plan, { dryRun: dryRun(h, p) });
      }),
    },
    {
      name: "affinity_set",
      help:
        "sets the CPU affinity of processes (the main thread, or every thread with threads) and reports what the kernel kept; params: pid | name | unit, cpus, threads, dry_run",
      recipes: ["pid", "name", "unit"].flatMap((who) =>
        h.recipes([who, "cpus"], ["threads", "dry_run"])
      ),
      mutating,
      handler: h.guard(async (p) => {
        const cpus = cpusParam(p);
        const sel = h.selector(p);
        const facts = await hostFacts(env);
        if (!cpus.intersects(facts.topo.online)) {
          throw invalidParams(
            `Parameter 'cpus': none of ${cpus.toList()} is online (online: ${facts.topo.online.toList()})`,
          );
        }
        const plan = emptyPlan("affinity_set");
        const all = p.has("threads") && h.bool(p, "threads");
        const n = await planThreads(
          env,
          sel,
          cpus,
          { all, item: "affinity_set", reason: "asked" },
          plan,
        );
        if (n === 0) {
          const who = "pid" in sel
            ? `process ${sel.pid}`
            : "name" in sel
            ? `process matching /${sel.name}/`
            : `process in unit ${sel.unit}`;
          throw new LookupError(`no ${who}`);
        }
        const offline = cpus.minus(facts.topo.online);
        if (!offline.isEmpty) {
          plan.notes.push(
            `CPU ${offline.toList()} is not online: the kernel drops it from the mask`,
          );
        }
        return await rt.change(plan, { dryRun: dryRun(h, p) });
      }),
    },
    {
      name: "rps_set",
      help:
        'sets receive packet steering of every RX queue of a NIC (cpus, or "off"); params: nic, cpus, dry_run',
      recipes: h.recipes(["nic", "cpus"], dry),
      mutating,
      handler: h.guard(async (p) => {
        const nic = h.nic(p)!;
        const cpus = cpusParam(p, { off: true });
        const facts = await hostFacts(env);
        const plan = emptyPlan("rps_set");
        await planRps(env, facts, nic, cpus, `rps_set ${nic}`, plan);
        return await rt.change(plan, { dryRun: dryRun(h, p) });
      }),
    },
    {
      name: "tune_plan",
      help:
        "what applying a profile would change (target, old, new, reason); param: profile (default tuning.profile)",
      recipes: h.recipes([], ["profile"]),
      handler: h.guard((p) => rt.plan(profileParam(p))),
    },
    {
      name: "tune_apply",
      help:
        "applies a profile as one transaction: snapshot, apply in order, read back, roll back on failure; params: profile, dry_run, confirm_timeout (s)",
      recipes: h.recipes([], ["profile", "dry_run", "confirm_timeout"]),
      mutating,
      handler: h.guard((p) =>
        rt.apply(profileParam(p), {
          dryRun: dryRun(h, p),
          confirmTimeoutS: p.has("confirm_timeout")
            ? secondsParam(p, "confirm_timeout", MAX_CONFIRM_TIMEOUT)
            : 0,
        })
      ),
    },
    {
      name: "tune_verify",
      help:
        "says item by item what differs from a profile (default: tuning.profile, else the applied one); param: profile",
      recipes: h.recipes([], ["profile"]),
      handler: h.guard((p) => rt.verify(profileParam(p))),
    },
    {
      name: "tune_rollback",
      help:
        "restores a named snapshot, else the newest not rolled back yet (of a profile's applies, with profile); params: snapshot | profile, dry_run",
      recipes: [...h.recipes([], ["snapshot", "dry_run"]), ...h.recipes(["profile"], ["dry_run"])],
      mutating,
      handler: h.guard((p) => {
        const profile = profileParam(p);
        if (profile !== undefined && typeof profile !== "string") {
          throw invalidParams("Parameter 'profile' of tune_rollback must be a profile file path");
        }
        return rt.rollback(p.has("snapshot") ? p.str("snapshot") : undefined, {
          dryRun: dryRun(h, p),
          profile,
        });
      }),
    },
    {
      name: "tune_snapshots",
      help: "lists the snapshots a rollback can restore, newest first",
      recipes: [[]],
      handler: h.guard(() => rt.snapshots()),
    },
    {
      name: "tune_confirm",
      help:
        "keeps a change applied with confirm_timeout (otherwise it is rolled back when the time is up)",
      recipes: [[]],
      mutating: true,
      handler: h.guard(() => rt.confirm()),
    },
    {
      name: "tune_status",
      help:
        "the applied profile, a pending confirmation, the last apply and the last verification (drift) of this daemon",
      recipes: [[]],
      handler: h.guard(() => rt.status()),
    },
  ];
}
