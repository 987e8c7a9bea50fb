// The `tuning` MI module: host tuning as MI commands, the read side here and
// the write side in module_write.ts. The CLI (`sipmi tune ...`), the
// transports and the startup script all run these same handlers. Host
// problems map to MI errors an operator can act on: 404 for something named
// that does not exist, 500 with the file and line for host data that
// cannot be read or parsed, 500 naming the change for a refused or failed
// change, -32602 for bad params.

import { COMMAND_FAILED, invalidParams, MiError, NOT_FOUND } from "../mi/jsonrpc.ts";
import type { Params, Recipe } from "../mi/params.ts";
import type { CommandSpec, MiModule } from "../mi/registry.ts";
import { HostFsError } from "../sys/hostfs.ts";
import { SysError } from "../sys/libc.ts";
import { getAffinity, type Selector } from "./affinity.ts";

import { listCpus, readTopology } from "./cpus.ts";
import { tuneDoctor } from "./doctor.ts";
import { type ParamHelpers, writeCommands } from "./module_write.ts";
import type { TuningRuntime } from "./runtime.ts";
import { TuningError } from "./tuning_error.ts";
import { FormatError } from "./format_error.ts";
import { irqInfos, readInterrupts } from "./irq.ts";
import { irqbalanceStatus } from "./irqbalance.ts";
import { LookupError } from "./lookup_error.ts";
import { compilePattern, MAX_PATTERN, type Pattern } from "./pattern.ts";
import { defaultRouteNic, describeNic, nicRowsByName, sipNic } from "./nic.ts";
import { type ProfileState, tuneShow } from "./show.ts";
import { hostStats } from "./stats.ts";
import { boolParam } from "./wire.ts";

/** Longest sampling interval, in seconds: a request should not hold a worker for minutes. */
export const MAX_INTERVAL = 60;
const DEFAULT_DOCTOR_INTERVAL = 1;

/** Every recipe made of `required` plus any subset of `optional`, smallest first. */
export function recipes(required: readonly string[], optional: readonly string[]): Recipe[] {
  const out: string[][] = [];
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    out.push([...required, ...optional.filter((_, i) => mask & (1 << i))]);
  }
  return out.sort((a, b) => a.length - b.length);
}

/** Lookups are part of the answer in `tune show`/`doctor`; other errors still fail. */
export function isLookup(e: unknown): boolean {
  return e instanceof LookupError;
}

/** Turns host-side failures into MI errors that say what and where. */
export function toMiError(e: unknown): unknown {
  if (e instanceof MiError) return e;
  if (e instanceof LookupError) return new MiError(NOT_FOUND, e.message);
  if (e instanceof FormatError) return new MiError(COMMAND_FAILED, "Bad host data", e.message);
  if (e instanceof HostFsError) {
    return new MiError(COMMAND_FAILED, "Cannot read host data", e.message);
  }
  if (e instanceof SysError) return new MiError(COMMAND_FAILED, "System call failed", e.message);
  if (e instanceof TuningError) return new MiError(COMMAND_FAILED, e.title, e.detail || undefined);
  return e;
}

function guard(handler: CommandSpec["handler"]): CommandSpec["handler"] {
  return async (p, ctx, req) => {
    try {
      return await handler(p, ctx, req);
    } catch (e) {
      throw toMiError(e);
    }
  };
}

/** A pattern parameter, compiled by tuning/pattern.ts (the one place patterns are compiled). */
export function regexParam(p: Params, name: string): Pattern {
  const text = p.str(name);
  const re = compilePattern(text);
  if (typeof re !== "string") return re;
  if (text === "" || text.length > MAX_PATTERN) throw invalidParams(`Parameter '${name}' ${re}`);
  throw invalidParams(
    `Bad regular expression in '${name}': ${re.replace(/^is not a regular expression: /, "")}`,
  );
}

function nicParam(p: Params): string | undefined {
  if (!p.has("nic")) return undefined;
  const nic = p.str("nic");
  if (!/^[^/\s]{1,15}$/.test(nic)) {
    throw invalidParams(
      `Parameter 'nic' must be an interface name (1-15 characters, no '/' or spaces)`,
    );
  }
  return nic;
}

function intervalParam(p: Params, fallback: number): number {
  if (!p.has("interval")) return fallback;
  const v = p.raw("interval");
  const n = typeof v === "number"
    ? v
    : typeof v === "string" && /^[0-9]+(\.[0-9]+)?$/.test(v)
    ? Number(v)
    : NaN;
  if (!Number.isFinite(n) || n < 0 || n > MAX_INTERVAL) {
    throw invalidParams(`Parameter 'interval' must be seconds between 0 and ${MAX_INTERVAL}`);
  }
  return n;
}

function portsParam(p: Params, fallback: readonly number[]): number[] {
  if (!p.has("ports")) return [...fallback];
  const v = p.raw("ports");
  const list = Array.isArray(v) ? v : [v];
  const out: number[] = [];
  for (const x of list) {
    const n = typeof x === "number"
      ? x
      : typeof x === "string" && /^[0-9]+$/.test(x)
      ? Number(x)
      : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      throw invalidParams(
        `Parameter 'ports' must be UDP port numbers (1-65535), not ${JSON.stringify(x)}`,
      );
    }
    out.push(n);
  }
  return out;
}

