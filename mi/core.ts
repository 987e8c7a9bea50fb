// The MI core: request text in, reply text out (or null: no reply). Every
// transport, the CLI and the startup script go through an Endpoint of this
// core; the core never knows more of a transport than its RequestContext,
// its limits and its command policy.
//
// Replies are returned synchronously when the command is synchronous, so a
// datagram or FIFO loop pays for a promise only when a command needs one.

import {
  batchReply,
  decodeRequest,
  errorReply,
  FORBIDDEN,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  isDecodeError,
  METHOD_NOT_FOUND,
  MiError,
  miErrorReply,
  type MiRequest,
  PARSE_ERROR,
  resultReply,
  SERVER_ERROR,
} from "./jsonrpc.ts";
import { matchRecipe, type Params } from "./params.ts";
import type { Command, Registry, RequestContext } from "./registry.ts";
import type { Counter, StatsRegistry } from "./stats.ts";
import type { Logger } from "../sys/log.ts";

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
}

export const DEFAULT_LIMITS: Readonly<MiLimits> = {
  maxRequestBytes: 1024 * 1024,
  maxDepth: 64,
  maxBatch: 256,
  maxConcurrent: 256,
};

/** Which commands a listener may run. Names may end in `*` (prefix match). */
export interface CommandPolicy {
  allow?: readonly string[];
  deny?: readonly string[];
  /** Refuse every command declared `mutating`. */
  readOnly?: boolean;
}

export interface EndpointOptions extends RequestContext {
  policy?: CommandPolicy;
  limits?: Partial<MiLimits>;
  /** Where command failures are logged (the listener task's logger). */
  log?: Logger;
  /** The config key named in the oversize error (default `mi.max_request_bytes`). */
  limitName?: string;
}

interface CoreCounters {
  requests: Counter;
  errors: Counter;
  replies: Counter;
  parseErrors: Counter;
  invalidRequests: Counter;
  oversize: Counter;
  refused: Counter;
  internalErrors: Counter;
  busy: Counter;
}

const decoder = new TextDecoder();

/** Told of every command that changes state, once, just before it runs. */
export type AuditHook = (req: MiRequest, ctx: RequestContext) => void;

export class MiCore {
  readonly registry: Registry;
  readonly stats: StatsRegistry;
  readonly log: Logger;
  limits: MiLimits;
  /** Set by the daemon: records each mutating command its policy let through. */
  audit: AuditHook | undefined;
  readonly #c: CoreCounters;
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(
    registry: Registry,
    stats: StatsRegistry,
    log: Logger,
    limits: Partial<MiLimits> = {},
  ) {
    this.registry = registry;
    this.stats = stats;
    this.log = log;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.#c = {
      requests: stats.counter("mi", "requests"),
      errors: stats.counter("mi", "errors"),
      replies: stats.counter("mi", "replies"),
      parseErrors: stats.counter("mi", "parse_errors"),
      invalidRequests: stats.counter("mi", "invalid_requests"),
      oversize: stats.counter("mi", "oversize_requests"),
      refused: stats.counter("mi", "refused_requests"),
      internalErrors: stats.counter("mi", "internal_errors"),
      busy: stats.counter("mi", "busy_requests"),
    };
    stats.computed("mi", "in_flight", () => this.#inFlight);
  }

  /** An entry point for one listener (or the CLI); cheap to call per request. */
  endpoint(opts: EndpointOptions): Endpoint {
    return new Endpoint(this, opts);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Waits until no command runs, or the timeout passes; returns how many still run. */
  drain(timeoutMs: number): Promise<number> {
    if (this.#inFlight === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(this.#inFlight);
      };
      const timer = setTimeout(() => {
        this.#idle = this.#idle.filter((f) => f !== done);
        resolve(this.#inFlight);
      }, timeoutMs);
      this.#idle.push(done);
    });
  }

  // ---------------------------------------------------------- internals

  /** @internal */ counters(): CoreCounters {
    return this.#c;
  }

