// Runs MI calls in-process, through the same core as every transport (the
// OpenSIPS mi_script idea): the startup list, `sipmi run FILE`, and
// `sipmi mi --local`.

import type { Endpoint } from "./core.ts";
import type { MiParams } from "./jsonrpc.ts";

export interface MiCall {
  method: string;
  params?: MiParams;
}

/** The request text for one call; ids count from 1 so replies can be matched. */
export function requestText(call: MiCall, id: number): string {
  const req: Record<string, unknown> = { jsonrpc: "2.0", method: call.method };
  if (call.params !== undefined) req.params = call.params;
  req.id = id;
  return JSON.stringify(req);
}

/** Runs one call and returns its reply text. */
export async function runCall(ep: Endpoint, call: MiCall, id = 1): Promise<string> {
  const reply = await ep.handle(requestText(call, id));
  // Every call carries an id, so the core always answers.
  return reply ?? "";
}
