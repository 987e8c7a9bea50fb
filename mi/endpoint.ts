// One entry point into the MI core: a listener's (or the CLI's) context,
// limits, command policy and statistics, and the one API through which a
// transport hands requests in and reports what became of them
// (docs/architecture.md, "The request path"; docs/extending.md, "A transport").
//
//   handle / handleBytes   request text in, reply text out (null: no reply)
//   oversize / parseError  the reply for a request the transport measured or
//                          framed as bad before any JSON was parsed
//   report                 what the transport did without the core: refused
//                          or dropped a request, could not deliver a reply,
//                          replaced one
//
// Every count goes through the three private counting methods below, which
// raise the transport's counter and the global one together: `mi:requests`
// is the sum of every `mi:<transport>_requests`, and so for errors and
// replies (docs/protocol.md, "Statistics").
//
// Replies are returned synchronously when the command is synchronous, so a
// datagram or FIFO loop pays for a promise only when a command needs one.

import {
  batchReply,
  decodeRequest,
  EncodedResult,
  type Entry,
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
  PARSE_ERROR_REPLY,
  resultReply,
  SERVER_ERROR,
} from "./jsonrpc.ts";
import { matchRecipe, type Params } from "./params.ts";
import type { Command, RequestContext } from "./registry.ts";
import type { Counter } from "./stats.ts";
import type { CoreShared, MaybePromise, MiLimits, Reply } from "./core.ts";
import type { Logger } from "../sys/log.ts";

/** Which commands a listener may run. Names may end in `*` (prefix match). */
export interface CommandPolicy {
  allow?: readonly string[];
  deny?: readonly string[];
  /** Refuse every command declared `mutating`. */
  readOnly?: boolean;
}

export interface EndpointOptions extends RequestContext {
  policy?: CommandPolicy;
  limits?: Partial<Pick<MiLimits, "maxRequestBytes">>;
  /** Where command failures are logged (the listener task's logger). */
  log?: Logger;
  /** The config key named in the oversize error (default `mi.max_request_bytes`). */
  limitName?: string;
}

/**
 * What a transport did with a request or a reply without the core:
 *
 * - `refused`: the request was refused before the core saw it, and the
 *   transport answered (HTTP 401, 405, 406, 415, an empty body, an unknown
 *   path, shutting down). One request, one error, one reply.
 * - `dropped`: the request was refused before the core saw it and nobody
 *   could be answered (FIFO: a bad or hostile reply name, a reply FIFO that
 *   nobody opened in time, too many clients waiting). One request, one error.
 * - `undelivered`: the core's reply (passed along) could not be delivered:
 *   the client went away or stopped reading.
 * - `replaced`: the core's reply (passed along) was replaced by the
 *   transport's error reply (too large for one datagram).
 *
 * An undelivered or replaced reply is one error unless the core counted it
 * as an error already (a reply that carries no result).
 */
export type Outcome = "refused" | "dropped" | "undelivered" | "replaced";

/**
 * The peer of one request as text (a datagram's sender address, the HTTP
 * client's address, the FIFO reply name). Called at most once, and only
 * when a handler reads `ctx.peer`. A function that reads state the
 * transport reuses for the next request (a datagram listener's receive
 * buffer) says so with `reusesBuffer`: it is then also called when a command
 * goes asynchronous or the request is a batch, while the buffer still holds
 * this request. Make it once with `reusingPeerText`.
 */
export interface PeerText {
  (): string;
  readonly reusesBuffer?: boolean;
}

/** A PeerText that reads a receive buffer the transport reuses (see PeerText). */
export function reusingPeerText(text: () => string): PeerText {
  return Object.assign(text, { reusesBuffer: true as const });
}

/** The context of one request with a peer: computed on first read. */
class RequestScope implements RequestContext {
  readonly transport: string;
  readonly listener: string | undefined;
  readonly identity: string | undefined;
  #peer: string | undefined;
  #text: PeerText | undefined;

  constructor(base: RequestContext, text: PeerText) {
    this.transport = base.transport;
    this.listener = base.listener;
    this.identity = base.identity;
    this.#text = text;
  }

  get peer(): string | undefined {
    if (this.#text !== undefined) {
      this.#peer = this.#text();
      this.#text = undefined;
    }
    return this.#peer;
  }

