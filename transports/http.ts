// The HTTP transport (OpenSIPS mi_http): `POST /<mi_root>` with a JSON-RPC
// body, on Deno.serve with a hono app so that later routes (/html, /RPC2,
// /metrics) join the same server.
//
// Status codes follow OpenSIPS (MI-PROTOCOL.md §4), each with a complete
// body: 200 for every JSON-RPC reply (errors included), 202 with
// Content-Length 0 for notifications, 405 for GET, 406 for other methods,
// 400 for unknown paths and empty bodies, 415 unless the Content-Type is
// application/json (this also stops browsers' cross-site form posts), 413
// over the body limit, 401 without the bearer token when one is configured.
//
// Speed: hono's middlewares cost a third of the throughput or more
// (DENO-NOTES §3), so the body limit, the Content-Type check and the bearer
// check are done here by hand, and `POST /<mi_root>` itself is dispatched
// before the router. The bearer token is compared in constant time.

import { Hono } from "hono";
import { timingSafeEqual } from "node:crypto";
import { type Config, parseHostPort } from "../config/schema.ts";
import type { Endpoint, MaybePromise, Reply } from "../mi/core.ts";
import type { MiInstance } from "../mi/instance.ts";
import { errorReply, INTERNAL_ERROR, INVALID_REQUEST } from "../mi/jsonrpc.ts";
import type { Task } from "../mi/tasks.ts";
import type { Counter } from "../mi/stats.ts";
import { type Listener, ListenerError, toPolicy, within } from "./listener.ts";
import { errText } from "../sys/log.ts";
import { configToken } from "../config/token.ts";
import { mountWeb } from "../web/mount.ts";

export type HttpConfig = Config["http"];

const JSON_TYPE = { "content-type": "application/json" };
const encoder = new TextEncoder();

function jsonError(status: number, data: string, headers: Record<string, string> = {}): Response {
  const body = errorReply(INVALID_REQUEST, "Invalid Request", data, "null");
  return new Response(body, { status, headers: { ...JSON_TYPE, ...headers } });
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

/** Counts a request refused before the core saw it. */
function refused(ep: Endpoint): void {
  ep.requests.inc();
  ep.errors.inc();
}

function replyResponse(r: Reply): Response {
  if (r === null) return new Response(null, { status: 202, headers: { "content-length": "0" } });
  return new Response(r, { headers: JSON_TYPE });
}

/** The `POST /<mi_root>` handler: checks, body, core, reply. */
export function miHandler(
  ep: Endpoint,
  counters: HttpCounters,
): (req: Request) => Response | Promise<Response> {
  const limit = ep.maxRequestBytes;
  return (req) => {
    const method = req.method;
    if (method !== "POST") {
      counters.badMethod.inc();
      refused(ep);
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
      refused(ep);
      const got = ct === null ? "no Content-Type" : `Content-Type '${ct}'`;
      return jsonError(415, `${got}: send Content-Type: application/json`);
    }
    return readBody(req, limit).then((body) => {
      if (typeof body === "number") {
        return new Response(ep.oversize(body), { status: 413, headers: JSON_TYPE });
      }
      if (body.length === 0) {
        refused(ep);
        return jsonError(400, "the request body is empty");
      }
      const r: MaybePromise<Reply> = ep.handle(body);
      return r instanceof Promise ? r.then(replyResponse) : replyResponse(r);
    });
  };
}

export interface MiAppOptions {
  /** The MI root without slashes (`mi`). */
  root: string;
  handler: (req: Request) => Response | Promise<Response>;
}

/**
 * The hono app of the HTTP listener with the MI route; later routes (/html,
 * /RPC2, /metrics) are added to it before it is served. Unknown paths are
 * 400 as in OpenSIPS, with a body that says where MI is.
 */
export function createMiApp(opts: MiAppOptions): Hono {
  const app = new Hono();
  const h = (c: { req: { raw: Request } }) => opts.handler(c.req.raw);
  app.all(`/${opts.root}`, h);
  app.all(`/${opts.root}/*`, h);
  app.notFound((c) =>
    new Response(
      `Unable to parse URL ${new URL(c.req.url).pathname}: MI JSON-RPC is at POST /${opts.root}\n`,
      { status: 400, headers: { "content-type": "text/plain; charset=utf-8" } },
    )
  );
  app.onError((e) =>
    new Response(errorReply(INTERNAL_ERROR, "Internal error", errText(e), "null"), {
      status: 500,
      headers: JSON_TYPE,
    })
  );
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
  mi: (req: Request) => Response | Promise<Response>,
  auth: ((req: Request) => boolean) | undefined,
  counters: HttpCounters,
): (req: Request) => Response | Promise<Response> {
  const tail = `/${root}`;
  return (req) => {
    if (auth && !auth(req)) {
      counters.authFailures.inc();
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
        return mi(req);
      } catch (e) {
        return new Response(errorReply(INTERNAL_ERROR, "Internal error", errText(e), "null"), {
          status: 500,
          headers: JSON_TYPE,
        });
      }
    }
    return app.fetch(req);
  };
}

