// irqbalance as it affects pinned IRQs: which CPUs and IRQs it leaves
// alone, whether it runs, and whether the running daemon still uses the
// configuration on disk (it reads its environment only at start-up).
//
// Precedence, from irqbalance's cputree.c setup_banned_cpus(): a non-empty
// IRQBALANCE_BANNED_CPUS (hex, deprecated since 1.8.0) wins; otherwise a
// *set* IRQBALANCE_BANNED_CPULIST is used (empty = ban nothing); otherwise
// the isolated and nohz_full CPUs are banned. Setting either variable stops
// the automatic ban of isolated/nohz_full CPUs (docs/tuning.md, "Kernel facts
// relied on").
//
// A malformed config line is reported with its file and line in `problems`
// and does not fail the command: the operator still needs to see whether
// the daemon runs and what it bans.

import type { HostFs } from "../sys/hostfs.ts";
import { type CpuSet, parseCpuList, parseCpuMask } from "./cpuset.ts";
import type { CpuTopology } from "./cpus.ts";
import { ifAlive, listPids, readCmdline, readComm, readEnviron } from "./procs.ts";
import { mapLimit } from "./pool.ts";
import { type LiveSetup, liveSetup } from "./irqbalance_control.ts";

export const CONFIG_FILES = ["/etc/default/irqbalance", "/etc/sysconfig/irqbalance"] as const;

const KEYS = [
  "IRQBALANCE_BANNED_CPULIST",
  "IRQBALANCE_BANNED_CPUS",
  "IRQBALANCE_ARGS",
  "IRQBALANCE_ONESHOT",
  // Older packaging (init.d, Gentoo) passed options under these names.
  "OPTIONS",
  "IRQBALANCE_OPTS",
] as const;

export interface EnvFile {
  /** KEY -> value and the line it was set on (the last assignment wins). */
  vars: Map<string, { value: string; line: number }>;
  problems: string[];
}

/** Parses an EnvironmentFile / shell-sourced `KEY=value` file. */
export function parseEnvFile(text: string, path: string): EnvFile {
  const vars = new Map<string, { value: string; line: number }>();
  const problems: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      problems.push(`${path}:${i + 1}: not KEY=VALUE, ignored: '${line.slice(0, 60)}'`);
      continue;
    }
    let value = m[2].trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
    } else if (q === '"' || q === "'") {
      problems.push(`${path}:${i + 1}: ${m[1]}: unterminated quote`);
      continue;
    }
    vars.set(m[1], { value, line: i + 1 });
  }
  return { vars, problems };
}

export interface IrqbalanceArgs {
  banirq: number[];
  banmod: string[];
  policyscript: string | null;
  oneshot: boolean;
}

/** Reads irqbalance's own options out of argv words. */
export function parseArgsWords(
  words: readonly string[],
  problems: string[],
  where: string,
): IrqbalanceArgs {
  const out: IrqbalanceArgs = { banirq: [], banmod: [], policyscript: null, oneshot: false };
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const eq = w.indexOf("=");
    const name = w.startsWith("--") && eq > 0 ? w.slice(0, eq) : w;
    const takes = ["--banirq", "-i", "--banmod", "-m", "--policyscript", "-l"].includes(name);
    const value = takes ? (name !== w ? w.slice(eq + 1) : words[++i]) : undefined;
    if (takes && value === undefined) {
      problems.push(`${where}: ${name} without a value`);
      continue;
    }
    if (name === "--banirq" || name === "-i") {
      if (/^[0-9]+$/.test(value!)) out.banirq.push(Number(value));
      else problems.push(`${where}: ${name} '${value}' is not an IRQ number`);
    } else if (name === "--banmod" || name === "-m") out.banmod.push(value!);
    else if (name === "--policyscript" || name === "-l") out.policyscript = value!;
    else if (name === "--oneshot" || name === "-o") out.oneshot = true;
  }
  return out;
}

/** Shell-like word split: whitespace, single and double quotes. */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

export interface BannedCpus {
  cpus: CpuSet | null;
  /** Which rule chose them. */
  source: "IRQBALANCE_BANNED_CPUS" | "IRQBALANCE_BANNED_CPULIST" | "isolated+nohz_full";
}

/** The effective banned CPUs for a set of variables; problems get `where`-prefixed messages. */
export function bannedCpus(
  vars: ReadonlyMap<string, string>,
  topo: Pick<CpuTopology, "isolated" | "nohzFull">,
  problems: string[],
  where: (key: string) => string,
): BannedCpus {
  const mask = vars.get("IRQBALANCE_BANNED_CPUS");
  if (mask !== undefined && mask !== "") {
    try {
      return { cpus: parseCpuMask(mask), source: "IRQBALANCE_BANNED_CPUS" };
    } catch (e) {
      problems.push(`${where("IRQBALANCE_BANNED_CPUS")}: ${(e as Error).message}`);
      return { cpus: null, source: "IRQBALANCE_BANNED_CPUS" };
    }
  }
  const list = vars.get("IRQBALANCE_BANNED_CPULIST");
  if (list !== undefined) {
    try {
      return { cpus: parseCpuList(list), source: "IRQBALANCE_BANNED_CPULIST" };
    } catch (e) {
      problems.push(`${where("IRQBALANCE_BANNED_CPULIST")}: ${(e as Error).message}`);
      return { cpus: null, source: "IRQBALANCE_BANNED_CPULIST" };
    }
  }
  return { cpus: topo.isolated.union(topo.nohzFull), source: "isolated+nohz_full" };
}

