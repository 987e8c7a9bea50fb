// One upstream: an MI server of the SIP router, reached with the same client
// as `sipmi mi` (transports/client.ts). It sends one JSON-RPC request at a
// time per call, bounded by the upstream's timeout_ms and max_in_flight, and
// turns what comes back into what sipmi's client is told: the upstream's
// result or error as it came, or an error of sipmi's that names the upstream
// and the cause (docs/upstream.md, "Errors").

import { parseMiAddress, type UpstreamConfig } from "../config/schema.ts";
import { JsonText, MiError, type MiParams } from "../mi/jsonrpc.ts";
import type { Recipe } from "../mi/params.ts";
import type { Counter, StatsRegistry } from "../mi/stats.ts";
import { errText } from "../sys/log.ts";
import {
  callTarget,
  describeTarget,
  type Target,
  TransportError,
  UdpSockets,
} from "../transports/client.ts";
import { type Call, type Dialect, dialectOf, type Kind, mutatingPatterns } from "./dialect.ts";
import { nameListMatcher } from "../sys/pattern.ts";
import { readReply } from "./reply.ts";
import { ensureReplyDir } from "./reply_dir.ts";

/** The upstream did not answer usably (HTTP's 502 Bad Gateway). */
export const BAD_GATEWAY = 502;
/** Too many calls wait for this upstream already (HTTP's 503). */
export const UNAVAILABLE = 503;
/** The upstream did not answer within its timeout_ms (HTTP's 504 Gateway Timeout). */
export const GATEWAY_TIMEOUT = 504;

/** OpenSIPS's FIFO reads a request in one read of at most 4096 bytes. */
const OPENSIPS_FIFO_READ = 4096;

/** The statistics of one upstream, in the `upstream` group as `NAME_what`. */
export interface UpstreamCounters {
  requests: Counter;
  errors: Counter;
  timeouts: Counter;
  errorReplies: Counter;
  replies: Counter;
  latencyUs: Counter;
}

export function upstreamCounters(stats: StatsRegistry, name: string): UpstreamCounters {
  const c = (what: string) => stats.counter("upstream", `${name}_${what}`);
  return {
    requests: c("requests"),
    errors: c("errors"),
    timeouts: c("timeouts"),
    errorReplies: c("error_replies"),
    replies: c("replies"),
    latencyUs: c("latency_us_total"),
  };
}

export class Upstream {
  readonly config: UpstreamConfig;
  /** Its place in the config's `upstream` list, for naming keys in errors. */
  readonly index: number;
  readonly name: string;
  readonly dialect: Dialect;
  readonly target: Target;
  /** `udp:127.0.0.1:8090`, `fifo:/tmp/opensips_fifo`, the URL. */
  readonly where: string;
  /** The private reply directory of a FIFO upstream. */
  readonly replyDir: string | undefined;
  readonly isMutating: (name: string) => boolean;
  /** Whether the config's `commands` lets sipmi relay this command (the upstream's name). */
  readonly relays: (name: string) => boolean;
  readonly counters: UpstreamCounters;
  /** The command names last fetched; undefined until a fetch succeeded. */
  commands: string[] | undefined;
  /** When the list was last fetched successfully, and when last tried (ms since the epoch). */
  fetchedAt = 0;
  triedAt = 0;
  /** Why the last call or fetch failed; undefined after a success. */
  lastError: string | undefined;
  /** The last fetch failure logged, so a retry that fails alike is not logged again. */
  lastLogged: string | undefined;
  /** A warning about the reply directory (the router may not write there). */
  dirWarning: string | undefined;
  #inFlight = 0;
  #seq = 0;
  #dirReady: Promise<void> | undefined;
  readonly #help = new Map<string, Promise<string>>();
  readonly #recipes = new Map<string, Promise<Recipe[]>>();

