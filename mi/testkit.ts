// Test support for the MI core: an instance whose log lines are captured,
// and a one-call helper. Used by unit tests only.

import { createMi, type MiInstance, type MiOptions } from "./instance.ts";
import type { Endpoint, EndpointOptions } from "./core.ts";
import { Log } from "../sys/log.ts";
import type { MiModule } from "./registry.ts";

export interface TestMi extends MiInstance {
  ep: Endpoint;
  lines: string[];
  /** Handles request text; awaits async replies. */
  send(text: string): Promise<string | null>;
}

export function testMi(
  opts: MiOptions & { extra?: MiModule[]; endpoint?: Partial<EndpointOptions> } = {},
): TestMi {
  const lines: string[] = [];
  const log = new Log(opts.logLevel ?? 3, { journal: false, sink: (l) => lines.push(l) });
  const mi = createMi({ ...opts, log, modules: opts.extra ? () => opts.extra! : opts.modules });
  const ep = mi.core.endpoint({ transport: "test", ...opts.endpoint });
  return { ...mi, ep, lines, send: async (text) => await ep.handle(text) };
}
