// The `service` MI module, present in the daemon only: `reload` (re-read the
// config, as SIGHUP does) and `service_status` (what `sipmi service status`
// shows). A reload through the listener that carried the request changes
// that listener after the reply has gone out.

import { COMMAND_FAILED, MiError } from "../mi/jsonrpc.ts";
import type { MiModule } from "../mi/registry.ts";
import type { Reloader } from "./reload.ts";
import type { ServiceState } from "./status.ts";

export function serviceModule(reloader: Reloader, state: ServiceState): MiModule {
  return {
    name: "service",
    commands: [
      {
        name: "reload",
        help:
          "re-reads the config file: restarts the listeners whose settings changed, applies log level and limits; a bad config changes nothing",
        recipes: [[]],
        mutating: true,
        handler: async (_p, ctx) => {
          const r = await reloader.reload(`MI ${ctx.transport}`, ctx.listener).reply;
          if (!r.ok) throw new MiError(COMMAND_FAILED, "Reload failed", r.errors.join("; "));
          return r;
        },
      },
      {
        name: "service_status",
        help: "shows what the daemon serves, its boot profile and its last reload",
        recipes: [[]],
        handler: () => state.report(),
      },
    ],
  };
}