function selectorParam(p: Params): Selector {
  if (p.has("pid")) {
    const pid = p.int("pid");
    if (pid < 1) throw invalidParams("Parameter 'pid' must be a positive process id");
    return { pid };
  }
  if (p.has("name")) return { name: regexParam(p, "name").source };
  let unit = p.str("unit");
  if (!/^[A-Za-z0-9:_.@\\-]{1,256}$/.test(unit)) {
    throw invalidParams(`Parameter 'unit' must be a systemd unit name, not '${unit.slice(0, 60)}'`);
  }
  if (!/\.[a-z]+$/.test(unit)) unit += ".service";
  return { unit };
}

/**
 * The tuning commands over one runtime. The daemon runs them in the tuning
 * worker (tuning/worker.ts), the CLI in its own process; the host statistics
 * groups are tuning/stat_groups.ts.
 */
export function tuningModule(rt: TuningRuntime): MiModule {
  const env = rt.env;
  const { fs } = env;
  const helpers: ParamHelpers = {
    recipes,
    regex: regexParam,
    bool: boolParam,
    nic: nicParam,
    selector: selectorParam,
    guard,
  };
  /** The applied profile and its drift, as tune_show and tune_doctor report them (a fresh verify). */
  const profileState = async (): Promise<ProfileState> => {
    const st = await rt.status();
    return {
      applied: st.applied,
      pending_confirm: st.pending_confirm,
      verify: await rt.verifyApplied(),
    };
  };

  const commands: CommandSpec[] = [
    {
      name: "cpu_list",
      help:
        "lists online, offline, isolated and nohz_full CPUs, NUMA nodes and hyperthread siblings",
      recipes: [[]],
      handler: guard(() => listCpus(fs)),
    },
    {
      name: "irq_list",
      help:
        "lists IRQs from /proc/interrupts with per-CPU counts, requested/effective affinity, node and changeability; params: nic, match",
      recipes: recipes([], ["nic", "match"]),
      handler: guard(async (p) => {
        const ints = await readInterrupts(fs);
        let rows = ints.rows;
        let source: string | null = null;
        const nic = nicParam(p);
        if (nic !== undefined) {
          const found = await nicRowsByName(fs, nic, ints);
          rows = found.rows;
          source = found.source;
        }
        if (p.has("match")) {
          const re = regexParam(p, "match");
          rows = rows.filter((r) =>
            re.test(r.name) || re.test(r.irq) || (r.chip !== null && re.test(r.chip))
          );
        }
        return {
          cpus: ints.cpus,
          nic: nic ?? null,
          source,
          count: rows.length,
          irqs: await irqInfos(fs, rows),
        };
      }),
    },
    {
      name: "nic_describe",
      help:
        "describes a NIC: driver, NUMA node, local CPUs, queue IRQs with affinity, RPS/XPS, drop counters; param: nic (default: the SIP NIC)",
      recipes: recipes([], ["nic"]),
      handler: guard(async (p) => {
        const name = await sipNic(fs, nicParam(p) ?? env.sip.nic);
        return await describeNic(fs, name, await readInterrupts(fs));
      }),
    },
    {
      name: "irqbalance_status",
      help:
        "shows irqbalance: config file, banned CPUs (and which setting chose them), --banirq, whether it runs",
      recipes: [[]],
      handler: guard(async () => irqbalanceStatus(fs, await readTopology(fs))),
    },
    {
      name: "affinity_get",
      help:
        "shows the CPU affinity of processes and their threads (sched_getaffinity cross-checked with /proc); params: pid | name | unit, threads",
      recipes: ["pid", "name", "unit"].flatMap((who) => recipes([who], ["threads"])),
      handler: guard((p) => getAffinity(fs, selectorParam(p), env.reader, boolParam(p, "threads"))),
    },
    {
      name: "host_stats",
      help:
        "per-CPU NET_RX and softnet drops, UDP buffer errors, SIP socket drops, NIC drops; with interval (s), rates; params: interval, ports, nic",
      recipes: recipes([], ["interval", "ports", "nic"]),
      handler: guard(async (p) => {
        const explicit = nicParam(p);
        const nic = explicit ?? (env.sip.nic !== "" ? env.sip.nic : await defaultRouteNic(fs));
        return await hostStats(fs, {
          ports: portsParam(p, env.sip.ports),
          nic,
          interval: intervalParam(p, 0),
        });
      }),
    },
    {
      name: "tune_doctor",
      help:
        `findings about IRQ, NIC, irqbalance and SIP thread placement and rising drops, with evidence; params: interval (s, default ${DEFAULT_DOCTOR_INTERVAL}), nic`,
      recipes: recipes([], ["interval", "nic"]),
      handler: guard(async (p) =>
        tuneDoctor(env, {
          interval: intervalParam(p, DEFAULT_DOCTOR_INTERVAL),
          nic: nicParam(p),
          soft: isLookup,
          profile: (await profileState()).verify,
        })
      ),
    },
    {
      name: "tune_show",
      help:
        "one view of CPUs, the SIP NIC's queues and IRQs, irqbalance and the SIP router's thread affinity; param: nic",
      recipes: recipes([], ["nic"]),
      handler: guard(async (p) =>
        tuneShow(env, { nic: nicParam(p), soft: isLookup, profile: await profileState() })
      ),
    },
    ...writeCommands(rt, helpers),
  ];
  return { name: "tuning", commands };
}