export interface IrqbalanceStatus {
  /** The file irqbalance reads here (the first of CONFIG_FILES that exists), or null. */
  config_file: string | null;
  /** Every candidate file that exists (both on an odd host). */
  config_files: string[];
  /** The irqbalance variables set in config_file, as written. */
  settings: Record<string, string>;
  running: boolean;
  pids: number[];
  /** argv of the running daemon (the first one). */
  command_line: string[] | null;
  /**
   * Where the effective values come from: the running daemon's socket (its
   * live settings), its environment, or the file.
   */
  effective_from: "socket" | "process" | "config_file" | "defaults";
  banned_cpus: string | null;
  banned_cpus_source: BannedCpus["source"] | "socket";
  /** What the daemon answers on its socket (`setup`), or null when it has none. */
  live: LiveSetup | null;
  /**
   * What the running daemon's own environment bans (without settings told
   * through its socket); null when it does not run or cannot be read.
   */
  environment_banned_cpus: string | null;
  /** Both variables set: the deprecated hex mask silently wins. */
  deprecated_mask_wins: boolean;
  banned_irqs: number[];
  banned_modules: string[];
  policy_script: string | null;
  oneshot: boolean;
  /** The daemon runs with other values than the file now has (it needs a restart). */
  restart_needed: boolean;
  problems: string[];
}

async function findDaemons(fs: HostFs): Promise<number[]> {
  const pids = await listPids(fs);
  const comms = await mapLimit(pids, 64, (pid) => ifAlive(() => readComm(fs, `/proc/${pid}/comm`)));
  return pids.filter((_, i) => comms[i] === "irqbalance");
}

export async function irqbalanceStatus(
  fs: HostFs,
  topo: Pick<CpuTopology, "isolated" | "nohzFull">,
): Promise<IrqbalanceStatus> {
  const problems: string[] = [];
  const found: { path: string; file: EnvFile }[] = [];
  for (const path of CONFIG_FILES) {
    const text = await fs.readTextIfExists(path);
    if (text !== undefined) found.push({ path, file: parseEnvFile(text, path) });
  }
  const config = found[0];
  if (config) problems.push(...config.file.problems);
  const fileVars = new Map<string, string>();
  for (const k of KEYS) {
    const v = config?.file.vars.get(k);
    if (v !== undefined) fileVars.set(k, v.value);
  }
  const fileWhere = (k: string) => `${config!.path}:${config!.file.vars.get(k)!.line}`;

  const pids = await findDaemons(fs);
  let commandLine: string[] | null = null;
  let env: Record<string, string> | undefined;
  if (pids.length > 0) {
    commandLine = (await ifAlive(() => readCmdline(fs, pids[0]))) ?? null;
    env = await ifAlive(() => readEnviron(fs, pids[0]));
  }
  const procVars = new Map<string, string>();
  if (env !== undefined) {
    for (const k of KEYS) {
      if (env[k] !== undefined) procVars.set(k, env[k]);
    }
  }

  const useProcess = env !== undefined;
  const vars = useProcess ? procVars : fileVars;
  const where = useProcess
    ? (k: string) => `irqbalance (pid ${pids[0]}) environment ${k}`
    : fileWhere;
  const banned = bannedCpus(vars, topo, problems, where);

  const argWords = commandLine !== null ? commandLine.slice(1) : splitWords(
    [vars.get("IRQBALANCE_ARGS"), vars.get("OPTIONS"), vars.get("IRQBALANCE_OPTS")].filter((v) =>
      v !== undefined
    ).join(" "),
  );
  const args = parseArgsWords(
    argWords,
    problems,
    commandLine !== null
      ? `irqbalance (pid ${pids[0]}) command line`
      : (config?.path ?? "irqbalance arguments"),
  );

  const live = pids.length > 0 ? await liveSetup(fs, pids[0]) : null;
  let restart = useProcess && config !== undefined &&
    KEYS.some((k) => (procVars.get(k) ?? "") !== (fileVars.get(k) ?? ""));
  if (restart && live !== null) {
    // Told live what the file now says: a restart would change nothing.
    const fileBanned = bannedCpus(fileVars, topo, [], () => "").cpus?.toList() ?? null;
    const fileIrqs = parseArgsWords(splitWords(fileVars.get("IRQBALANCE_ARGS") ?? ""), [], "")
      .banirq.sort((a, b) => a - b);
    restart = fileBanned !== live.banned_cpus || fileIrqs.join() !== live.banned_irqs.join();
  }
  // Both set: the deprecated mask wins, now (process) or at the next start (file).
  const maskWins = (v: ReadonlyMap<string, string>) =>
    (v.get("IRQBALANCE_BANNED_CPUS") ?? "") !== "" && v.has("IRQBALANCE_BANNED_CPULIST");
  return {
    config_file: config?.path ?? null,
    config_files: found.map((f) => f.path),
    settings: Object.fromEntries(fileVars),
    running: pids.length > 0,
    pids,
    command_line: commandLine,
    effective_from: live ? "socket" : useProcess ? "process" : config ? "config_file" : "defaults",
    banned_cpus: live ? live.banned_cpus : banned.cpus?.toList() ?? null,
    banned_cpus_source: live ? "socket" : banned.source,
    live,
    environment_banned_cpus: useProcess
      ? bannedCpus(procVars, topo, [], () => "").cpus?.toList() ?? null
      : null,
    deprecated_mask_wins: maskWins(fileVars) || maskWins(procVars),
    banned_irqs: live ? live.banned_irqs : args.banirq,
    banned_modules: args.banmod,
    policy_script: args.policyscript,
    oneshot: args.oneshot || (vars.get("IRQBALANCE_ONESHOT") ?? "") !== "",
    restart_needed: restart,
    problems,
  };
}
