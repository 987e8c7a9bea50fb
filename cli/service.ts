// `sipmi service ...`: the systemd side of the appliance. `unit` prints the
// unit file, `install`/`uninstall` put it (and a default config, the state
// directory) in place and take exactly that away again; `status` and
// `reload` ask the running daemon over MI.

import { resolve } from "node:path";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/load.ts";
import { requestText } from "../mi/script.ts";
import {
  install,
  installRecorded,
  nextSteps,
  systemdRunning,
  uninstall,
} from "../service/install.ts";
import type { ReloadResult } from "../service/reload.ts";
import { selfCommand } from "../service/runtime.ts";
import { renderUnit, UNIT_NAME } from "../service/unit.ts";
import { TransportError } from "../transports/client.ts";
import { errText } from "../sys/log.ts";
import { eprint, EXIT_FAIL, EXIT_OK, EXIT_USAGE, parseOptions, UsageError } from "./common.ts";
import { callTarget, defaultTarget, describeTarget, parseTarget, TARGET_FORMS } from "./target.ts";

export const usage = `Usage: sipmi service SUBCOMMAND [OPTIONS]

The systemd side of sipmi.

Subcommands:
  unit [--exec PATH] [--config PATH]
                 print the unit file (for review and systemd-analyze verify)
  install [--root DIR] [--dry-run] [--exec PATH] [--config PATH]
                 write ${"/etc/systemd/system/" + UNIT_NAME}, a commented default
                 config if there is none (never overwritten), the state
                 directory; systemctl daemon-reload when systemd runs the host
  uninstall [--root DIR] [--dry-run]
                 undo exactly what install did (files changed since are kept)
  status [--config PATH] [--via ADDR] [--json]
                 what the running daemon serves, its boot profile, its last reload
  reload [--config PATH] [--via ADDR]
                 make the running daemon re-read its config (as systemctl reload)

Options:
  --exec PATH    the sipmi binary ExecStart runs (default: this executable;
                 in a source checkout, deno with its flags and main.ts)
  --config PATH  the config file (default ${DEFAULT_CONFIG_PATH})
  --root DIR     install under DIR instead of / (a scratch tree)
  --dry-run      print what would be done, change nothing
  --via ADDR     the daemon to ask: ${TARGET_FORMS}
                 (default: the first transport of the config)
  --json         print the MI result as JSON
  -h, --help     this help

Exit status: 0 done, 1 failed (the daemon's error, a reload that was not
applied), 2 bad usage or no daemon answering.`;

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(usage);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  switch (sub) {
    case "unit":
      return unitCmd(rest);
    case "install":
      return await installCmd(rest);
    case "uninstall":
      return await uninstallCmd(rest);
    case "status":
      return await statusCmd(rest);
    case "reload":
      return await reloadCmd(rest);
    default:
      throw new UsageError(`unknown subcommand '${sub}'`);
  }
}

function helped(values: { help?: boolean }): boolean {
  if (values.help) console.log(usage);
  return values.help === true;
}

function execOf(exec: string | undefined): string[] {
  if (exec === undefined) return selfCommand();
  if (!exec.startsWith("/")) throw new UsageError(`--exec must be an absolute path, not '${exec}'`);
  return [exec];
}

function configOf(config: string | undefined): string {
  return config === undefined ? DEFAULT_CONFIG_PATH : resolve(config);
}

