// The core MI commands with the result shapes of OpenSIPS 3.x
// (docs/protocol.md, "Core commands"): the `statistics` module and the `core` module.

import { invalidParams, JsonText, MiError, NOT_FOUND } from "./jsonrpc.ts";
import type { Params } from "./params.ts";
import type { Command, MiModule, Registry } from "./registry.ts";
import type { StatKind, StatsRegistry } from "./stats.ts";
import { StatsLookup } from "./stats_lookup.ts";
import type { Tasks } from "./tasks.ts";
import { MAX_LEVEL, MIN_LEVEL } from "../sys/log.ts";
import { NAME, REVISION, VERSION } from "./version.ts";

export interface CoreEnv {
  registry: Registry;
  stats: StatsRegistry;
  tasks: Tasks;
  /** When the daemon (or this CLI run) started. */
  startedAt: Date;
  argv: readonly string[];
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** C ctime() without the newline: `Mon Nov  3 07:54:49 2026` (local time). */
export function ctime(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${WEEKDAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${
    String(d.getDate()).padStart(2, " ")
  } ` +
    `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

export function serverString(): string {
  return `${NAME} (${VERSION} (${Deno.build.arch}/${Deno.build.os}))`;
}

/** One statistic in get_statistics_detail. */
export interface StatDetail {
  value: number;
  kind: StatKind;
  family?: string;
  labels?: Record<string, string>;
}

const STATS_NOT_FOUND = () => new MiError(NOT_FOUND, "Statistics Not Found");
const UNKNOWN_COMMAND = () => new MiError(NOT_FOUND, "unknown MI command");

/**
 * Answers about a named command: synchronously for one the registry has,
 * after a look by the module that may learn it otherwise (Registry.lookup).
 */
function withCommand<T>(registry: Registry, name: string, answer: (cmd: Command) => T) {
  const found = registry.lookup(name);
  const known = (cmd: Command | undefined) => {
    if (cmd === undefined) throw UNKNOWN_COMMAND();
    return answer(cmd);
  };
  return found instanceof Promise ? found.then(known) : known(found);
}

export function statisticsModule(env: CoreEnv): MiModule {
  const { stats } = env;
  return {
    name: "statistics",
    commands: [
      {
        name: "get_statistics",
        help: "prints the statistics (all, group or one) realtime values.",
        recipes: [["statistics"]],
        handler: (p) => {
          const items = p.strArray("statistics");
          // Whole groups (`all`, `group:`) are encoded by the registry, host samples once each,
          // and without a promise when every group is at hand.
          const json = stats.encode(items);
          if (typeof json === "string") return new JsonText(json);
          if (json !== undefined) return json.then((j) => new JsonText(j));
          return StatsLookup.resolve(stats, items).then((resolved) => {
            const out: Record<string, number> = {};
            for (const values of resolved) {
              for (const s of values) out[`${s.group}:${s.name}`] = s.value;
            }
            return out;
          });
        },
      },
      {
        // Not in OpenSIPS: what /metrics needs beyond get_statistics, from the same read.
        name: "get_statistics_detail",
        help:
          "prints statistics as get_statistics does, each with its kind (counter or gauge) and, for a per-CPU (per-IRQ, per-port, per-NIC) value, its family and labels",
        recipes: [["statistics"]],
        handler: async (p) => {
          const out: Record<string, StatDetail> = {};
          for (const item of p.strArray("statistics")) {
            for (const s of await stats.lookup(item)) {
              const d: StatDetail = { value: s.value, kind: s.kind };
              if (s.member) {
                d.family = s.member.family;
                d.labels = s.member.labels;
              }
              out[`${s.group}:${s.name}`] = d;
            }
          }
          return out;
        },
      },
      {
        name: "list_statistics",
        help: "lists all the registered statistics and their types",
        recipes: [[], ["statistics"]],
        handler: async (p) => {
          const out: Record<string, string> = {};
          const kind = (incremental: boolean) => incremental ? "incremental" : "non-incremental";
          if (!p.has("statistics")) {
            for (const s of await stats.all()) out[`${s.group}:${s.name}`] = kind(s.incremental);
            return out;
          }
          const items = p.strArray("statistics");
          const resolved = await StatsLookup.resolve(stats, items);
          items.forEach((item, i) => {
            const single = item !== "all" && !item.endsWith(":");
            for (const s of resolved[i]) {
              // A single stat is keyed by its bare name (OpenSIPS does the same).
              out[single ? s.name : `${s.group}:${s.name}`] = kind(s.incremental);
            }
          });
          return out;
        },
      },
      {
        name: "reset_statistics",
        help: "resets the value of a statistic variable",
        recipes: [["statistics"]],
        mutating: true,
        handler: async (p) => {
          let found = false;
          const items = p.strArray("statistics");
          const resolved = await StatsLookup.resolve(stats, items);
          for (let i = 0; i < items.length; i++) {
            if (resolved[i].length === 0) continue;
            found = true;
            // Only counters reset; one found is reset by name (registered: no group read).
            if (resolved[i].some((s) => s.incremental)) await stats.reset(items[i]);
          }
          if (!found) throw STATS_NOT_FOUND();
          return "OK";
        },
      },
      {
        name: "reset_all_statistics",
        help: "resets the value of all resetable variables",
        recipes: [[]],
        mutating: true,
        handler: () => {
          stats.resetAll();
          return "OK";
        },
      },
    ],
  };
}

export function coreModule(env: CoreEnv): MiModule {
  const { registry, tasks } = env;
  const root = tasks.log;
  // `uptime` is what monitoring polls: its texts change once a second, so
  // they are formatted once a second, not per request.
  const startMs = env.startedAt.getTime();
  const since = ctime(env.startedAt);
  let nowSec = -1, nowText = "";
  return {
    name: "core",
    commands: [
      {
        name: "uptime",
        help:
          "prints various time information about sipmi - when it started to run, for how long it runs",
        recipes: [[]],
        handler: () => {
          const ms = Date.now();
          const sec = Math.floor(ms / 1000);
          if (sec !== nowSec) {
            nowSec = sec;
            nowText = ctime(new Date(ms));
          }
          return {
            Now: nowText,
            "Up since": since,
            "Up time": `${Math.floor((ms - startMs) / 1000)} [sec]`,
          };
        },
      },
      {
        name: "version",
        help: "prints the version string of a running sipmi",
        recipes: [[], ["revision"]],
        handler: (p) => {
          const out: Record<string, string> = { Server: serverString() };
          if (p.has("revision")) out.git = REVISION;
          return out;
        },
      },
      {
        name: "pwd",
        help: "prints the working directory of sipmi",
        recipes: [[]],
        handler: () => ({ WD: Deno.cwd() }),
      },
      {
        name: "arg",
        help: "returns the full list of arguments used at startup",
        recipes: [[]],
        handler: () => [...env.argv],
      },
      {
        name: "which",
        help: "lists all available MI commands",
        recipes: [[], ["command"]],
        handler: (p) => {
          if (!p.has("command")) return registry.names();
          return withCommand(
            registry,
            p.str("command"),
            (cmd) => cmd.describe ? cmd.describe.recipes() : cmd.recipes.map((r) => [...r]),
          );
        },
      },
      {
        name: "help",
        help: "prints information about a command",
        recipes: [[], ["mi_cmd"]],
        handler: (p) => {
          if (!p.has("mi_cmd")) return "Usage: help mi_cmd - returns information about 'mi_cmd'";
          const answer = (cmd: Command, help: string) => ({
            Help: help || "not available for this command",
            "Exported by": cmd.module,
          });
          return withCommand(
            registry,
            p.str("mi_cmd"),
            (cmd) =>
              cmd.describe
                ? cmd.describe.help().then((h) => answer(cmd, h))
                : answer(cmd, cmd.help),
          );
        },
      },
      {
        name: "ps",
        help: "lists all tasks of sipmi: the attendant and each running listener",
        recipes: [[]],
        handler: () => ({
          Processes: tasks.list().map((t) => ({ ID: t.id, PID: t.pid, Type: t.type })),
        }),
      },
      {
        name: "log_level",
        help: "gets/sets the per task or global log level of sipmi",
        recipes: [[], ["level"], ["level", "pid"]],
        mutating: (p: Params) => p.has("level"),
        handler: (p) => {
          if (!p.has("level")) {
            return {
              Processes: tasks.list().map((t) => ({
                PID: t.pid,
                "Log level": t.log.level,
                Type: t.type,
              })),
            };
          }
          const level = p.int("level");
          if (level < MIN_LEVEL || level > MAX_LEVEL) {
            throw invalidParams(
              `Bad log level ${level}, use ${MIN_LEVEL} (alert) to ${MAX_LEVEL} (debug)`,
            );
          }
          if (!p.has("pid")) {
            // As in OpenSIPS: the global level also replaces every per-task level.
            root.level = level;
            for (const t of tasks.list()) t.log.own = null;
            return { "New global log level": level };
          }
          const pid = p.int("pid");
          const hit = tasks.list().filter((t) => t.pid === pid);
          if (hit.length === 0) throw invalidParams("Bad PID");
          for (const t of hit) t.log.own = level;
          return { "Log level": level };
        },
      },
    ],
  };
}
