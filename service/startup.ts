// The boot profile: the config's `startup` list of MI calls, run through the
// same core as every client once the listeners are up and before systemd
// hears READY=1 (IRQ affinity does not survive a reboot, so the host
// profile is applied here). Every call runs and every result is logged;
// what a failure means is the config's `startup_failure`.

import type { Endpoint } from "../mi/core.ts";
import { type MiCall, runCall } from "../mi/script.ts";
import type { Logger } from "../sys/log.ts";

export interface StartupResult {
  method: string;
  ok: boolean;
  /** The result on success. */
  result?: unknown;
  /** `CODE: message (data)` on failure. */
  error?: string;
}

interface ReplyShape {
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

function errorText(e: NonNullable<ReplyShape["error"]>): string {
  const data = e.data === undefined
    ? ""
    : ` (${typeof e.data === "string" ? e.data : JSON.stringify(e.data)})`;
  return `${e.code} ${e.message}${data}`;
}

/**
 * Runs the calls in order. With `stopAtFailure`, the calls after a failed
 * one are not run (the daemon is about to exit).
 */
export async function runStartup(
  ep: Endpoint,
  calls: readonly MiCall[],
  log: Logger,
  stopAtFailure: boolean,
): Promise<StartupResult[]> {
  const out: StartupResult[] = [];
  for (const [i, call] of calls.entries()) {
    const reply = JSON.parse(await runCall(ep, call, i + 1)) as ReplyShape;
    if (reply.error !== undefined) {
      const error = errorText(reply.error);
      log.error(`startup call ${i + 1} ${call.method} failed: ${error}`);
      out.push({ method: call.method, ok: false, error });
      if (stopAtFailure) break;
    } else {
      log.info(`startup call ${i + 1} ${call.method}: ${JSON.stringify(reply.result)}`);
      out.push({ method: call.method, ok: true, result: reply.result });
    }
  }
  return out;
}

/** One phrase for STATUS= and `service status`. */
export function startupSummary(configured: number, results: readonly StartupResult[]): string {
  if (configured === 0) return "no startup calls";
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return `startup: ${results.length} of ${configured} calls ok`;
  const first = failed[0];
  return `startup FAILED: ${first.method}: ${first.error}` +
    (failed.length > 1 ? ` (and ${failed.length - 1} more)` : "");
}
