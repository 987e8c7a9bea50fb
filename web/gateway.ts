// How the HTML page, the host picture, XML-RPC and /metrics reach the MI
// core: through the HTTP listener's own MI endpoint, exactly as a request to
// /mi does, so the bearer token, the listener's command policy, its body
// limit and its statistics apply to them too. The listener hands a gateway
// to mountWeb (web/mount.ts); nothing under web/ touches the core otherwise,
// except reading the registry to list modules and commands.

import type { Reply } from "../mi/core.ts";
import type { MiGateway } from "../mi/gateway.ts";
import type { MiParams } from "../mi/jsonrpc.ts";
import { requestText } from "../mi/script.ts";

export type { MiGateway };

export interface MiErrorObject {
  code: number;
  message: string;
  data?: string;
}

export type CallResult =
  | { ok: true; result: unknown }
  | { ok: false; error: MiErrorObject };

/** A client of the MI core over a gateway: one call, the decoded reply. */
export class MiClient {
  readonly gateway: MiGateway;

  constructor(gateway: MiGateway) {
    this.gateway = gateway;
  }

  /** Runs `method` with `params` (any JSON: the core judges it, as it would on /mi). */
  async call(
    method: string,
    params: unknown,
    opts: { readOnly: boolean; conn?: unknown },
  ): Promise<CallResult> {
    const text = requestText({ method, params: params as MiParams | undefined }, 1);
    return decodeReply(await this.gateway.run(text, opts));
  }
}

/** A JSON-RPC reply text as a result or an error object. */
export function decodeReply(reply: Reply): CallResult {
  if (reply === null) {
    return { ok: false, error: { code: -32603, message: "Internal error", data: "no reply" } };
  }
  const r = JSON.parse(reply) as { result?: unknown; error?: MiErrorObject };
  if (r.error !== undefined) return { ok: false, error: r.error };
  return { ok: true, result: r.result };
}
