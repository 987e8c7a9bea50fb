// The MI core: what every entry point shares — the command registry, the
// statistics, the limits and the count of commands in progress. Requests
// enter through an Endpoint (mi/endpoint.ts), one per listener, the CLI or
// the startup script; the core never knows more of a transport than its
// RequestContext, its limits and its command policy (docs/architecture.md).

import type { Logger } from "../sys/log.ts";
import { Endpoint, type EndpointOptions } from "./endpoint.ts";
import { InFlight } from "./in_flight.ts";
import type { MiRequest } from "./jsonrpc.ts";
import type { Registry, RequestContext } from "./registry.ts";
import type { Counter, StatsRegistry } from "./stats.ts";
import { Slots, Turns } from "./turns.ts";

export type { ClientState, CommandPolicy, EndpointOptions, Outcome, PeerText } from "./endpoint.ts";
export { Endpoint, reusingPeerText } from "./endpoint.ts";

export type MaybePromise<T> = T | Promise<T>;
/** A reply text, or null when nothing is to be sent (notifications). */
export type Reply = string | null;

export interface MiLimits {
  /** Largest request accepted, in bytes. */
  maxRequestBytes: number;
  /** Deepest JSON nesting accepted (arrays and objects). */
  maxDepth: number;
  /** Most requests in one JSON-RPC batch. */
  maxBatch: number;
  /** Most commands running at once (asynchronous ones); more get an error. */
  maxConcurrent: number;
  /** Most batches running at once; more wait for a slot. */
  maxRunningBatches: number;
}

export const DEFAULT_LIMITS: Readonly<MiLimits> = {
  maxRequestBytes: 1024 * 1024,
  maxDepth: 64,
  maxBatch: 256,
  maxConcurrent: 256,
  maxRunningBatches: 16,
};

/** The core's own statistics (`mi:` group); the per-transport ones belong to each Endpoint. */
export interface CoreCounters {
  requests: Counter;
  /** Batch members not run because the client had gone. */
  abandoned: Counter;
  errors: Counter;
  replies: Counter;
  parseErrors: Counter;
  invalidRequests: Counter;
  oversize: Counter;
  refused: Counter;
  internalErrors: Counter;
  busy: Counter;
}

/**
 * Told of every command that changes state, once, just before it runs (after
 * the listener's policy let it through). `ctx.peer` is worked out only if the
 * hook reads it.
 */
export type AuditHook = (req: MiRequest, ctx: RequestContext) => void;

/** What every Endpoint of one core shares. Handed to endpoints, never to transports. */
export interface CoreShared {
  readonly registry: Registry;
  readonly stats: StatsRegistry;
  /** Replaced as a whole by a reload; endpoints read it per request. */
  limits: MiLimits;
  readonly log: Logger;
  readonly counters: CoreCounters;
  /** Asynchronous commands in progress. */
  readonly commands: InFlight;
  /** See MiCore.audit. */
  audit: AuditHook | undefined;
  /** Turns on the event loop for batches that run long (mi/turns.ts). */
  readonly turns: Turns;
  /** Slots for running batches (`mi.max_running_batches`). */
  readonly batches: Slots;
}

export class MiCore {
  readonly registry: Registry;
  readonly stats: StatsRegistry;
  readonly log: Logger;
  readonly #shared: CoreShared;

  constructor(
    registry: Registry,
    stats: StatsRegistry,
    log: Logger,
    limits: Partial<MiLimits> = {},
  ) {
    this.registry = registry;
    this.stats = stats;
    this.log = log;
    const commands = new InFlight();
    this.#shared = {
      registry,
      stats,
      limits: { ...DEFAULT_LIMITS, ...limits },
      log,
      commands,
      audit: undefined,
      turns: new Turns(),
      batches: new Slots(),
      counters: {
        requests: stats.counter("mi", "requests"),
        abandoned: stats.counter("mi", "abandoned_requests"),
        errors: stats.counter("mi", "errors"),
        replies: stats.counter("mi", "replies"),
        parseErrors: stats.counter("mi", "parse_errors"),
        invalidRequests: stats.counter("mi", "invalid_requests"),
        oversize: stats.counter("mi", "oversize_requests"),
        refused: stats.counter("mi", "refused_requests"),
        internalErrors: stats.counter("mi", "internal_errors"),
        busy: stats.counter("mi", "busy_requests"),
      },
    };
    stats.computed("mi", "in_flight", () => commands.count);
    stats.computed("mi", "batches_running", () => this.#shared.batches.running);
    stats.computed("mi", "batches_waiting", () => this.#shared.batches.waiting);
  }

  /** The limits every endpoint applies; a reload replaces them (a listener's own size limit stays until it restarts). */
  get limits(): MiLimits {
    return this.#shared.limits;
  }
  set limits(l: MiLimits) {
    this.#shared.limits = l;
  }

  /** Set by the daemon: records each mutating command a listener's policy let through. */
  get audit(): AuditHook | undefined {
    return this.#shared.audit;
  }
  set audit(hook: AuditHook | undefined) {
    this.#shared.audit = hook;
  }

  /** An entry point for one listener (or the CLI); create it once and keep it. */
  endpoint(opts: EndpointOptions): Endpoint {
    return new Endpoint(this.#shared, opts);
  }

  /** Asynchronous commands in progress. */
  get inFlight(): number {
    return this.#shared.commands.count;
  }

  /** Waits until no command runs, or the timeout passes; returns how many still run. */
  drain(timeoutMs: number): Promise<number> {
    return this.#shared.commands.idle(timeoutMs);
  }
}
