// The HTTP transport (OpenSIPS mi_http): `POST /<mi_root>` with a JSON-RPC
// body, on Deno.serve with a hono app so that later routes (/html, /RPC2,
// /metrics) join the same server.
//
// Status codes follow OpenSIPS (docs/protocol.md, "HTTP"), each with a
// complete body: 200 for every JSON-RPC reply (errors included), 202 with
// Content-Length 0 for notifications, 405 for GET, 406 for other methods,
// 400 for unknown paths and empty bodies, 415 unless the Content-Type is
// application/json (this also stops browsers' cross-site form posts), 413
// over the body limit, 401 without the bearer token when one is configured.
// Every request the server receives is counted, whichever of these it gets.
//
// Speed: `POST /<mi_root>` is one function before any router, reading only
// what the protocol needs (method and path, Content-Type, Content-Length,
// Authorization when a token is set: each a call into the runtime), with
// one promise per request; hono's middlewares would cost a third of the
// throughput (docs/architecture.md, "Deno facts relied on"). The bearer
// token is compared in constant time.
//
// Hostile clients: the connection guard (http_guard.ts) closes idle and
// dribbling connections and keeps their number under `http.max_connections`;
// if the server dies anyway (Deno.serve ends its server at EMFILE on accept,
// with every connection), a new one is started with a backoff, so the
// listener comes back by itself.

import { Hono } from "hono";
import { type Config, parseHostPort } from "../config/schema.ts";
import type { Endpoint, Reply } from "../mi/core.ts";
import { InFlight } from "../mi/in_flight.ts";
import type { MiInstance } from "../mi/instance.ts";
import { errorReply, INTERNAL_ERROR, INVALID_REQUEST } from "../mi/jsonrpc.ts";
import type { Counter, Gauge } from "../mi/stats.ts";
import type { MiGateway } from "../mi/gateway.ts";
import { fdLimit } from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { configToken, sameSecret } from "../config/token.ts";
import { ConnectionGuard, type GuardLimits, type InHandler, peerText } from "./http_guard.ts";
import {
  type Deadline,
  type EndpointSpec,
  ListenerBase,
  type Serving,
  toPolicy,
} from "./listener.ts";

export type HttpConfig = Config["http"];