  /** @internal Runs one decoded request through its command. */
  dispatch(ep: Endpoint, req: MiRequest): MaybePromise<Reply> {
    const c = this.#c;
    const cmd = this.registry.get(req.method);
    if (cmd === undefined) return ep.fail(req, METHOD_NOT_FOUND, "Method not found");
    let params: Params;
    try {
      params = matchRecipe(cmd.recipes, req.params, cmd.namedOnly);
    } catch (e) {
      return this.#failed(ep, req, cmd, e);
    }
    const refusal = ep.refusal(cmd, params);
    if (refusal !== undefined) {
      c.refused.inc();
      return ep.fail(req, FORBIDDEN, "Forbidden", refusal);
    }
    cmd.calls.inc();
    if (this.audit !== undefined && isMutating(cmd, params)) this.audit(req, ep.ctx);
    let r: unknown;
    try {
      r = cmd.handler(params, ep.ctx);
    } catch (e) {
      return this.#failed(ep, req, cmd, e);
    }
    if (!(r instanceof Promise)) return this.#succeeded(ep, req, cmd, r);
    if (this.#inFlight >= this.limits.maxConcurrent) {
      // The command has started; it finishes, but the caller is told we are overloaded.
      r.catch(() => {});
      c.busy.inc();
      const data =
        `more than ${this.limits.maxConcurrent} commands in progress (mi.max_concurrent)`;
      return ep.fail(req, SERVER_ERROR, "Server error", data);
    }
    this.#inFlight++;
    return r.then(
      (v) => this.#succeeded(ep, req, cmd, v),
      (e) => this.#failed(ep, req, cmd, e),
    ).finally(() => {
      if (--this.#inFlight === 0 && this.#idle.length > 0) {
        const waiters = this.#idle;
        this.#idle = [];
        for (const w of waiters) w();
      }
    });
  }

  #succeeded(ep: Endpoint, req: MiRequest, cmd: Command, result: unknown): Reply {
    if (result === undefined) {
      return this.#failed(
        ep,
        req,
        cmd,
        new MiError(SERVER_ERROR, "Server error", "Command handler returned null"),
      );
    }
    if (req.idText === undefined) return null;
    let json: string;
    try {
      json = JSON.stringify(result);
    } catch (e) {
      return this.#failed(ep, req, cmd, e);
    }
    return resultReply(json, req.idText);
  }

  #failed(ep: Endpoint, req: MiRequest, cmd: Command, e: unknown): Reply {
    cmd.errors.inc();
    if (e instanceof MiError) return ep.fail(req, e.code, e.message, e.data);
    this.#c.internalErrors.inc();
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    ep.log.error(`command '${cmd.name}' failed: ${detail}`);
    return ep.fail(req, INTERNAL_ERROR, "Internal error");
  }
}

/** One listener's view of the core: its context, limits, policy and counters. */
export class Endpoint {
  readonly core: MiCore;
  readonly ctx: RequestContext;
  readonly policy: CommandPolicy;
  readonly maxRequestBytes: number;
  readonly requests: Counter;
  readonly errors: Counter;
  readonly replies: Counter;
  readonly log: Logger;
  readonly limitName: string;
  readonly #allow: ((name: string) => boolean) | undefined;
  readonly #deny: ((name: string) => boolean) | undefined;

  constructor(core: MiCore, opts: EndpointOptions) {
    this.core = core;
    const { policy, limits, log, limitName, ...ctx } = opts;
    this.ctx = ctx;
    this.policy = policy ?? {};
    this.maxRequestBytes = limits?.maxRequestBytes ?? core.limits.maxRequestBytes;
    const t = ctx.transport.replace(/[^A-Za-z0-9_]/g, "_");
    this.requests = core.stats.counter("mi", `${t}_requests`);
    this.errors = core.stats.counter("mi", `${t}_errors`);
    this.replies = core.stats.counter("mi", `${t}_replies`);
    this.log = log ?? core.log;
    this.limitName = limitName ?? "mi.max_request_bytes";
    this.#allow = this.policy.allow?.length ? matcher(this.policy.allow) : undefined;
    this.#deny = this.policy.deny?.length ? matcher(this.policy.deny) : undefined;
  }

