// Where a CLI call goes when it is not run in-process: a daemon's FIFO, UDP
// or unix datagram socket, or HTTP endpoint. `sipmi mi --fifo/--udp/...`
// and `sipmi tune --via ...` both name targets here, so the two parse and
// reach a daemon the same way.

import type { Config } from "../config/schema.ts";
import { parseDatagramAddress, parseHostPort } from "../config/schema.ts";
import { type CallOptions, fifoCall, httpCall, udpCall, unixCall } from "../transports/client.ts";
import { configToken } from "../config/token.ts";
import { UsageError } from "./common.ts";

export type Target =
  | { kind: "fifo"; path: string; replyDir: string }
  | { kind: "udp"; host: string; port: number }
  | { kind: "unix"; path: string }
  | { kind: "http"; url: string; token: string };

export interface TargetOptions {
  /** Where the reply FIFO goes (the daemon's reply_dir); default fifo.reply_dir. */
  replyDir?: string;
  /** Bearer token for HTTP; default http.auth of the config. */
  token?: string;
}

export const TARGET_FORMS = "fifo:PATH, udp:HOST:PORT, unix:PATH or http://HOST:PORT/mi";

/** The config's token, or "" when its token file is not readable by this user. */
function configTokenOrNone(config: Config): string {
  try {
    return configToken(config.http);
  } catch {
    return "";
  }
}

/** Parses `fifo:PATH`, `udp:HOST:PORT`, `unix:PATH`, `http://URL` (also `http:URL`). */
export function parseTarget(spec: string, config: Config, opts: TargetOptions = {}): Target {
  if (spec.startsWith("fifo:")) {
    const path = spec.slice(5);
    if (!path.startsWith("/")) {
      throw new UsageError(`a FIFO must be an absolute path, not '${path}'`);
    }
    return { kind: "fifo", path, replyDir: opts.replyDir ?? config.fifo.reply_dir };
  }
  if (spec.startsWith("udp:")) {
    const hp = parseHostPort(spec.slice(4));
    if (!hp) throw new UsageError(`UDP wants HOST:PORT or [IPv6]:PORT, not '${spec.slice(4)}'`);
    return { kind: "udp", ...hp };
  }
  if (spec.startsWith("unix:")) {
    const a = parseDatagramAddress(spec);
    if (!a || a.kind !== "unix") {
      throw new UsageError(`a unix socket must be an absolute path, not '${spec.slice(5)}'`);
    }
    return a;
  }
  if (/^https?:/.test(spec)) {
    const text = /^https?:\/\//.test(spec) ? spec : spec.replace(/^http:/, "");
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new UsageError(`wants a URL such as http://127.0.0.1:8899/mi, not '${spec}'`);
    }
    if (url.pathname === "/") url.pathname = `/${config.http.mi_root}`;
    return { kind: "http", url: url.href, token: opts.token ?? configTokenOrNone(config) };
  }
  throw new UsageError(`a target must be ${TARGET_FORMS}, not '${spec}'`);
}

/** The local daemon, by the first transport its config enables. */
export function defaultTarget(config: Config, opts: TargetOptions = {}): Target {
  if (config.fifo.enabled) {
    return {
      kind: "fifo",
      path: config.fifo.path,
      replyDir: opts.replyDir ?? config.fifo.reply_dir,
    };
  }
  const dg = config.datagram.enabled ? config.datagram.listen[0] : undefined;
  const a = dg && parseDatagramAddress(dg.address);
  if (a) return a.kind === "udp" ? { kind: "udp", host: a.host, port: a.port } : a;
  if (config.http.enabled) {
    const hp = parseHostPort(config.http.listen)!;
    const host = hp.host.includes(":") ? `[${hp.host}]` : hp.host;
    return {
      kind: "http",
      url: `http://${host}:${hp.port}/${config.http.mi_root}`,
      token: opts.token ?? configTokenOrNone(config),
    };
  }
  throw new UsageError("the config enables no transport; name one (fifo, udp, unix or http)");
}

/** Sends one request text; resolves with the reply text or throws TransportError. */
export function callTarget(t: Target, request: string, opts: CallOptions): Promise<string> {
  switch (t.kind) {
    case "fifo":
      return fifoCall(t.path, request, { ...opts, replyDir: t.replyDir });
    case "udp":
      return udpCall(t.host, t.port, request, opts);
    case "unix":
      return unixCall(t.path, request, opts);
    case "http":
      return httpCall(t.url, request, { ...opts, token: t.token });
  }
}

export function describeTarget(t: Target): string {
  switch (t.kind) {
    case "fifo":
      return `fifo:${t.path}`;
    case "udp":
      return `udp:${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port}`;
    case "unix":
      return `unix:${t.path}`;
    case "http":
      return t.url;
  }
}
