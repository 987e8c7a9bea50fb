// `sipmi service install` and `uninstall`: the unit file, a commented
// default config when none exists (never overwritten), the state directory;
// a record of exactly what install did, so uninstall undoes that and
// nothing else. A file the operator changed since is kept and named; a
// directory that is not empty (snapshots) is kept and named.
//
// Paths are host paths under a root ("/" on a host, a scratch tree in tests
// and in the Ansible role's check run). Reads go through HostFs; HostFs has
// no writes yet, so the few writes below use its real() mapping.

import { createHash } from "node:crypto";
import { DEFAULT_CONFIG_PATH } from "../config/load.ts";
import { NAME, VERSION } from "../mi/version.ts";
import { dirname, HostFs } from "../sys/hostfs.ts";
import { defaultConfigText } from "./default_config.ts";
import { renderUnit, UNIT_NAME, UNIT_PATH } from "./unit.ts";

export const STATE_DIR = "/var/lib/sipmi";
export const RECORD_PATH = `${STATE_DIR}/install.json`;

const DIR_MODES: Record<string, number> = { [STATE_DIR]: 0o750 };
const UNIT_MODE = 0o644;
const CONFIG_MODE = 0o640;

interface FileRecord {
  path: string;
  /** sha256 of what install wrote. */
  sha256: string;
  /** What was there before, restored by uninstall; null when install created the file. */
  previous: { content: string; mode: number } | null;
}

/** What install did, kept in the state directory for uninstall. */
export interface InstallRecord {
  installed_by: string;
  /** Directories install created, parents first. */
  dirs: string[];
  files: FileRecord[];
}

export interface InstallOptions {
  root: string;
  /** The command ExecStart runs (without `serve`). */
  exec: readonly string[];
  /** The config file the daemon reads (default /etc/sipmi/sipmi.jsonc). */
  config: string;
  dryRun: boolean;
}

export interface Outcome {
  /** What was done (or would be, with --dry-run), one line each. */
  lines: string[];
  /** Whether anything changed on disk. */
  changed: boolean;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Ancestors of `path` that do not exist yet, parents first. */
async function missingDirs(fs: HostFs, path: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = path; d !== "/" && !(await fs.exists(d)); d = dirname(d)) out.unshift(d);
  return out;
}

async function readRecord(fs: HostFs): Promise<InstallRecord | undefined> {
  const text = await fs.readTextIfExists(RECORD_PATH);
  if (text === undefined) return undefined;
  try {
    const r = JSON.parse(text) as InstallRecord;
    if (!Array.isArray(r.dirs) || !Array.isArray(r.files)) throw new Error("not an install record");
    return r;
  } catch (e) {
    throw new Error(`${RECORD_PATH} is damaged (${(e as Error).message}); remove it by hand`);
  }
}