  /** Computes the peer now if its source is a buffer the transport reuses: the request outlives it. */
  pin(): void {
    if (this.#text?.reusesBuffer) void this.peer;
  }
}

const decoder = new TextDecoder();
const RESULT_HEAD = '{"jsonrpc":"2.0","result":';

/** True when a reply the core produced carries at least one result (not only errors). */
function carriesResult(reply: string): boolean {
  if (reply.startsWith(RESULT_HEAD)) return true;
  // A batch: error objects hold their strings escaped, so an unescaped
  // `"result":` is always some member's result key.
  return reply.charCodeAt(0) === 0x5b && reply.includes('"result":');
}

/** One listener's view of the core: its context, limits, policy and counters. */
export class Endpoint {
  /** What a handler is told when the transport names no peer. */
  readonly ctx: RequestContext;
  /** Largest request this endpoint accepts (the transport may lower the core's limit). */
  readonly maxRequestBytes: number;
  readonly #core: CoreShared;
  readonly #policy: CommandPolicy;
  readonly #requests: Counter;
  readonly #errors: Counter;
  readonly #replies: Counter;
  readonly #log: Logger;
  readonly #limitName: string;
  readonly #allow: ((name: string) => boolean) | undefined;
  readonly #deny: ((name: string) => boolean) | undefined;

  constructor(core: CoreShared, opts: EndpointOptions) {
    this.#core = core;
    const { policy, limits, log, limitName, ...ctx } = opts;
    this.ctx = ctx;
    this.#policy = policy ?? {};
    this.maxRequestBytes = limits?.maxRequestBytes ?? core.limits.maxRequestBytes;
    const t = ctx.transport.replace(/[^A-Za-z0-9_]/g, "_");
    this.#requests = core.stats.counter("mi", `${t}_requests`);
    this.#errors = core.stats.counter("mi", `${t}_errors`);
    this.#replies = core.stats.counter("mi", `${t}_replies`);
    this.#log = log ?? core.log;
    this.#limitName = limitName ?? "mi.max_request_bytes";
    this.#allow = this.#policy.allow?.length ? matcher(this.#policy.allow) : undefined;
    this.#deny = this.#policy.deny?.length ? matcher(this.#policy.deny) : undefined;
  }

  // ------------------------------------------------------- the transport API

  /**
   * Handles request bytes: checks the size limit, decodes UTF-8, handles the
   * text. The bytes are decoded before this returns, so the caller may reuse
   * its buffer at once.
   */
  handleBytes(bytes: Uint8Array, peer?: PeerText): MaybePromise<Reply> {
    if (bytes.length > this.maxRequestBytes) return this.oversize(bytes.length);
    return this.handle(decoder.decode(bytes), peer);
  }

  /** Handles one request text (a request or a batch). */
  handle(text: string, peer?: PeerText): MaybePromise<Reply> {
    if (text.length > this.maxRequestBytes) return this.oversize(text.length);
    const d = decodeRequest(text, this.#core.limits);
    if (!d.batch) {
      const e = d.entries[0];
      if (isDecodeError(e)) return this.#decodeFailed(e.code, e.reply);
      this.#countRequest();
      const ctx = peer === undefined ? this.ctx : new RequestScope(this.ctx, peer);
      return this.#counted(this.#dispatch(e, ctx));
    }
    return this.#batch(d.entries, peer);
  }

  /** The error reply for a request over the size limit (`size` bytes, as far as measured). */
  oversize(size: number): string {
    this.#core.counters.oversize.inc();
    this.#countRequest();
    this.#countError();
    const data =
      `request of ${size} bytes exceeds the limit of ${this.maxRequestBytes} bytes (${this.#limitName})`;
    return this.#countReply(errorReply(INVALID_REQUEST, "Invalid Request", data, "null"));
  }

  /** The `-32700` reply for a request the transport's framing found not to be JSON. */
  parseError(): string {
    return this.#decodeFailed(PARSE_ERROR, PARSE_ERROR_REPLY);
  }

  /** Reports what the transport did without the core (see Outcome). */
  report(outcome: Outcome, reply?: string): void {
    switch (outcome) {
      case "refused":
        this.#countRequest();
        this.#countError();
        this.#countReply("");
        return;
      case "dropped":
        this.#countRequest();
        this.#countError();
        return;
      case "undelivered":
      case "replaced":
        if (reply === undefined || carriesResult(reply)) this.#countError();
        return;
    }
  }

  // ------------------------------------------------------------ counting

  #countRequest(): void {
    this.#requests.v++;
    this.#core.counters.requests.v++;
  }

  #countError(): void {
    this.#errors.v++;
    this.#core.counters.errors.v++;
  }

