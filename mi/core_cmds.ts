// The core MI commands with the result shapes of OpenSIPS 3.x
// (docs/protocol.md, "Core commands"): the `statistics` module and the `core` module.

import { EncodedResult, invalidParams, MiError, NOT_FOUND } from "./jsonrpc.ts";
import type { Params } from "./params.ts";
import type { MiModule, Registry } from "./registry.ts";
import type { StatsRegistry } from "./stats.ts";
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

const STATS_NOT_FOUND = () => new MiError(NOT_FOUND, "Statistics Not Found");
const UNKNOWN_COMMAND = () => new MiError(NOT_FOUND, "unknown MI command");

export function statisticsModule(env: CoreEnv): MiModule {
  const { stats } = env;
  return {
    name: "statistics",
    commands: [
      {
        name: "get_statistics",
        help: "prints the statistics (all, group or one) realtime values.",
        recipes: [["statistics"]],
        handler: async (p) => {
          const items = p.strArray("statistics");
          // Whole groups (`all`, `group:`) are encoded by the registry, host samples once each.
          const json = await stats.encode(items);
          if (json !== undefined) return new EncodedResult(json);
          const out: Record<string, number> = {};
          for (const item of items) {
            for (const s of await stats.lookup(item)) out[`${s.group}:${s.name}`] = s.value;
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
          for (const item of p.strArray("statistics")) {
            const single = item !== "all" && !item.endsWith(":");
            for (const s of await stats.lookup(item)) {
              // A single stat is keyed by its bare name (OpenSIPS does the same).
              out[single ? s.name : `${s.group}:${s.name}`] = kind(s.incremental);
            }
          }
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
          for (const item of p.strArray("statistics")) if (await stats.reset(item)) found = true;
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
  return {
    name: "core",
    commands: [
      {
        name: "uptime",
        help:
          "prints various time information about sipmi - when it started to run, for how long it runs",
        recipes: [[]],
        handler: () => {
          const now = new Date();
          return {
            Now: ctime(now),
            "Up since": ctime(env.startedAt),
            "Up time": `${Math.floor((now.getTime() - env.startedAt.getTime()) / 1000)} [sec]`,
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
          const cmd = registry.get(p.str("command"));
          if (!cmd) throw UNKNOWN_COMMAND();
          return cmd.recipes.map((r) => [...r]);
        },
      },
      {
        name: "help",
        help: "prints information about a command",
        recipes: [[], ["mi_cmd"]],
        handler: (p) => {
          if (!p.has("mi_cmd")) return "Usage: help mi_cmd - returns information about 'mi_cmd'";
          const cmd = registry.get(p.str("mi_cmd"));
          if (!cmd) throw UNKNOWN_COMMAND();
          return { Help: cmd.help || "not available for this command", "Exported by": cmd.module };
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
