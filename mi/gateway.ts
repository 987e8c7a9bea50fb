// How a face of a listener that is itself a client of the MI core (the HTML
// page, XML-RPC and /metrics on the HTTP listener) reaches that listener's
// endpoint: the transport builds the gateway, the face only uses it, and
// neither knows the other.

import type { MaybePromise, Reply } from "./core.ts";

export interface MiGateway {
  /**
   * Runs one JSON-RPC request text through the listener's MI endpoint.
   * `readOnly` runs it through a read-only copy of that endpoint (same
   * policy plus read_only): a GET must never change the host. `conn` is the
   * server's per-request information (the peer), when the listener passes it.
   */
  run(text: string, opts: { readOnly: boolean; conn?: unknown }): MaybePromise<Reply>;
  /** The body up to the listener's limit, or its size when it is over the limit. */
  readBody(req: Request): Promise<string | number>;
  /** Counts a request over the body limit; its JSON-RPC error text names the limit. */
  oversize(size: number): string;
  /** Counts a request refused before the MI core saw it (bad method, type, form token). */
  refused(): void;
}