/** Deno.serve's request handler. */
type ServeHandler = (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const JSON_TYPE = { "content-type": "application/json" };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Descriptors kept free of HTTP connections: the rest of the daemon needs some too. */
const FD_RESERVE_MIN = 64;
/** The first wait before a dead server is started again; doubled up to RESTART_MAX_MS. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 5000;
/** A server that ran this long resets the backoff. */
const RESTART_STABLE_MS = 30000;

function jsonError(status: number, data: string, headers: Record<string, string> = {}): Response {
  const body = errorReply(INVALID_REQUEST, "Invalid Request", data, "null");
  return new Response(body, { status, headers: { ...JSON_TYPE, ...headers } });
}

function internalError(status: number, data?: string, headers: Record<string, string> = {}) {
  return new Response(errorReply(INTERNAL_ERROR, "Internal error", data, "null"), {
    status,
    headers: { ...JSON_TYPE, ...headers },
  });
}

/** Counters of the HTTP listener: requests refused before the core, connections closed. */
export interface HttpCounters {
  badMethod: Counter;
  badContentType: Counter;
  authFailures: Counter;
  idleClosed: Counter;
  headerTimeouts: Counter;
  bodyTimeouts: Counter;
  overLimit: Counter;
  restarts: Counter;
  connections: Gauge;
}

export function httpCounters(mi: MiInstance): HttpCounters {
  const c = (name: string) => mi.stats.counter("mi", name);
  return {
    badMethod: c("http_bad_method"),
    badContentType: c("http_bad_content_type"),
    authFailures: c("http_auth_failures"),
    idleClosed: c("http_idle_closed"),
    headerTimeouts: c("http_header_timeouts"),
    bodyTimeouts: c("http_body_timeouts"),
    overLimit: c("http_connections_dropped"),
    restarts: c("http_restarts"),
    connections: mi.stats.gauge("mi", "http_connections"),
  };
}

function isJsonType(ct: string | null): boolean {
  if (ct === null) return false;
  if (ct === "application/json") return true;
  const semi = ct.indexOf(";");
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase() === "application/json";
}

/**
 * Reads a body up to `limit` bytes for the faces (XML-RPC): the text, or
 * the size seen when it is over the limit (from Content-Length before
 * reading anything, or counted while streaming).
 */
function readBody(req: Request, limit: number): Promise<string | number> {
  const cl = req.headers.get("content-length");
  if (cl === null) return readStreamed(req, limit);
  const n = Number(cl);
  return n > limit ? Promise.resolve(n) : req.text();
}

/** A chunked body up to `limit` bytes: its text, or the size seen once over the limit. */
async function readStreamed(req: Request, limit: number): Promise<string | number> {
  if (req.body === null) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return total;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return decoder.decode(all);
}

function replyResponse(r: Reply): Response {
  if (r === null) return new Response(null, { status: 202, headers: { "content-length": "0" } });
  return new Response(r, { headers: JSON_TYPE });
}

/** What the MI handler needs of its listener. */
interface MiRoute {
  ep: Endpoint;
  counters: HttpCounters;
  /** Requests being answered, for the graceful stop. */
  requests: InFlight;
  /** Requests in the handler, for the connection guard. */
  active: Set<InHandler>;
}

/** The `POST /<mi_root>` handler: checks, body, core, reply. */
export function miHandler(route: MiRoute): ServeHandler {
  const { ep, counters, requests, active } = route;
  const limit = ep.maxRequestBytes;

  /** Reads the body, runs it, answers; the request is in `active` meanwhile. */
  const answer = async (
    req: Request,
    info: Deno.ServeHandlerInfo | undefined,
    length: string | null,
  ): Promise<Response> => {
    const rec: InHandler = { info, reading: true, gone: false };
    active.add(rec);
    requests.begin();
    try {
      let body: string | number;
      try {
        body = length !== null ? await req.text() : await readStreamed(req, limit);
      } catch (e) {
        // The client went away while sending its body (or the guard closed it).
        ep.report("dropped");
        return jsonError(400, `the request body could not be read: ${errText(e)}`);
      }
      rec.reading = false;
      if (typeof body === "number") {
        return new Response(ep.oversize(body), { status: 413, headers: JSON_TYPE });
      }
      if (body.length === 0) {
        ep.report("refused");
        return jsonError(400, "the request body is empty");
      }
      const peer = info && (() => peerText(info.remoteAddr as Deno.NetAddr));
      const r = ep.handle(body, peer, rec);
      return replyResponse(typeof r === "string" || r === null ? r : await r);
    } finally {
      active.delete(rec);
      requests.end();
    }
  };

  return (req, info) => {
    const method = req.method;
    if (method !== "POST") {
      counters.badMethod.inc();
      ep.report("refused");
      if (method === "GET" || method === "HEAD") {
        return jsonError(
          405,
          `method ${method} is not allowed; send POST with Content-Type: application/json`,
          { allow: "POST" },
        );
      }
      return jsonError(406, `unsupported HTTP method ${method}; send POST`, { allow: "POST" });
    }
    const headers = req.headers;
    const ct = headers.get("content-type");
    if (!isJsonType(ct)) {
      counters.badContentType.inc();
      ep.report("refused");
      const got = ct === null ? "no Content-Type" : `Content-Type '${ct}'`;
      return jsonError(415, `${got}: send Content-Type: application/json`);
    }
    // Over the limit by Content-Length: refused before a byte of it is read.
    const length = headers.get("content-length");
    if (length !== null) {
      const n = Number(length);
      if (n > limit) return new Response(ep.oversize(n), { status: 413, headers: JSON_TYPE });
    }
    return answer(req, info, length);
  };
}

export interface MiAppOptions {
  /** The MI root without slashes (`mi`). */
  root: string;
  handler: ServeHandler;
  /** Called for a request no route takes (answered 400). */
  unknown?: () => void;
}

/**
 * The hono app of the HTTP listener with the MI route; later routes (/html,
 * /RPC2, /metrics) are added to it before it is served. Unknown paths are
 * 400 as in OpenSIPS, with a body that says where MI is.
 */
export function createMiApp(opts: MiAppOptions): Hono {
  const app = new Hono();
  // The server passes its ServeHandlerInfo as hono's env (see serverHandler).
  const h = (c: { req: { raw: Request }; env: unknown }) =>
    opts.handler(c.req.raw, c.env as Deno.ServeHandlerInfo | undefined);
  app.all(`/${opts.root}`, h);
  app.all(`/${opts.root}/*`, h);
  app.notFound((c) => {
    opts.unknown?.();
    return new Response(
      `Unable to parse URL ${new URL(c.req.url).pathname}: MI JSON-RPC is at POST /${opts.root}\n`,
      { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  });
  app.onError((e) => internalError(500, errText(e)));
  return app;
}

/**
 * A constant-time check of `Authorization: Bearer <token>`, or of HTTP Basic
 * with the token as the password (any user name): a browser cannot send a
 * bearer token, but it asks for a Basic login (docs/web.md, "Logging in from a browser").
 */
export function bearerCheck(token: string): (req: Request) => boolean {
  const want = encoder.encode(`Bearer ${token}`);
  const wantPassword = encoder.encode(token);
  return (req) => {
    const header = req.headers.get("authorization") ?? "";
    if (!header.startsWith("Basic ")) return sameSecret(encoder.encode(header), want);
    let login: string;
    try {
      login = atob(header.slice(6).trim());
    } catch {
      return false;
    }
    return sameSecret(encoder.encode(login.slice(login.indexOf(":") + 1)), wantPassword);
  };
}

export interface ServerOptions {
  app: Hono;
  root: string;
  mi: ServeHandler;
  auth: ((req: Request) => boolean) | undefined;
  counters: HttpCounters;
  ep: Endpoint;
  /** True while the listener stops: new requests get 503. */
  stopping: () => boolean;
}

/**
 * The server's request handler: 503 while stopping, authentication for
 * every route, then the MI route without the router (the hot path), then
 * the hono app.
 */
export function serverHandler(o: ServerOptions): ServeHandler {
  const { app, mi, auth, counters, ep, stopping } = o;
  const tail = `/${o.root}`;
  return (req, info) => {
    if (stopping()) {
      ep.report("refused");
      return internalError(503, "sipmi is shutting down", { connection: "close" });
    }
    if (auth !== undefined && !auth(req)) {
      counters.authFailures.inc();
      ep.report("refused");
      // A browser asking for a page is offered a Basic login (the token as password).
      const browser = req.headers.get("accept")?.includes("text/html") ?? false;
      return jsonError(401, "missing or wrong bearer token: send Authorization: Bearer <token>", {
        "www-authenticate": browser
          ? 'Basic realm="sipmi", Bearer realm="sipmi"'
          : 'Bearer realm="sipmi"',
      });
    }
    const url = req.url;
    // The path starts at the first '/' after "scheme://".
    const p = url.indexOf("/", url.indexOf("//") + 2);
    if (url.length - p === tail.length && url.endsWith(tail)) {
      try {
        return mi(req, info);
      } catch (e) {
        return internalError(500, errText(e));
      }
    }
    return app.fetch(req, info);
  };
}

/** Mounts routes that are clients of the listener's endpoint on its hono app. */
export type HttpFaces = (app: Hono, gateway: MiGateway) => void;

/**
 * The connection maximum that fits the open-file limit: a quarter of the
 * descriptors (at least FD_RESERVE_MIN) stay for the rest of the daemon.
 */
export function fittingMaxConnections(wanted: number, softLimit: number): number {
  const reserve = Math.max(FD_RESERVE_MIN, Math.ceil(softLimit / 4));
  return Math.max(1, Math.min(wanted, softLimit - reserve));
}

export class HttpListener extends ListenerBase {
  readonly #cfg: HttpConfig;
  #server: Deno.HttpServer | undefined;
  #serve: (() => Deno.HttpServer) | undefined;
  #guard: ConnectionGuard | undefined;
  #stopping = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #backoffMs = RESTART_MIN_MS;
  /** Requests being answered: a stop waits for them before it shuts the server down. */
  readonly #requests = new InFlight();

  /** The routes beyond /mi (the daemon passes web/'s faces); each gets a gateway to the endpoint. */
  readonly #faces: HttpFaces | undefined;

  constructor(mi: MiInstance, cfg: HttpConfig, faces?: HttpFaces) {
    super(mi, `http:${cfg.listen}`, `HTTPD ${cfg.listen}`, cfg.optional);
    this.#cfg = cfg;
    this.#faces = faces;
  }

  protected endpointSpec(): EndpointSpec {
    const cfg = this.#cfg, coreMax = this.mi.core.limits.maxRequestBytes;
    return {
      transport: "http",
      policy: cfg.commands,
      maxRequestBytes: Math.min(cfg.body_limit, coreMax),
      limitName: cfg.body_limit <= coreMax ? "http.body_limit" : "mi.max_request_bytes",
    };
  }

  protected open(s: Serving): string {
    const cfg = this.#cfg;
    const hp = parseHostPort(cfg.listen);
    if (!hp) throw new Error(`bad http.listen '${cfg.listen}'`);
    const token = configToken(cfg);
    const ep = s.ep;
    const counters = httpCounters(this.mi);
    const guard = new ConnectionGuard(
      hp.port,
      this.#limits(s),
      counters,
      (k, m) => s.warn.warn(k, m),
    );
    const handler = miHandler({ ep, counters, requests: this.#requests, active: guard.active });
    const app = createMiApp({ root: cfg.mi_root, handler, unknown: () => ep.report("refused") });
    // The HTML page, the host picture, XML-RPC and /metrics: clients of this
    // endpoint (a GET runs through a read-only copy of it, counted as http too).
    const spec = this.endpointSpec();
    const readOnlyEp = this.mi.core.endpoint({
      ...ep.ctx,
      policy: { ...toPolicy(spec.policy), readOnly: true },
      log: s.task.log,
      limits: { maxRequestBytes: ep.maxRequestBytes },
      limitName: spec.limitName,
    });
    this.#faces?.(app, {
      run: (text, o) =>
        (o.readOnly ? readOnlyEp : ep).handle(
          text,
          o.conn
            ? () => peerText((o.conn as Deno.ServeHandlerInfo).remoteAddr as Deno.NetAddr)
            : undefined,
        ),
      readBody: (req) => readBody(req, ep.maxRequestBytes),
      oversize: (size) => ep.oversize(size),
      refused: () => ep.report("refused"),
    });
    const auth = token === "" ? undefined : bearerCheck(token);
    const fetch = serverHandler({
      app,
      root: cfg.mi_root,
      mi: handler,
      auth,
      counters,
      ep,
      stopping: () => this.#stopping,
    });
    const serve = () =>
      Deno.serve({
        hostname: hp.host,
        port: hp.port,
        onListen: () => {},
        onError: (e) => {
          s.warn.error("error", `HTTP request failed: ${errText(e)}`);
          return internalError(500);
        },
      }, fetch);
    try {
      this.#server = serve();
    } catch (e) {
      throw new Error(`cannot listen: ${errText(e)}`);
    }
    this.#serve = serve;
    this.#stopping = false;
    this.#backoffMs = RESTART_MIN_MS;
    this.#guard = guard;
    guard.start();
    this.#watch(this.#server, s, counters);
    return `http://${cfg.listen}/${cfg.mi_root}${auth ? " (bearer token required)" : ""}`;
  }

  /** The guard's limits: the configured ones, the maximum lowered to fit the open-file limit. */
  #limits(s: Serving): GuardLimits {
    const cfg = this.#cfg;
    let max = cfg.max_connections;
    try {
      const soft = fdLimit().soft;
      max = fittingMaxConnections(cfg.max_connections, soft);
      if (max < cfg.max_connections) {
        s.task.log.warn(
          `http.max_connections ${cfg.max_connections} lowered to ${max}: the open-file limit is ${soft}`,
        );
      }
    } catch {
      // No limit to read: keep the configured maximum.
    }
    return {
      maxConnections: max,
      headerTimeoutMs: cfg.header_timeout_ms,
      bodyTimeoutMs: cfg.body_timeout_ms,
      idleTimeoutMs: cfg.idle_timeout_ms,
    };
  }

  /**
   * A server that ends while the listener is not stopping died (EMFILE on
   * accept ends Deno's server and drops its connections): start another
   * after a backoff, until one stays up.
   */
  #watch(server: Deno.HttpServer, s: Serving, counters: HttpCounters): void {
    const started = performance.now();
    const died = (why: string) => {
      if (this.#stopping || this.#server !== server) return;
      this.#server = undefined;
      if (performance.now() - started > RESTART_STABLE_MS) this.#backoffMs = RESTART_MIN_MS;
      counters.restarts.inc();
      s.warn.warn(
        "died",
        `the HTTP server stopped (${why}); starting it again in ${this.#backoffMs} ms`,
      );
      this.#restartLater(s, counters);
    };
    server.finished.then(() => died("it ended"), (e) => died(errText(e)));
  }

  #restartLater(s: Serving, counters: HttpCounters): void {
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, RESTART_MAX_MS);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping || this.#serve === undefined) return;
      try {
        this.#server = this.#serve();
      } catch (e) {
        s.warn.warn("restart", `the HTTP server could not start again: ${errText(e)}`);
        return this.#restartLater(s, counters);
      }
      s.task.log.notice(`listening again on http://${this.#cfg.listen}/${this.#cfg.mi_root}`);
      this.#watch(this.#server, s, counters);
    }, wait);
  }

  protected async close(d: Deadline, _s: Serving): Promise<void> {
    this.#guard?.stop();
    clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    const server = this.#server;
    this.#serve = undefined;
    if (!server) {
      this.#guard = undefined;
      return;
    }
    // Deno's shutdown() cuts off request bodies still arriving, so requests
    // already received are finished first; new ones get 503 meanwhile.
    this.#stopping = true;
    await this.#requests.idle(d.left);
    // Then stop accepting; idle keep-alive connections close.
    await d.wait(server.shutdown());
    this.#stopping = false;
    this.#server = undefined;
    this.#guard = undefined;
    httpCounters(this.mi).connections.set(0);
  }
}
