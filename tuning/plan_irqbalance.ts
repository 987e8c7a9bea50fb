// The plan of irqbalance: sipmi's block in its config file (ban CPUs, ban
// IRQs, unban), making a running daemon obey (its socket, else a restart),
// or stopping it. A daemon sipmi cannot make obey is an error of the plan.

import type { Change, DaemonTarget, Plan } from "./changes.ts";
import type { CpuSet } from "./cpuset.ts";
import type { TuningEnv } from "./env.ts";
import { FormatError } from "./format_error.ts";
import { bannedCpus, irqbalanceStatus, parseArgsWords, parseEnvFile } from "./irqbalance.ts";
import { cpusCommand, IRQBALANCE_UNIT, obeyMethod } from "./irqbalance_control.ts";
import { bannedIrqsOf, lineDiff, parseIrqbalanceFile, withBlock } from "./irqbalance_file.ts";
import type { HostFacts, PlanOptions } from "./plan_host.ts";

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
    old: describeBans(status.banned_cpus, status.banned_irqs),
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
