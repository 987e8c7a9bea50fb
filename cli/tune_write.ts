// The `sipmi tune` subcommands that change the host: single changes (irq
// set|spread|default, irqbalance ban|ban-irq|unban, affinity set, rps) and
// profile transactions (plan, apply, verify, rollback, snapshots, confirm,
// status). Each is one MI command of the tuning module; every change takes
// --dry-run, and apply and rollback ask first unless --yes.

import { isAbsolute, resolve } from "node:path";
import { UsageError } from "./common.ts";
import { named, type Request, str, type Sub, type Values } from "./tune_sub.ts";
import {
  renderApply,
  renderChange,
  renderConfirm,
  renderPlan,
  renderRollback,
  renderSnapshots,
  renderStatus,
  renderVerify,
} from "./tune_render_changes.ts";
import type { ApplyResult } from "../tuning/transaction.ts";
import type { PlanResult } from "../tuning/changes.ts";
import type { RollbackResult, TuningStatus } from "../tuning/runtime.ts";
import type { VerifyResult } from "../tuning/verify.ts";
import { MAX_CONFIRM_TIMEOUT } from "../tuning/module_write.ts";

const DRY = { "dry-run": { type: "boolean" } } as const;

function dry(v: Values): true | undefined {
  return v["dry-run"] === true ? true : undefined;
}

function cpus(v: Values, what = "--cpus"): string {
  const c = str(v.cpus);
  if (c === undefined) throw new UsageError(`${what} LIST is required (a cpulist such as 2-3)`);
  return c;
}

/** A profile path from the command line: absolute, since a daemon (--via) resolves it in its own cwd. */
function profile(v: Values): string | undefined {
  const p = str(v.profile);
  return p === undefined ? undefined : isAbsolute(p) ? p : resolve(p);
}

function irqNumbers(args: string[], what: string): number[] {
  if (args.length === 0) throw new UsageError(`${what} needs IRQ numbers`);
  return args.flatMap((a) => a.split(",")).map((a) => {
    if (!/^[0-9]{1,7}$/.test(a)) throw new UsageError(`IRQ numbers are digits, not '${a}'`);
    return Number(a);
  });
}

function who(v: Values, args: string[]): Record<string, unknown> {
  const given = [args[0], v.name, v.unit].filter((x) => x !== undefined);
  if (given.length !== 1) throw new UsageError("give exactly one of PID, --name RE, --unit UNIT");
  if (args[0] !== undefined) {
    if (!/^[1-9][0-9]*$/.test(args[0])) {
      throw new UsageError(`PID must be a number, not '${args[0]}'`);
    }
    return { pid: Number(args[0]) };
  }
  return v.name !== undefined ? { name: v.name } : { unit: v.unit };
}

/** Which snapshot: an ID (positional or --to), or the newest of a --profile's applies. */
function rollbackParams(v: Values, args: string[], dryRun: true | undefined) {
  const snapshot = args[0] ?? str(v.to);
  if (args[0] !== undefined && v.to !== undefined) throw new UsageError("give the snapshot once");
  if (snapshot !== undefined && v.profile !== undefined) {
    throw new UsageError("give a snapshot or --profile, not both");
  }
  return named({ snapshot, profile: profile(v), dry_run: dryRun });
}

const change = (r: unknown) => renderChange(r as ApplyResult | PlanResult);