export class HttpListener implements Listener {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
  readonly #mi: MiInstance;
  readonly #cfg: HttpConfig;
  #task: Task | undefined;
  #server: Deno.HttpServer | undefined;
  #stopping = false;
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(mi: MiInstance, cfg: HttpConfig) {
    this.#mi = mi;
    this.#cfg = cfg;
    this.name = `http:${cfg.listen}`;
    this.type = `HTTPD ${cfg.listen}`;
    this.optional = cfg.optional;
  }

  start(): Promise<void> {
    if (this.#task) return Promise.resolve();
    const cfg = this.#cfg;
    const hp = parseHostPort(cfg.listen);
    if (!hp) return Promise.reject(new ListenerError(this.name, `bad http.listen '${cfg.listen}'`));
    let token: string;
    try {
      token = configToken(cfg);
    } catch (e) {
      return Promise.reject(new ListenerError(this.name, errText(e)));
    }
    const task = this.#mi.tasks.add(this.type);
    const limit = Math.min(cfg.body_limit, this.#mi.core.limits.maxRequestBytes);
    const ep = this.#mi.core.endpoint({
      transport: "http",
      listener: this.name,
      policy: toPolicy(cfg.commands),
      log: task.log,
      limits: { maxRequestBytes: limit },
      limitName: cfg.body_limit <= this.#mi.core.limits.maxRequestBytes
        ? "http.body_limit"
        : "mi.max_request_bytes",
    });
    const counters = httpCounters(this.#mi);
    const handler = miHandler(ep, counters);
    const app = createMiApp({ root: cfg.mi_root, handler });
    // The HTML page, the host picture, XML-RPC and /metrics: clients of this
    // endpoint (a GET runs through a read-only copy of it).
    const readOnlyEp = this.#mi.core.endpoint({
      ...ep.ctx,
      policy: { ...ep.policy, readOnly: true },
      log: task.log,
      limits: { maxRequestBytes: limit },
      limitName: ep.limitName,
    });
    mountWeb(app, {
      gateway: {
        run: (text, o) => (o.readOnly ? readOnlyEp : ep).handle(text),
        readBody: (req) => readBody(req, limit),
        oversize: (size) => ep.oversize(size),
        refused: () => refused(ep),
      },
      registry: this.#mi.registry,
      htmlRoot: cfg.html_root,
      xmlrpcRoot: cfg.xmlrpc_root,
      metricsPath: cfg.metrics_path,
    });
    const auth = token === "" ? undefined : bearerCheck(token);
    try {
      this.#server = Deno.serve({
        hostname: hp.host,
        port: hp.port,
        onListen: () => {},
        onError: (e) => {
          task.log.error(`HTTP request failed: ${errText(e)}`);
          return new Response(errorReply(INTERNAL_ERROR, "Internal error", undefined, "null"), {
            status: 500,
            headers: JSON_TYPE,
          });
        },
      }, this.#counted(serverHandler(app, cfg.mi_root, handler, auth, counters)));
    } catch (e) {
      this.#mi.tasks.remove(task);
      return Promise.reject(new ListenerError(this.name, `cannot listen: ${errText(e)}`));
    }
    this.#task = task;
    task.log.info(
      `listening on http://${cfg.listen}/${cfg.mi_root}${auth ? " (bearer token required)" : ""}`,
    );
    return Promise.resolve();
  }

  /** Counts requests being handled, so a stop can wait for them; refuses new ones while stopping. */
  #counted(
    inner: (req: Request) => Response | Promise<Response>,
  ): (req: Request) => Response | Promise<Response> {
    return (req) => {
      if (this.#stopping) {
        return new Response(
          errorReply(INTERNAL_ERROR, "Internal error", "sipmi is shutting down", "null"),
          { status: 503, headers: { ...JSON_TYPE, connection: "close" } },
        );
      }
      this.#inFlight++;
      let r: Response | Promise<Response>;
      try {
        r = inner(req);
      } catch (e) {
        this.#done();
        throw e;
      }
      if (r instanceof Promise) return r.finally(this.#done);
      this.#done();
      return r;
    };
  }

  readonly #done = (): void => {
    if (--this.#inFlight === 0 && this.#idle.length > 0) {
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
  };

  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async stop(timeoutMs: number): Promise<void> {
    if (!this.#task || !this.#server) return;
    const deadline = Date.now() + timeoutMs;
    // Deno's shutdown() cuts off request bodies still arriving, so requests
    // already received are finished first; new ones get 503 meanwhile.
    this.#stopping = true;
    await within(this.#whenIdle(), timeoutMs);
    // Then stop accepting; idle keep-alive connections close.
    await within(this.#server.shutdown(), deadline - Date.now());
    this.#stopping = false;
    this.#mi.tasks.remove(this.#task);
    this.#task.log.info(`stopped listening on ${this.name}`);
    this.#task = undefined;
    this.#server = undefined;
  }
}