/** Writes a file whole: a temporary file in the same directory, then a rename. */
function writeFileAtomic(real: string, text: string, mode: number): void {
  const tmp = `${real}.sipmi-${Deno.pid}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, text, { mode });
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, real);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // Never created.
    }
    throw e;
  }
}

export async function install(o: InstallOptions): Promise<Outcome> {
  const fs = new HostFs(o.root);
  const lines: string[] = [];
  const say = (s: string) => lines.push(o.dryRun ? `would ${s}` : s);
  const before = await readRecord(fs);
  const record: InstallRecord = {
    installed_by: `${NAME} ${VERSION}`,
    dirs: [...(before?.dirs ?? [])],
    files: [...(before?.files ?? [])],
  };
  let changed = false;

  const mkdirs = async (path: string, mode = 0o755) => {
    for (const d of await missingDirs(fs, path)) {
      say(`create directory ${d}`);
      changed = true;
      if (!record.dirs.includes(d)) record.dirs.push(d);
      if (!o.dryRun) {
        Deno.mkdirSync(fs.real(d));
        Deno.chmodSync(fs.real(d), DIR_MODES[d] ?? mode);
      }
    }
  };

  // 1. The unit: written, or rewritten when it differs (the first content
  //    found that install did not write is kept for uninstall).
  const unit = renderUnit({ exec: o.exec, config: o.config });
  await mkdirs(dirname(UNIT_PATH));
  const oldUnit = await fs.readTextIfExists(UNIT_PATH);
  if (oldUnit !== unit) {
    const known = record.files.find((f) => f.path === UNIT_PATH);
    let previous = known?.previous ?? null;
    if (!known && oldUnit !== undefined) {
      const st = await fs.stat(UNIT_PATH);
      previous = { content: oldUnit, mode: st.mode ?? UNIT_MODE };
    }
    record.files = record.files.filter((f) => f.path !== UNIT_PATH);
    record.files.push({ path: UNIT_PATH, sha256: sha256(unit), previous });
    say(`${oldUnit === undefined ? "write" : "rewrite"} ${UNIT_PATH}`);
    changed = true;
    if (!o.dryRun) writeFileAtomic(fs.real(UNIT_PATH), unit, UNIT_MODE);
  } else lines.push(`${UNIT_PATH} is up to date`);

  // 2. The config: only when there is none.
  await mkdirs(dirname(o.config));
  if (await fs.exists(o.config)) {
    lines.push(`${o.config} exists: kept as it is`);
  } else {
    const text = defaultConfigText();
    record.files.push({ path: o.config, sha256: sha256(text), previous: null });
    say(`write ${o.config} (commented defaults)`);
    changed = true;
    if (!o.dryRun) writeFileAtomic(fs.real(o.config), text, CONFIG_MODE);
  }

  // 3. The state directory, and the record in it.
  await mkdirs(STATE_DIR);
  if (changed && !o.dryRun) {
    writeFileAtomic(fs.real(RECORD_PATH), JSON.stringify(record, null, 2) + "\n", 0o640);
  }
  return { lines, changed };
}

/** Whether install left its record under `root` (what uninstall needs). */
export async function installRecorded(root: string): Promise<boolean> {
  return await new HostFs(root).exists(RECORD_PATH);
}

export async function uninstall(o: { root: string; dryRun: boolean }): Promise<Outcome> {
  const fs = new HostFs(o.root);
  const lines: string[] = [];
  const say = (s: string) => lines.push(o.dryRun ? `would ${s}` : s);
  const record = await readRecord(fs);
  if (record === undefined) {
    throw new Error(
      `no install record at ${RECORD_PATH}: sipmi service install did not run here ` +
        `(a unit at ${UNIT_PATH}, if any, was put there by other means)`,
    );
  }
  for (const f of [...record.files].reverse()) {
    const now = await fs.readTextIfExists(f.path);
    if (now === undefined) {
      lines.push(`${f.path} is gone already`);
    } else if (sha256(now) !== f.sha256) {
      lines.push(`${f.path} changed since install: kept`);
    } else if (f.previous !== null) {
      say(`restore the earlier ${f.path}`);
      if (!o.dryRun) writeFileAtomic(fs.real(f.path), f.previous.content, f.previous.mode);
    } else {
      say(`remove ${f.path}`);
      if (!o.dryRun) Deno.removeSync(fs.real(f.path));
    }
  }
  say(`remove ${RECORD_PATH}`);
  if (!o.dryRun) Deno.removeSync(fs.real(RECORD_PATH));
  for (const d of [...record.dirs].reverse()) {
    const entries = await fs.readDirIfExists(d);
    if (entries === undefined) continue;
    // With --dry-run the files above are still there; count them as gone.
    const left = o.dryRun
      ? entries.filter((e) =>
        ![RECORD_PATH, ...record.files.map((f) => f.path)].includes(`${d}/${e.name}`) &&
        !record.dirs.includes(`${d}/${e.name}`)
      )
      : entries;
    if (left.length > 0) {
      lines.push(`${d} is not empty: kept (${left.map((e) => e.name).join(", ")})`);
      continue;
    }
    say(`remove directory ${d}`);
    if (!o.dryRun) Deno.removeSync(fs.real(d));
  }
  return { lines, changed: !o.dryRun };
}

/** Whether systemd runs this host (its sd_booted() test). */
export function systemdRunning(): Promise<boolean> {
  return new HostFs("/").exists("/run/systemd/system");
}

/** The commands an operator runs after install, each with what it is for. */
export function nextSteps(config: string): string[] {
  const opt = config === DEFAULT_CONFIG_PATH ? "" : ` --config ${config}`;
  const steps: [string, string][] = [
    [`sipmi config check${opt}`, `validate ${config}`],
    [`systemctl enable --now ${UNIT_NAME}`, "start it now and at every boot"],
    [`systemctl status ${UNIT_NAME}`, "STATUS= says what listens and how the boot profile went"],
    [`sipmi service status${opt}`, "the same from the daemon, with the last reload"],
  ];
  const width = Math.max(...steps.map(([c]) => c.length));
  return steps.map(([c, why]) => `${c.padEnd(width)}  # ${why}`);
}