export const WRITE_SUBS: Record<string, Sub> = {
  "irq set": {
    options: {
      match: { type: "string" },
      nic: { type: "string" },
      cpus: { type: "string" },
      ...DRY,
    },
    maxArgs: 64,
    request: (v, args) => {
      const by = [args.length > 0, v.match !== undefined, v.nic !== undefined].filter((x) => x);
      if (by.length !== 1) {
        throw new UsageError("give IRQ numbers, --nic IF or --match RE (one of them)");
      }
      const target = args.length > 0
        ? { irq: irqNumbers(args, "tune irq set") }
        : v.nic !== undefined
        ? { nic: v.nic }
        : { match: v.match };
      return {
        method: "irq_set_affinity",
        params: named({ ...target, cpus: cpus(v), dry_run: dry(v) }),
      };
    },
    render: change,
  },
  "irq spread": {
    options: {
      nic: { type: "string" },
      cpus: { type: "string" },
      "numa-local": { type: "boolean" },
      ...DRY,
    },
    maxArgs: 0,
    request: (v) => {
      if (str(v.nic) === undefined) throw new UsageError("--nic IF is required");
      return {
        method: "irq_spread",
        params: named({
          nic: v.nic,
          cpus: cpus(v),
          numa_local: v["numa-local"] === true ? true : undefined,
          dry_run: dry(v),
        }),
      };
    },
    render: change,
  },
  "irq default": {
    options: { cpus: { type: "string" }, ...DRY },
    maxArgs: 0,
    request: (v) => ({
      method: "irq_default_affinity",
      params: named({ cpus: cpus(v), dry_run: dry(v) }),
    }),
    render: change,
  },
  "irqbalance ban": {
    options: { cpus: { type: "string" }, ...DRY },
    maxArgs: 0,
    request: (v) => ({
      method: "irqbalance_ban",
      params: named({ cpus: cpus(v), dry_run: dry(v) }),
    }),
    render: change,
  },
  "irqbalance ban-irq": {
    options: { ...DRY },
    maxArgs: 64,
    request: (v, args) => ({
      method: "irqbalance_ban",
      params: named({ irqs: irqNumbers(args, "tune irqbalance ban-irq"), dry_run: dry(v) }),
    }),
    render: change,
  },
  "irqbalance unban": {
    options: { ...DRY },
    maxArgs: 0,
    request: (v) => ({ method: "irqbalance_ban", params: named({ unban: true, dry_run: dry(v) }) }),
    render: change,
  },
  "affinity set": {
    options: {
      name: { type: "string" },
      unit: { type: "string" },
      cpus: { type: "string" },
      threads: { type: "boolean" },
      ...DRY,
    },
    maxArgs: 1,
    request: (v, args) => ({
      method: "affinity_set",
      params: named({
        ...who(v, args),
        cpus: cpus(v),
        threads: v.threads === true ? true : undefined,
        dry_run: dry(v),
      }),
    }),
    render: change,
  },
  rps: {
    options: { nic: { type: "string" }, cpus: { type: "string" }, ...DRY },
    maxArgs: 0,
    request: (v) => {
      if (str(v.nic) === undefined) throw new UsageError("--nic IF is required");
      return {
        method: "rps_set",
        params: named({ nic: v.nic, cpus: cpus(v, "--cpus LIST|off"), dry_run: dry(v) }),
      };
    },
    render: change,
  },
  plan: {
    options: { profile: { type: "string" } },
    maxArgs: 0,
    request: (v) => ({ method: "tune_plan", params: named({ profile: profile(v) }) }),
    render: (r) => renderPlan(r as PlanResult),
    exit: (r) => (r as PlanResult).errors.length > 0 ? 1 : 0,
  },
  apply: {
    options: {
      profile: { type: "string" },
      "confirm-timeout": { type: "string" },
      yes: { type: "boolean" },
      ...DRY,
    },
    maxArgs: 0,
    request: (v) => {
      let timeout: number | undefined;
      if (v["confirm-timeout"] !== undefined) {
        const t = String(v["confirm-timeout"]);
        if (!/^[0-9]+$/.test(t) || Number(t) < 1 || Number(t) > MAX_CONFIRM_TIMEOUT) {
          throw new UsageError(
            `--confirm-timeout must be whole seconds from 1 to ${MAX_CONFIRM_TIMEOUT}, not '${t}'`,
          );
        }
        timeout = Number(t);
      }
      return {
        method: "tune_apply",
        params: named({ profile: profile(v), dry_run: dry(v), confirm_timeout: timeout }),
      };
    },
    render: change,
    preview: (v) =>
      v["dry-run"] === true
        ? null
        : { method: "tune_plan", params: named({ profile: profile(v) }) },
  },
  verify: {
    options: { profile: { type: "string" } },
    maxArgs: 0,
    request: (v) => ({ method: "tune_verify", params: named({ profile: profile(v) }) }),
    render: (r) => renderVerify(r as VerifyResult),
    exit: (r) => {
      const v = r as VerifyResult;
      return v.errors.length > 0 ? 2 : v.in_sync ? 0 : 1;
    },
    errorExit: 2,
  },
  rollback: {
    options: {
      to: { type: "string" },
      profile: { type: "string" },
      yes: { type: "boolean" },
      ...DRY,
    },
    maxArgs: 1,
    request: (v, args) => ({ method: "tune_rollback", params: rollbackParams(v, args, dry(v)) }),
    render: (r) => renderRollback(r as RollbackResult),
    exit: (r) => (r as RollbackResult).status === "rollback_failed" ? 1 : 0,
    preview: (v, args) =>
      v["dry-run"] === true
        ? null
        : { method: "tune_rollback", params: rollbackParams(v, args, true) },
  },
  snapshots: {
    options: {},
    maxArgs: 0,
    request: () => ({ method: "tune_snapshots" }),
    render: (r) => renderSnapshots(r as Parameters<typeof renderSnapshots>[0]),
  },
  confirm: {
    options: {},
    maxArgs: 0,
    request: () => ({ method: "tune_confirm" }),
    render: (r) => renderConfirm(r as Parameters<typeof renderConfirm>[0]),
  },
  status: {
    options: {},
    maxArgs: 0,
    request: () => ({ method: "tune_status" }),
    render: (r) => renderStatus(r as TuningStatus),
  },
};