  constructor(config: UpstreamConfig, index: number, stats: StatsRegistry) {
    this.config = config;
    this.index = index;
    this.name = config.name;
    this.dialect = dialectOf(config.kind as Kind);
    // The schema validated `via`.
    const parsed = parseMiAddress(config.via);
    if ("error" in parsed) throw new Error(`upstream ${config.name}: ${parsed.error}`);
    const a = parsed.address;
    this.replyDir = a.kind === "fifo"
      ? (config.reply_dir || `/tmp/sipmi_relay_${config.name}`).replace(/\/*$/, "/")
      : undefined;
    this.target = a.kind === "fifo"
      ? { ...a, replyDir: this.replyDir!, framing: this.dialect.framing }
      : a.kind === "http"
      ? { ...a, token: "", repliesOnErrorStatus: this.dialect.httpErrorStatus }
      : a.kind === "udp"
      // A socket per call costs more than the rest of the relay's work.
      ? { ...a, sockets: new UdpSockets() }
      : a;
    this.where = describeTarget(this.target);
    const mutating = nameListMatcher(mutatingPatterns(config.mutating, this.dialect));
    this.isMutating = mutating;
    const allow = config.commands.allow.length > 0
      ? nameListMatcher(config.commands.allow)
      : () => true;
    const deny = nameListMatcher(config.commands.deny);
    this.relays = (n) => allow(n) && !deny(n) && !(config.commands.read_only && mutating(n));
    this.counters = upstreamCounters(stats, config.name);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The name sipmi's clients call an upstream command by. */
  localName(name: string): string {
    return this.config.prefix ? `${this.config.prefix}.${name}` : name;
  }

  /**
   * Relays one call. Resolves with the upstream's result as JSON text; rejects
   * with the upstream's own error object, or with an error naming the
   * upstream and why it gave no usable answer.
   */
  async call(method: string, params: MiParams | undefined, idText?: string): Promise<JsonText> {
    const reply = await this.#send({ method, params }, idText);
    if (reply.kind === "result") return new JsonText(reply.json);
    throw new MiError(reply.code, reply.message, reply.data, reply.json);
  }

  /** Fetches the command list; throws an MiError naming the cause. Settles within the timeout. */
  async fetchCommands(): Promise<string[]> {
    this.triedAt = Date.now();
    const result = await this.#result(this.dialect.list);
    if (!Array.isArray(result) || !result.every((n) => typeof n === "string")) {
      throw this.#failure(BAD_GATEWAY, `its command list is not an array of names`);
    }
    this.commands = result;
    this.fetchedAt = Date.now();
    this.#help.clear();
    this.#recipes.clear();
    return result;
  }

  /** The help text of one of its commands (cached until the next fetch). */
  help(name: string): Promise<string> {
    return cached(this.#help, name, async () => {
      const text = this.dialect.helpText(await this.#result(this.dialect.help(name)));
      return text ?? "";
    });
  }

  /** The recipes of one of its commands; [] when the dialect has none (Kamailio). */
  recipes(name: string): Promise<Recipe[]> {
    const call = this.dialect.recipes?.(name);
    if (call === undefined) return Promise.resolve([]);
    return cached(this.#recipes, name, async () => {
      const r = await this.#result(call);
      if (!Array.isArray(r) || !r.every((x) => Array.isArray(x))) {
        throw this.#failure(BAD_GATEWAY, `its recipes of '${name}' are not an array of arrays`);
      }
      return r as Recipe[];
    });
  }

  /** A call made by sipmi itself (list, help): the parsed result, or the MiError. */
  async #result(call: Call): Promise<unknown> {
    const reply = await this.#send({ method: call.method, params: call.params });
    if (reply.kind === "error") {
      throw new MiError(reply.code, reply.message, reply.data, reply.json);
    }
    return JSON.parse(reply.json);
  }

  async #send(
    call: { method: string; params: MiParams | undefined },
    idText?: string,
  ): Promise<
    { kind: "result"; json: string } | {
      kind: "error";
      json: string;
      code: number;
      message: string;
      data?: string;
    }
  > {
    const c = this.counters;
    if (this.#inFlight >= this.config.max_in_flight) {
      throw this.#failure(
        UNAVAILABLE,
        `${this.#inFlight} calls wait for it already (upstream[${this.index}].max_in_flight)`,
      );
    }
    await this.#prepare();
    // The client's id goes upstream as it came; sipmi's own calls and
    // notifications get a number of ours (every call needs its reply).
    const id = idText ?? String(++this.#seq);
    let request = '{"jsonrpc":"2.0","method":' + JSON.stringify(call.method);
    if (call.params !== undefined) request += ',"params":' + JSON.stringify(call.params);
    request += ',"id":' + id + "}";
    c.requests.inc();
    this.#inFlight++;
    const t0 = performance.now();
    let text: string;
    try {
      text = await callTarget(this.target, request, { timeoutMs: this.config.timeout_ms });
    } catch (e) {
      c.errors.inc();
      if (e instanceof TransportError && e.message.startsWith("no reply within")) {
        c.timeouts.inc();
        throw this.#failure(GATEWAY_TIMEOUT, this.#timeoutText(e.message, request));
      }
      throw this.#failure(BAD_GATEWAY, errText(e));
    } finally {
      this.#inFlight--;
    }
    c.latencyUs.inc(Math.round((performance.now() - t0) * 1000));
    c.replies.inc();
    const reply = readReply(text);
    if (reply.kind === "invalid") {
      c.errors.inc();
      throw this.#failure(BAD_GATEWAY, reply.why);
    }
    this.lastError = undefined;
    if (reply.kind === "error") c.errorReplies.inc();
    return reply;
  }

  /** A FIFO upstream's reply directory, made private once (again after a failure). */
  #prepare(): Promise<void> {
    if (this.target.kind !== "fifo") return Promise.resolve();
    const target = this.target;
    this.#dirReady ??= ensureReplyDir(target.replyDir, target.path).then(
      (warning) => {
        this.dirWarning = warning;
      },
      (e) => {
        this.#dirReady = undefined;
        throw this.#failure(BAD_GATEWAY, errText(e));
      },
    );
    return this.#dirReady;
  }

  /** Lets go of what it keeps open (the UDP sockets between calls). */
  close(): void {
    if (this.target.kind === "udp") this.target.sockets?.close();
  }

  /** Checks the reply directory again (a reload, a refresh: the router may have changed). */
  recheckDir(): void {
    this.#dirReady = undefined;
  }

  #timeoutText(message: string, request: string): string {
    const size = new TextEncoder().encode(request).length;
    if (
      this.target.kind === "fifo" && this.config.kind === "opensips" && size > OPENSIPS_FIFO_READ
    ) {
      return `${message} (the request has ${size} bytes; OpenSIPS's FIFO reads at most ${OPENSIPS_FIFO_READ} and does not answer the rest)`;
    }
    return message;
  }

  #failure(code: number, cause: string): MiError {
    const data = `upstream ${this.name} (${this.where}): ${cause}`;
    if (code !== UNAVAILABLE) this.lastError = cause;
    const message = code === GATEWAY_TIMEOUT
      ? "Gateway Timeout"
      : code === UNAVAILABLE
      ? "Service Unavailable"
      : "Bad Gateway";
    return new MiError(code, message, data);
  }
}

/** The cached promise for `key`, made by `make`; a failure is not kept. */
function cached<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (p === undefined) {
    p = make();
    map.set(key, p);
    p.catch(() => map.delete(key));
  }
  return p;
}
