// What crosses between the daemon's main thread and the tuning worker
// (tuning/worker.ts, tuning/worker_client.ts), in plain data a postMessage
// can carry: command specs without their handlers, the params of one call,
// its outcome, statistics, log records.
//
// A command spec crosses whole except its handler and `mutating`, which the
// main thread evaluates before the handler runs (a read-only listener
// refuses a mutating call without asking the worker). `mutating` is a
// boolean or `mutatingUnlessTrue(param)`: a write command is mutating unless
// it is a dry run. Both sides build that function from here, so it is one
// implementation.

import { invalidParams, MiError } from "../mi/jsonrpc.ts";
import { Params, type Recipe } from "../mi/params.ts";
import type { CommandSpec, Handler, RequestContext } from "../mi/registry.ts";
import type { Collected } from "../mi/stats.ts";

/** A boolean parameter: true/false, 1/0, "yes"/"no", "true"/"false". */
export function boolParam(p: Params, name: string): boolean {
  if (!p.has(name)) return false;
  const v = p.raw(name);
  if (typeof v === "boolean") return v;
  if (v === 1 || v === "1" || v === "yes" || v === "true") return true;
  if (v === 0 || v === "0" || v === "no" || v === "false") return false;
  throw invalidParams(`Parameter '${name}' must be true or false`);
}

const UNLESS = new WeakMap<(p: Params) => boolean, string>();

/**
 * Mutating unless `param` is given and true (`dry_run`). A value that is
 * not a boolean counts as mutating: the handler refuses it anyway.
 */
export function mutatingUnlessTrue(param: string): (p: Params) => boolean {
  const fn = (p: Params) => {
    try {
      return !boolParam(p, param);
    } catch {
      return true;
    }
  };
  UNLESS.set(fn, param);
  return fn;
}

export interface WireSpec {
  name: string;
  help: string;
  recipes: Recipe[];
  namedOnly: boolean;
  /** true, false, or the parameter that makes a call not mutating. */
  mutating: boolean | { unlessTrue: string };
}

export function specToWire(spec: CommandSpec): WireSpec {
  let mutating: WireSpec["mutating"];
  if (typeof spec.mutating === "function") {
    const param = UNLESS.get(spec.mutating);
    if (param === undefined) {
      throw new Error(
        `tuning command '${spec.name}': mutating must be a boolean or mutatingUnlessTrue(...) to run in the worker`,
      );
    }
    mutating = { unlessTrue: param };
  } else mutating = spec.mutating === true;
  return {
    name: spec.name,
    help: spec.help,
    recipes: spec.recipes.map((r) => [...r]),
    namedOnly: spec.namedOnly === true,
    mutating,
  };
}

export function specFromWire(w: WireSpec, handler: Handler): CommandSpec {
  return {
    name: w.name,
    help: w.help,
    recipes: w.recipes,
    namedOnly: w.namedOnly,
    mutating: typeof w.mutating === "boolean"
      ? w.mutating
      : mutatingUnlessTrue(w.mutating.unlessTrue),
    handler,
  };
}

/** The params of one call: the matched recipe and each of its values by name. */
export interface WireParams {
  recipe: Recipe;
  values: Record<string, unknown>;
}

export function paramsToWire(p: Params): WireParams {
  const values: Record<string, unknown> = {};
  for (const name of p.recipe) values[name] = p.raw(name);
  return { recipe: [...p.recipe], values };
}

export function paramsFromWire(w: WireParams): Params {
  return new Params(w.recipe, undefined, w.values);
}

/** What a handler in the worker may know of its request (the peer stays with the listener). */
export interface WireContext {
  transport: string;
  listener?: string;
  identity?: string;
}

export function contextToWire(ctx: RequestContext): WireContext {
  const w: WireContext = { transport: ctx.transport };
  if (ctx.listener !== undefined) w.listener = ctx.listener;
  if (ctx.identity !== undefined) w.identity = ctx.identity;
  return w;
}

/** A thrown value: an MI error keeps its code, message and data; anything else is a bug's stack. */
export type WireError = { code: number; message: string; data?: string } | { internal: string };

export function errorToWire(e: unknown): WireError {
  if (e instanceof MiError) {
    return e.data === undefined
      ? { code: e.code, message: e.message }
      : { code: e.code, message: e.message, data: e.data };
  }
  return { internal: e instanceof Error ? (e.stack ?? e.message) : String(e) };
}

export function errorFromWire(w: WireError): Error {
  if ("internal" in w) {
    const e = new Error(w.internal.split("\n")[0]);
    e.stack = `${w.internal}\n    (in the tuning worker)`;
    return e;
  }
  return new MiError(w.code, w.message, w.data);
}

/** A statistic the worker keeps: a counter (increments cross) or a gauge (values cross). */
export interface WireStat {
  kind: "counter" | "gauge";
  group: string;
  name: string;
}

export type LogLevel = "info" | "notice" | "warn" | "error";

/** Everything the tuning side needs to build its env and runtime in the worker. */
export interface WorkerInit {
  tuning: {
    root: string;
    state_dir: string;
    profile: string;
    verify_interval_s: number;
    enforce: boolean;
    sip: { units: string[]; process_names: string[]; nic: string; ports: number[] };
  };
}

/** main thread -> worker */
export type ToWorker =
  | { kind: "init"; init: WorkerInit }
  | { kind: "call"; id: number; method: string; params: WireParams; ctx: WireContext }
  | { kind: "group"; id: number; group: string }
  | { kind: "start"; id: number }
  | { kind: "stop"; id: number }
  | { kind: "settings"; id: number; tuning: WorkerInit["tuning"] }
  /** An uncaught error, as a bug would throw one: the restart test uses it. */
  | { kind: "crash" };

/** worker -> main thread */
export type FromWorker =
  | { kind: "ready"; commands: WireSpec[]; stats: WireStat[]; groups: string[] }
  /** A call's result as JSON text (encoded in the worker), or undefined when the handler gave none. */
  | { kind: "done"; id: number; json?: string }
  | { kind: "values"; id: number; values: Collected[] }
  | { kind: "failed"; id: number; error: WireError }
  | { kind: "inc"; group: string; name: string; n: number }
  | { kind: "set"; group: string; name: string; value: number }
  | { kind: "log"; level: LogLevel; message: string };
