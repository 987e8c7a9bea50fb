// The relay's own MI commands: `upstream_list` (what each upstream is, how
// many of its commands are relayed, whether it answers) and
// `upstream_refresh` (fetch the command lists now, e.g. after the router
// loaded other modules).

import { MiError, NOT_FOUND } from "../mi/jsonrpc.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { MiModule } from "../mi/registry.ts";
import type { UpstreamConfig } from "../config/schema.ts";
import { Relay } from "./relay.ts";

/**
 * The upstream relay of an MI instance, its module registered and the
 * upstreams configured but not fetched: the daemon calls start() and
 * stop(); in-process runs learn an upstream's commands at first use.
 */
export function installRelay(mi: MiInstance, upstreams: readonly UpstreamConfig[]): Relay {
  const relay = new Relay(mi.registry, mi.stats, mi.attendant.log);
  mi.registry.register(upstreamModule(relay));
  relay.configure(upstreams);
  return relay;
}

export function upstreamModule(relay: Relay): MiModule {
  return {
    name: "upstream",
    commands: [
      {
        name: "upstream_list",
        help: "lists the SIP router's MI servers that sipmi relays to, and their state",
        recipes: [[]],
        handler: () => relay.states(),
      },
      {
        name: "upstream_refresh",
        help: "fetches the command list of every upstream, or of the one named, again",
        recipes: [[], ["name"]],
        handler: async (p) => {
          if (!p.has("name")) return await relay.refreshAll();
          const name = p.str("name");
          const u = relay.upstreams.find((x) => x.name === name);
          if (!u) throw new MiError(NOT_FOUND, "Upstream not found", `no upstream named '${name}'`);
          await relay.refresh(u);
          return relay.states().filter((s) => s.name === name);
        },
      },
    ],
  };
}