  /** Handles request bytes: checks the size limit, decodes UTF-8, handles the text. */
  handleBytes(bytes: Uint8Array): MaybePromise<Reply> {
    if (bytes.length > this.maxRequestBytes) return this.oversize(bytes.length);
    return this.handle(decoder.decode(bytes));
  }

  /** Handles one request text (a request or a batch). */
  handle(text: string): MaybePromise<Reply> {
    if (text.length > this.maxRequestBytes) return this.oversize(text.length);
    const core = this.core;
    const d = decodeRequest(text, core.limits);
    if (!d.batch) {
      const e = d.entries[0];
      if (isDecodeError(e)) return this.#decodeFailed(e.code, e.reply);
      this.#countRequest();
      return this.#counted(core.dispatch(this, e));
    }
    return this.#batch(d.entries);
  }

  /** The error reply for a request over the size limit. */
  oversize(size: number): string {
    this.core.counters().oversize.inc();
    this.#countRequest();
    this.#countError();
    const data =
      `request of ${size} bytes exceeds the limit of ${this.maxRequestBytes} bytes (${this.limitName})`;
    return this.#countReply(errorReply(INVALID_REQUEST, "Invalid Request", data, "null"));
  }

  /** @internal A JSON-RPC error for a dispatched request; null for notifications. */
  fail(req: MiRequest, code: number, message: string, data?: string): Reply {
    this.#countError();
    if (req.idText === undefined) return null;
    return miErrorReply(new MiError(code, message, data), req.idText);
  }

  /** @internal Why this listener refuses the command, or undefined. */
  refusal(cmd: Command, params: Params): string | undefined {
    const where = this.ctx.listener ?? this.ctx.transport;
    if (this.#deny?.(cmd.name)) return `command '${cmd.name}' is denied on ${where}`;
    if (this.#allow && !this.#allow(cmd.name)) {
      return `command '${cmd.name}' is not allowed on ${where}`;
    }
    if (this.policy.readOnly && isMutating(cmd, params)) {
      return `command '${cmd.name}' changes state; ${where} is read-only`;
    }
    return undefined;
  }

  #decodeFailed(code: number, reply: string): string {
    const c = this.core.counters();
    if (code === PARSE_ERROR) c.parseErrors.inc();
    else c.invalidRequests.inc();
    this.#countRequest();
    this.#countError();
    return this.#countReply(reply);
  }

  #countRequest(): void {
    this.requests.v++;
    this.core.counters().requests.v++;
  }

  #countError(): void {
    this.errors.v++;
    this.core.counters().errors.v++;
  }

  #counted(r: MaybePromise<Reply>): MaybePromise<Reply> {
    if (r instanceof Promise) return r.then((v) => this.#countReply(v));
    return this.#countReply(r);
  }

  #countReply<R extends Reply>(r: R): R {
    if (r !== null) {
      this.replies.v++;
      this.core.counters().replies.v++;
    }
    return r;
  }

  async #batch(entries: (MiRequest | { code: number; reply: string })[]): Promise<Reply> {
    // Members run one after another, in order: a batch of changes applies in
    // the order the operator wrote it.
    const replies: Reply[] = [];
    for (const e of entries) {
      if (isDecodeError(e)) {
        const c = this.core.counters();
        if (e.code === PARSE_ERROR) c.parseErrors.inc();
        else c.invalidRequests.inc();
        this.#countRequest();
        this.#countError();
        replies.push(e.reply);
      } else {
        this.#countRequest();
        replies.push(await this.core.dispatch(this, e));
      }
    }
    return this.#countReply(batchReply(replies));
  }
}

function isMutating(cmd: Command, params: Params): boolean {
  return typeof cmd.mutating === "function" ? cmd.mutating(params) : cmd.mutating === true;
}

function matcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith("*")));
  const prefixes = patterns.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1));
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}