  #countReply<R extends Reply>(r: R): R {
    if (r !== null) {
      this.#replies.v++;
      this.#core.counters.replies.v++;
    }
    return r;
  }

  #counted(r: MaybePromise<Reply>): MaybePromise<Reply> {
    if (r instanceof Promise) return r.then((v) => this.#countReply(v));
    return this.#countReply(r);
  }

  #decodeFailed(code: number, reply: string): string {
    const c = this.#core.counters;
    if (code === PARSE_ERROR) c.parseErrors.inc();
    else c.invalidRequests.inc();
    this.#countRequest();
    this.#countError();
    return this.#countReply(reply);
  }

  // ------------------------------------------------------------ dispatch

  async #batch(entries: Entry[], peer: PeerText | undefined): Promise<Reply> {
    // One context for every member, pinned before the first await: the
    // transport's receive buffer may be reused meanwhile.
    const scope = peer === undefined ? undefined : new RequestScope(this.ctx, peer);
    scope?.pin();
    const ctx = scope ?? this.ctx;
    // Members run one after another, in order: a batch of changes applies in
    // the order the operator wrote it.
    const replies: Reply[] = [];
    for (const e of entries) {
      if (isDecodeError(e)) {
        const c = this.#core.counters;
        if (e.code === PARSE_ERROR) c.parseErrors.inc();
        else c.invalidRequests.inc();
        this.#countRequest();
        this.#countError();
        replies.push(e.reply);
      } else {
        this.#countRequest();
        replies.push(await this.#dispatch(e, ctx));
      }
    }
    return this.#countReply(batchReply(replies));
  }

  /** Runs one decoded request through its command. */
  #dispatch(req: MiRequest, ctx: RequestContext): MaybePromise<Reply> {
    const core = this.#core;
    const cmd = core.registry.get(req.method);
    if (cmd === undefined) return this.#fail(req, METHOD_NOT_FOUND, "Method not found");
    let params: Params;
    try {
      params = matchRecipe(cmd.recipes, req.params, cmd.namedOnly);
    } catch (e) {
      return this.#failed(req, cmd, e);
    }
    const refusal = this.#refusal(cmd, params);
    if (refusal !== undefined) {
      core.counters.refused.inc();
      return this.#fail(req, FORBIDDEN, "Forbidden", refusal);
    }
    cmd.calls.inc();
    if (core.audit !== undefined && isMutating(cmd, params)) core.audit(req, ctx);
    let r: unknown;
    try {
      r = cmd.handler(params, ctx);
    } catch (e) {
      return this.#failed(req, cmd, e);
    }
    if (!(r instanceof Promise)) return this.#succeeded(req, cmd, r);
    if (ctx instanceof RequestScope) ctx.pin();
    const commands = core.commands;
    if (commands.count >= core.limits.maxConcurrent) {
      // The command has started; it finishes, but the caller is told we are overloaded.
      r.catch(() => {});
      core.counters.busy.inc();
      const data =
        `more than ${core.limits.maxConcurrent} commands in progress (mi.max_concurrent)`;
      return this.#fail(req, SERVER_ERROR, "Server error", data);
    }
    commands.begin();
    return r.then(
      (v) => this.#succeeded(req, cmd, v),
      (e) => this.#failed(req, cmd, e),
    ).finally(commands.end);
  }

  #succeeded(req: MiRequest, cmd: Command, result: unknown): Reply {
    if (result === undefined) {
      return this.#failed(
        req,
        cmd,
        new MiError(SERVER_ERROR, "Server error", "Command handler returned null"),
      );
    }
    if (req.idText === undefined) return null;
    let json: string;
    try {
      json = result instanceof EncodedResult ? result.json : JSON.stringify(result);
    } catch (e) {
      return this.#failed(req, cmd, e);
    }
    return resultReply(json, req.idText);
  }

  #failed(req: MiRequest, cmd: Command, e: unknown): Reply {
    cmd.errors.inc();
    if (e instanceof MiError) return this.#fail(req, e.code, e.message, e.data);
    this.#core.counters.internalErrors.inc();
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.#log.error(`command '${cmd.name}' failed: ${detail}`);
    return this.#fail(req, INTERNAL_ERROR, "Internal error");
  }

  /** A JSON-RPC error for a dispatched request; null for notifications. */
  #fail(req: MiRequest, code: number, message: string, data?: string): Reply {
    this.#countError();
    if (req.idText === undefined) return null;
    return miErrorReply(new MiError(code, message, data), req.idText);
  }

  /** Why this listener refuses the command, or undefined. */
  #refusal(cmd: Command, params: Params): string | undefined {
    const where = this.ctx.listener ?? this.ctx.transport;
    if (this.#deny?.(cmd.name)) return `command '${cmd.name}' is denied on ${where}`;
    if (this.#allow && !this.#allow(cmd.name)) {
      return `command '${cmd.name}' is not allowed on ${where}`;
    }
    if (this.#policy.readOnly && isMutating(cmd, params)) {
      return `command '${cmd.name}' changes state; ${where} is read-only`;
    }
    return undefined;
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
