// The audit trail: one record for every command that changes state, whoever
// sent it — an MI client over any transport, the startup list, a reload by
// signal. The MI core calls the hook once per mutating command it lets run;
// this file turns the request's context into the record's fields. See
// docs/service.md for the format.

import type { Config } from "../config/schema.ts";
import type { AuditHook } from "../mi/core.ts";
import type { MiParams } from "../mi/jsonrpc.ts";
import type { Log } from "../sys/log.ts";

/** Longest params text kept in a record; the rest is cut and its size said. */
export const AUDIT_PARAMS_MAX = 2048;

export function paramsText(params: MiParams | undefined): string {
  if (params === undefined) return "[]";
  const text = JSON.stringify(params);
  if (text.length <= AUDIT_PARAMS_MAX) return text;
  return `${text.slice(0, AUDIT_PARAMS_MAX)}...(${text.length} characters)`;
}

/**
 * Who a listener's requests are authenticated as, when it authenticates.
 * The HTTP transport has one bearer token: a request that reached the core
 * through an HTTP listener with a token configured presented that token.
 */
export function listenerIdentities(config: Config): Map<string, string> {
  const out = new Map<string, string>();
  if (config.http.enabled) {
    const a = config.http.auth;
    const who = a.token_file !== ""
      ? `token:${a.token_file}`
      : a.token !== ""
      ? "token:http.auth.token"
      : undefined;
    if (who) out.set(`http:${config.http.listen}`, who);
  }
  return out;
}

export class Auditor {
  readonly #log: Log;
  #identities: Map<string, string>;

  constructor(log: Log, config: Config) {
    this.#log = log;
    this.#identities = listenerIdentities(config);
  }

  /** After a reload: listeners and their authentication may have changed. */
  configure(config: Config): void {
    this.#identities = listenerIdentities(config);
  }

  /** The MI core's hook. */
  readonly hook: AuditHook = (req, ctx) => {
    const identity = ctx.identity ??
      (ctx.listener === undefined ? undefined : this.#identities.get(ctx.listener));
    this.#log.audit([
      ["transport", ctx.transport],
      ["listener", ctx.listener ?? "-"],
      ["peer", ctx.peer ?? "-"],
      ["identity", identity ?? "-"],
      ["method", req.method],
    ], ["params", paramsText(req.params)]);
  };

  /** A change that did not come through MI (a reload on SIGHUP). */
  record(transport: string, method: string, params?: MiParams): void {
    this.#log.audit([
      ["transport", transport],
      ["listener", "-"],
      ["peer", "-"],
      ["identity", "-"],
      ["method", method],
    ], ["params", paramsText(params)]);
  }
}
