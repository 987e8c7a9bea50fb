// Where a CLI call goes when it is not run in-process: a daemon's FIFO, UDP
// or unix datagram socket, or HTTP endpoint. `sipmi mi --fifo/--udp/...`
// and `sipmi tune --via ...` both name targets here, so the two parse and
// reach a daemon the same way.

import type { Config } from "../config/schema.ts";
import {
  MI_ADDRESS_FORMS,
  parseDatagramAddress,
  parseHostPort,
  parseMiAddress,
} from "../config/schema.ts";
import type { Target } from "../transports/client.ts";
import { configToken } from "../config/token.ts";
import { UsageError } from "./common.ts";

export type { Target } from "../transports/client.ts";
export { callTarget, describeTarget } from "../transports/client.ts";

export interface TargetOptions {
  /** Where the reply FIFO goes (the daemon's reply_dir); default fifo.reply_dir. */
  replyDir?: string;
  /** Bearer token for HTTP; default http.auth of the config. */
  token?: string;
}

export const TARGET_FORMS = MI_ADDRESS_FORMS;

/** The config's token, or "" when its token file is not readable by this user. */
function configTokenOrNone(config: Config): string {
  try {
    return configToken(config.http);
  } catch {
    return "";
  }
}

/**
 * Parses `fifo:PATH`, `udp:HOST:PORT`, `unix:PATH`, `http://URL` (also
 * `http:URL`); a URL without a path gets sipmi's `http.mi_root`.
 */
export function parseTarget(spec: string, config: Config, opts: TargetOptions = {}): Target {
  const parsed = parseMiAddress(spec);
  if ("error" in parsed) throw new UsageError(parsed.error);
  const a = parsed.address;
  switch (a.kind) {
    case "fifo":
      return { ...a, replyDir: opts.replyDir ?? config.fifo.reply_dir };
    case "udp":
    case "unix":
      return a;
    case "http": {
      const url = new URL(a.url);
      if (url.pathname === "/") url.pathname = `/${config.http.mi_root}`;
      return { kind: "http", url: url.href, token: opts.token ?? configTokenOrNone(config) };
    }
  }
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
