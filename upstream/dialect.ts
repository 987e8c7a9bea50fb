// What differs between the two MI dialects an upstream may speak: how to
// list its commands, where a command's help and recipes come from, how its
// FIFO names the reply FIFO, and which commands change state by default
// (docs/upstream.md has the lists and the reasons).
//
// OpenSIPS 3.x (and sipmi): `which`, `which CMD` (its recipes), `help CMD`
// (`{"Help": ..., "Exported by": ...}`); FIFO requests `:reply_name:{json}`.
// Kamailio jsonrpcs: `system.listMethods`, `system.methodHelp CMD` (a
// string), no recipes; FIFO requests carry `"reply_name"` in the JSON.

import type { FifoFraming } from "../transports/client.ts";

export type Kind = "opensips" | "kamailio";

export interface Call {
  method: string;
  params?: unknown[];
}

export interface Dialect {
  readonly framing: FifoFraming;
  /** Its HTTP server sends JSON-RPC errors with an HTTP error status (Kamailio: 400, 500). */
  readonly httpErrorStatus: boolean;
  /** The call whose result is the array of every command name. */
  readonly list: Call;
  /** The call for a command's help, and how to read the help text from its result. */
  help(name: string): Call;
  helpText(result: unknown): string | undefined;
  /** The call for a command's recipes, when the dialect has recipes. */
  recipes?(name: string): Call;
  /** The commands that change state when the config says `@default`. */
  readonly mutating: readonly string[];
}

/**
 * OpenSIPS 3.6's commands that change state, by the verbs of their names and
 * the ones that have none: reloads, setters, adds and removals, enabling and
 * disabling, flushing, syncing, pushing and broadcasting, tracing on and off,
 * ending calls, sending requests and replies, and the log levels (read-only
 * without params, but a name cannot say so). Matching is case-sensitive.
 */
const OPENSIPS_MUTATING = [
  "*reload*",
  "*_set*",
  "*_add*",
  "*_rm*",
  "*_del*",
  "*remove*",
  "*_enable*",
  "*_disable*",
  "*flush*",
  "*_sync*",
  "*_push*",
  "*reset*",
  "*_start",
  "*_stop",
  "*terminate*",
  "*_refresh*",
  "*_login*",
  "*_logout*",
  "*_trigger*",
  "*_bridge*",
  "*_resize*",
  "*cleanup*",
  "*_publish*",
  "*subscribe",
  "*broadcast*",
  "dlg_end_dlg",
  "dr_gw_status",
  "dr_carrier_status",
  "lb_status",
  "t_uac_*",
  "t_reply",
  "raise_event",
  "cache_store",
  "kill",
  "shutdown",
  "trace",
  "log_level",
  "xlog_level",
  "log_level_filter",
  "log_mute_state",
];

/**
 * Kamailio's: method names are `module.action` (some camelCase), and the same
 * verbs mark the actions that change state: cfg.set_now_int, cfg.commit,
 * dispatcher.set_state, htable.delete, ul.rm, dlg.end_dlg, tm.cancel,
 * stats.reset_statistics, permissions.addressReload, ...
 */
const KAMAILIO_MUTATING = [
  "*reload*",
  "*Reload*",
  "*.set*",
  "*_set*",
  "*.add*",
  "*_add*",
  "*.rm*",
  "*.del*",
  "*_del*",
  "*remove*",
  "*enable*",
  "*disable*",
  "*flush*",
  "*sync*",
  "*.push*",
  "*reset*",
  "*.clear*",
  "*clean*",
  "*.commit",
  "*.rollback",
  "*.update*",
  "*.start*",
  "*.stop*",
  "*terminate*",
  "*end_dlg*",
  "*refresh*",
  "*.kill",
  "*.cancel",
  "*.publish*",
  "*.subscribe*",
  "*.unsubscribe*",
  "*.store*",
  "tm.reply*",
  "tm.t_uac*",
];

const OPENSIPS: Dialect = {
  framing: "opensips",
  httpErrorStatus: false,
  list: { method: "which" },
  help: (name) => ({ method: "help", params: [name] }),
  helpText: (r) => {
    const help = (r as { Help?: unknown } | null)?.Help;
    return typeof help === "string" ? help : undefined;
  },
  recipes: (name) => ({ method: "which", params: [name] }),
  mutating: OPENSIPS_MUTATING,
};

const KAMAILIO: Dialect = {
  framing: "kamailio",
  httpErrorStatus: true,
  list: { method: "system.listMethods" },
  help: (name) => ({ method: "system.methodHelp", params: [name] }),
  helpText: (r) => typeof r === "string" ? r : undefined,
  mutating: KAMAILIO_MUTATING,
};

export function dialectOf(kind: Kind): Dialect {
  return kind === "kamailio" ? KAMAILIO : OPENSIPS;
}

/** The config's `mutating` list with `@default` replaced by the dialect's list. */
export function mutatingPatterns(configured: readonly string[], d: Dialect): string[] {
  return configured.flatMap((p) => p === "@default" ? d.mutating : [p]);
}