/** Second words of `tune irq ...`, `tune irqbalance ...`, `tune affinity ...`. */
export const SUB_WORDS: Record<string, readonly string[]> = {
  irq: ["list", "set", "spread", "default"],
  irqbalance: ["ban", "ban-irq", "unban"],
  affinity: ["set"],
};

export type Caller = (req: Request) => Promise<string>;

interface Reply {
  result?: unknown;
  error?: { code: number; message: string; data?: string };
}

async function result(call: Caller, req: Request): Promise<unknown> {
  const r = JSON.parse(await call(req)) as Reply;
  if (r.error !== undefined) {
    throw new Error(
      `${req.method}: error ${r.error.code}: ${r.error.message}${
        r.error.data ? ` (${r.error.data})` : ""
      }`,
    );
  }
  return r.result;
}

/**
 * After `apply --confirm-timeout` in this process: wait like `netplan try`.
 * Enter (on a terminal) or `sipmi tune confirm` from another shell keeps
 * the change; the timeout, Ctrl-C, a hang-up (the SSH session that carried
 * it died) or SIGTERM rolls it back. Returns the exit status.
 */
export async function waitForConfirm(
  call: Caller,
  applied: ApplyResult,
  print: (s: string) => void,
): Promise<number> {
  const deadline = applied.confirm_deadline!;
  const snapshot = applied.snapshot!;
  print(
    `\nKeep these changes? Run 'sipmi tune confirm'${
      Deno.stdin.isTerminal() ? " or press Enter here" : ""
    } before ${deadline}, or they are rolled back.`,
  );
  const stop = Promise.withResolvers<string>();
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const handlers = signals.map((s) => {
    const h = () => stop.resolve(s);
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });
  if (Deno.stdin.isTerminal()) {
    const buf = new Uint8Array(64);
    Deno.stdin.read(buf).then((n) => n !== null && stop.resolve("enter"), () => {});
  }
  try {
    for (;;) {
      const why = await Promise.race([
        stop.promise,
        new Promise<null>((r) => setTimeout(() => r(null), 250)),
      ]);
      if (why === "enter") {
        const c = await result(call, { method: "tune_confirm" }) as { confirmed: string };
        print(`confirmed: snapshot ${c.confirmed} stays applied`);
        return 0;
      }
      if (why !== null) {
        await result(call, { method: "tune_rollback", params: { snapshot } });
        print(`${why}: rolled back snapshot ${snapshot}`);
        return 1;
      }
      const st = await result(call, { method: "tune_status" }) as TuningStatus;
      if (st.pending_confirm?.snapshot === snapshot) continue;
      if (st.journal?.snapshot === snapshot && st.journal.state === "applied") {
        print(`confirmed: snapshot ${snapshot} stays applied`);
        return 0;
      }
      print(`no confirmation by ${deadline}: rolled back snapshot ${snapshot}`);
      return 1;
    }
  } finally {
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  }
}

export { renderApply };