function unitCmd(args: string[]): number {
  const { values } = parseOptions(args, {
    exec: { type: "string" },
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (helped(values)) return EXIT_OK;
  Deno.stdout.writeSync(
    new TextEncoder().encode(
      renderUnit({ exec: execOf(values.exec), config: configOf(values.config) }),
    ),
  );
  return EXIT_OK;
}

function rootOf(root: string | undefined): string {
  if (root === undefined) return "/";
  const r = resolve(root);
  try {
    if (!Deno.statSync(r).isDirectory) throw new Error();
  } catch {
    throw new UsageError(`--root ${root} is not a directory`);
  }
  return r;
}

async function installCmd(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    root: { type: "string" },
    "dry-run": { type: "boolean" },
    exec: { type: "string" },
    config: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (helped(values)) return EXIT_OK;
  const root = rootOf(values.root);
  const exec = execOf(values.exec);
  const config = configOf(values.config);
  const dryRun = values["dry-run"] ?? false;
  const out = await install({ root, exec, config, dryRun });
  const where = root === "/" ? "" : ` under ${root}`;
  console.log(`sipmi service install${where}${dryRun ? " (dry run)" : ""}:`);
  for (const l of out.lines) console.log(`  ${l}`);
  if (!out.changed) console.log("  nothing to change");
  if (values.exec === undefined && !Deno.build.standalone) {
    console.log(
      `  note: ExecStart runs deno from a source checkout; production hosts run the release build (--exec /usr/local/bin/sipmi)`,
    );
  }
  if (dryRun) {
    console.log(`\n--- ${UNIT_NAME} ---`);
    console.log(renderUnit({ exec, config }));
  }
  if (!dryRun && out.changed) await daemonReload(root);
  console.log("\nNext:");
  for (const s of nextSteps(config)) console.log(`  ${s}`);
  return EXIT_OK;
}

async function uninstallCmd(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    root: { type: "string" },
    "dry-run": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (helped(values)) return EXIT_OK;
  const root = rootOf(values.root);
  const dryRun = values["dry-run"] ?? false;
  if (root === "/" && !dryRun && await installRecorded(root) && await systemdRunning()) {
    // An enabled, running unit would outlive its file until the next boot.
    await systemctl(["disable", "--now", UNIT_NAME]);
  }
  let out;
  try {
    out = await uninstall({ root, dryRun });
  } catch (e) {
    eprint(`sipmi service uninstall: ${errText(e)}`);
    return EXIT_FAIL;
  }
  const where = root === "/" ? "" : ` under ${root}`;
  console.log(`sipmi service uninstall${where}${dryRun ? " (dry run)" : ""}:`);
  for (const l of out.lines) console.log(`  ${l}`);
  if (!dryRun) await daemonReload(root);
  return EXIT_OK;
}

/** `systemctl daemon-reload` when systemd runs this host and the root is the host's. */
async function daemonReload(root: string): Promise<void> {
  if (root !== "/") return;
  if (!(await systemdRunning())) {
    console.log("  systemd is not running this host: no systemctl daemon-reload");
    return;
  }
  await systemctl(["daemon-reload"]);
}

async function systemctl(args: string[]): Promise<void> {
  try {
    const r = await new Deno.Command("systemctl", { args, stdin: "null" }).output();
    const err = new TextDecoder().decode(r.stderr).trim();
    console.log(`  systemctl ${args.join(" ")}: ${r.success ? "done" : `failed (${err})`}`);
  } catch (e) {
    console.log(`  systemctl ${args.join(" ")}: ${errText(e)}`);
  }
}

/** Calls one MI command on the running daemon: its reply object, or an exit code. */
async function callDaemon(
  name: string,
  method: string,
  values: { config?: string; via?: string },
): Promise<
  { result?: unknown; error?: { code: number; message: string; data?: string } } | number
> {
  const { config } = await loadConfig(values.config);
  const target = values.via === undefined ? defaultTarget(config) : parseTarget(values.via, config);
  try {
    const reply = await callTarget(target, requestText({ method }, 1), { timeoutMs: 30000 });
    return JSON.parse(reply);
  } catch (e) {
    if (!(e instanceof TransportError) && !(e instanceof SyntaxError)) throw e;
    eprint(`sipmi service ${name}: ${describeTarget(target)}: ${errText(e)} (is sipmi running?)`);
    return EXIT_USAGE;
  }
}

async function statusCmd(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    config: { type: "string" },
    via: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (helped(values)) return EXIT_OK;
  const r = await callDaemon("status", "service_status", values);
  if (typeof r === "number") return r;
  if (r.error !== undefined) {
    eprint(`sipmi service status: error ${r.error.code}: ${r.error.message}`);
    return EXIT_FAIL;
  }
  if (values.json) console.log(JSON.stringify(r.result, null, 2));
  else console.log(renderStatus(r.result as StatusReport));
  return EXIT_OK;
}

async function reloadCmd(args: string[]): Promise<number> {
  const { values } = parseOptions(args, {
    config: { type: "string" },
    via: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (helped(values)) return EXIT_OK;
  const r = await callDaemon("reload", "reload", values);
  if (typeof r === "number") return r;
  if (r.error !== undefined) {
    eprint(
      `sipmi service reload: not applied, the running configuration stays:\n  ${
        (r.error.data ?? r.error.message).split("; ").join("\n  ")
      }`,
    );
    return EXIT_FAIL;
  }
  console.log(renderReload(r.result as ReloadResult));
  return EXIT_OK;
}

interface StatusReport {
  version: string;
  revision: string;
  pid: number;
  phase: string;
  uptime_s: number;
  config: string | null;
  listeners: { name: string; running: boolean; optional: boolean }[];
  tuning: {
    profile: string | null;
    startup: { summary: string; calls: { method: string; ok: boolean; error?: string }[] };
  };
  last_reload: ReloadResult | null;
}

export function renderStatus(s: StatusReport): string {
  const out = [
    `${s.version} (revision ${s.revision}), pid ${s.pid}, ${s.phase}, up ${s.uptime_s} s`,
    `config: ${s.config ?? "embedded defaults"}`,
    "listening:",
    ...s.listeners.map((l) =>
      `  ${l.running ? "" : "(not running) "}${l.name}${l.optional ? " (optional)" : ""}`
    ),
    `tuning profile: ${s.tuning.profile ?? "none configured (tuning.profile)"}`,
    `boot profile: ${s.tuning.startup.summary}`,
    ...s.tuning.startup.calls.map((c, i) =>
      `  ${i + 1}. ${c.method}: ${c.ok ? "ok" : `FAILED ${c.error}`}`
    ),
    `last reload: ${s.last_reload ? reloadLine(s.last_reload) : "none"}`,
  ];
  return out.join("\n");
}

function reloadLine(r: ReloadResult): string {
  const parts = [`${r.at} ${r.ok ? "ok" : "FAILED"} (${r.trigger})`];
  const list = (what: string, names: string[]) => {
    if (names.length > 0) parts.push(`${what} ${names.join(", ")}`);
  };
  list("started", r.started);
  list("restarted", r.restarted);
  list("changed after the reply:", r.after_reply);
  list("stopped", r.stopped);
  list("applied", r.applied);
  list("needs a restart:", r.needs_restart);
  list("errors:", r.errors);
  return parts.join("; ");
}

export function renderReload(r: ReloadResult): string {
  const out = [`reloaded ${r.config ?? "embedded defaults"}`];
  const list = (what: string, names: string[]) => {
    if (names.length > 0) out.push(`  ${what}: ${names.join(", ")}`);
  };
  list("started", r.started);
  list("restarted", r.restarted);
  list("restarting after this reply", r.after_reply);
  list("stopped", r.stopped);
  list("unchanged", r.unchanged);
  list("applied live", r.applied);
  list("takes effect at the next restart", r.needs_restart);
  list("warnings", r.errors);
  return out.join("\n");
}
