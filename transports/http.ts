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
// Speed: hono's middlewares cost a third of the throughput or more
// (docs/architecture.md, "Deno facts relied on"), so the body limit, the
// Content-Type check and the bearer check are done here by hand, and
// `POST /<mi_root>` itself is dispatched before the router. The bearer token
// is compared in constant time.

import { Hono } from "hono";
import { timingSafeEqual } from "node:crypto";
import { type Config, parseHostPort } from "../config/schema.ts";
import type { Endpoint, MaybePromise, Reply } from "../mi/core.ts";
import { InFlight } from "../mi/in_flight.ts";
import type { MiInstance } from "../mi/instance.ts";
import { errorReply, INTERNAL_ERROR, INVALID_REQUEST } from "../mi/jsonrpc.ts";
import type { Counter } from "../mi/stats.ts";
import {
  type Deadline,
  type EndpointSpec,
  ListenerBase,
  type Serving,
  toPolicy,
} from "./listener.ts";
import { errText } from "../sys/log.ts";
import { configToken } from "../config/token.ts";
import type { MiGateway } from "../mi/gateway.ts";

export type HttpConfig = Config["http"];

/** Deno.serve's request handler. */
type ServeHandler = (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const JSON_TYPE = { "content-type": "application/json" };
const encoder = new TextEncoder();

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

/** Counters of requests refused before they reach the MI core. */
export interface HttpCounters {
  badMethod: Counter;
  badContentType: Counter;
  authFailures: Counter;
}

export function httpCounters(mi: MiInstance): HttpCounters {
  return {
    badMethod: mi.stats.counter("mi", "http_bad_method"),
    badContentType: mi.stats.counter("mi", "http_bad_content_type"),
    authFailures: mi.stats.counter("mi", "http_auth_failures"),
  };
}

function isJsonType(ct: string | null): boolean {
  if (ct === null) return false;
  if (ct === "application/json") return true;
  const semi = ct.indexOf(";");
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase() === "application/json";
}

/** `127.0.0.1:40312`, `[::1]:40312`: the client's address, for RequestContext.peer. */
function remoteText(info: Deno.ServeHandlerInfo): string {
  const a = info.remoteAddr as Deno.NetAddr;
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/**
 * Reads the body up to `limit` bytes: the text, or the size seen when it is
 * over the limit (from Content-Length before reading anything, or counted
 * while streaming a chunked body).
 */
async function readBody(req: Request, limit: number): Promise<string | number> {
  const cl = req.headers.get("content-length");
  if (cl !== null) {
    const n = Number(cl);
    if (n > limit) return n;
    return await req.text();
  }
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
  return new TextDecoder().decode(all);
}

function replyResponse(r: Reply): Response {
  if (r === null) return new Response(null, { status: 202, headers: { "content-length": "0" } });
  return new Response(r, { headers: JSON_TYPE });
}

/** The `POST /<mi_root>` handler: checks, body, core, reply. */
export function miHandler(ep: Endpoint, counters: HttpCounters): ServeHandler {
  const limit = ep.maxRequestBytes;
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
    const ct = req.headers.get("content-type");
    if (!isJsonType(ct)) {
      counters.badContentType.inc();
      ep.report("refused");
      const got = ct === null ? "no Content-Type" : `Content-Type '${ct}'`;
      return jsonError(415, `${got}: send Content-Type: application/json`);
    }
    return readBody(req, limit).then((body) => {
      if (typeof body === "number") {
        return new Response(ep.oversize(body), { status: 413, headers: JSON_TYPE });
      }
      if (body.length === 0) {
        ep.report("refused");
        return jsonError(400, "the request body is empty");
      }
      const r: MaybePromise<Reply> = ep.handle(body, info && (() => remoteText(info)));
      return r instanceof Promise ? r.then(replyResponse) : replyResponse(r);
    }, (e) => {
      // The client went away while sending its body.
      ep.report("dropped");
      return jsonError(400, `the request body could not be read: ${errText(e)}`);
    });
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
  const same = (got: Uint8Array, w: Uint8Array) =>
    // Equal lengths for timingSafeEqual; a wrong length still costs one comparison.
    got.length === w.length ? timingSafeEqual(got, w) : timingSafeEqual(w, w) && false;
  return (req) => {
    const header = req.headers.get("authorization") ?? "";
    if (!header.startsWith("Basic ")) return same(encoder.encode(header), want);
    let login: string;
    try {
      login = atob(header.slice(6).trim());
    } catch {
      return false;
    }
    return same(encoder.encode(login.slice(login.indexOf(":") + 1)), wantPassword);
  };
}

/**
 * The server's request handler: authentication for every route, then the MI
 * route without the router (the hot path), then the hono app.
 */
export function serverHandler(
  app: Hono,
  root: string,
  mi: ServeHandler,
  auth: ((req: Request) => boolean) | undefined,
  counters: HttpCounters,
  ep: Endpoint,
): ServeHandler {
  const tail = `/${root}`;
  return (req, info) => {
    if (auth && !auth(req)) {
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

export class HttpListener extends ListenerBase {
  readonly #cfg: HttpConfig;
  #server: Deno.HttpServer | undefined;
  #stopping = false;
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
    const handler = miHandler(ep, counters);
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
          o.conn ? () => remoteText(o.conn as Deno.ServeHandlerInfo) : undefined,
        ),
      readBody: (req) => readBody(req, ep.maxRequestBytes),
      oversize: (size) => ep.oversize(size),
      refused: () => ep.report("refused"),
    });
    const auth = token === "" ? undefined : bearerCheck(token);
    try {
      this.#server = Deno.serve({
        hostname: hp.host,
        port: hp.port,
        onListen: () => {},
        onError: (e) => {
          s.task.log.error(`HTTP request failed: ${errText(e)}`);
          return internalError(500);
        },
      }, this.#counted(ep, serverHandler(app, cfg.mi_root, handler, auth, counters, ep)));
    } catch (e) {
      throw new Error(`cannot listen: ${errText(e)}`);
    }
    this.#stopping = false;
    return `http://${cfg.listen}/${cfg.mi_root}${auth ? " (bearer token required)" : ""}`;
  }

  /** Counts requests being handled, so a stop can wait for them; refuses new ones while stopping. */
  #counted(ep: Endpoint, inner: ServeHandler): ServeHandler {
    const requests = this.#requests;
    return (req, info) => {
      if (this.#stopping) {
        ep.report("refused");
        return internalError(503, "sipmi is shutting down", { connection: "close" });
      }
      requests.begin();
      let r: Response | Promise<Response>;
      try {
        r = inner(req, info);
      } catch (e) {
        requests.end();
        throw e;
      }
      if (r instanceof Promise) return r.finally(requests.end);
      requests.end();
      return r;
    };
  }

  protected async close(d: Deadline, _s: Serving): Promise<void> {
    const server = this.#server;
    if (!server) return;
    // Deno's shutdown() cuts off request bodies still arriving, so requests
    // already received are finished first; new ones get 503 meanwhile.
    this.#stopping = true;
    await this.#requests.idle(d.left);
    // Then stop accepting; idle keep-alive connections close.
    await d.wait(server.shutdown());
    this.#stopping = false;
    this.#server = undefined;
  }
}
