// Test support for the tuning module: fixture roots in temp dirs (git does
// not keep the 0444 mode of the managed IRQ's files, so it is re-applied on
// the copy), gzipped fixtures, and an MI instance rooted at a fixture tree
// that runs commands through the same core as the CLI and the daemon.

import assert from "node:assert/strict";
import { type App, buildApp, buildMi } from "../app.ts";
import { sipmi as sipmiChild } from "./helpers/daemon.ts";
import { defaults } from "../config/spec.ts";
import { type Config, configSpec } from "../config/schema.ts";
import { runCall } from "../mi/script.ts";
import { Log } from "../sys/log.ts";
import { parseCpuList } from "../tuning/cpuset.ts";
import { type TuningEnv, tuningEnv } from "../tuning/env.ts";
import type { FakeKernel, FakeKernelOptions } from "../tuning/fake_kernel.ts";
import type { FixtureServices } from "../tuning/services.ts";

export const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
export const GOLDEN = new URL("./golden/", import.meta.url).pathname;
export const VM_ROOT = `${FIXTURES}vm-2cpu-virtio-root`;
export const SAMPLES = `${FIXTURES}proc-samples`;

/** Copies a tree, keeping symlinks as symlinks (the /sys/class/net links must stay links). */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    const src = `${from}/${e.name}`, dst = `${to}/${e.name}`;
    if (e.isSymlink) await Deno.symlink(await Deno.readLink(src), dst);
    else if (e.isDirectory) await copyTree(src, dst);
    else await Deno.copyFile(src, dst);
  }
}

export interface TempRoot {
  path: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function tempRoot(fill: (dir: string) => Promise<void>): Promise<TempRoot> {
  const path = await Deno.makeTempDir({ prefix: "sipmi_tuning_" });
  try {
    await fill(path);
  } catch (e) {
    await Deno.remove(path, { recursive: true });
    throw e;
  }
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** The captured 2-vCPU VM root, with IRQ 36's smp_affinity files back at mode 0444. */
export function vmRoot(edit?: (dir: string) => Promise<void>): Promise<TempRoot> {
  return tempRoot(async (dir) => {
    await copyTree(VM_ROOT, dir);
    for (const f of ["smp_affinity", "smp_affinity_list"]) {
      await Deno.chmod(`${dir}/proc/irq/36/${f}`, 0o444);
    }
    await edit?.(dir);
  });
}

/** The VM root with the files of `kernel-quirks/` laid over it: `(null)` and empty cpulists. */
export function quirkRoot(): Promise<TempRoot> {
  return vmRoot((dir) => copyTree(`${FIXTURES}kernel-quirks`, dir));
}

/** A root holding only the given files (host path -> content). */
export function rootWith(files: Record<string, string>): Promise<TempRoot> {
  return tempRoot(async (dir) => {
    for (const [path, text] of Object.entries(files)) {
      const real = dir + path;
      await Deno.mkdir(real.slice(0, real.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(real, text);
    }
  });
}

/** A fixture file's text; `.gz` files are decompressed (the 1152-CPU captures). */
export async function fixtureText(name: string): Promise<string> {
  const path = `${SAMPLES}/${name}`;
  if (!name.endsWith(".gz")) return await Deno.readTextFile(path);
  const file = await Deno.open(path);
  const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

export interface Reply {
  result?: unknown;
  error?: { code: number; message: string; data?: string };
}

export interface TuningMi {
  call(method: string, params?: Record<string, unknown> | unknown[]): Promise<Reply>;
  /** The result, or a thrown assertion error showing the error reply. */
  result<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>): Promise<T>;
}

export type TuningOverrides = Partial<Omit<Config["tuning"], "sip">> & {
  sip?: Partial<Config["tuning"]["sip"]>;
};

/** An MI instance as `buildMi` makes it for the daemon, with tuning.root at `root`. */
export function tuningMi(root: string, tuning: TuningOverrides = {}): TuningMi {
  const config = defaults(configSpec);
  config.tuning = {
    ...config.tuning,
    ...tuning,
    root,
    sip: { ...config.tuning.sip, ...tuning.sip },
  };
  config.log_level = -3;
  const mi = buildMi(config);
  const ep = mi.core.endpoint({ transport: "test" });
  const call = async (method: string, params?: Record<string, unknown> | unknown[]) =>
    JSON.parse(await runCall(ep, { method, params })) as Reply;
  return {
    call,
    async result<T>(method: string, params?: Record<string, unknown>) {
      const r = await call(method, params);
      if (r.error !== undefined) {
        throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
      }
      return r.result as T;
    },
  };
}

/**
 * The golden file's text, or undefined after rewriting it when
 * `UPDATE_GOLDEN=1` (review the diff before committing it).
 */
async function golden(path: string, text: string): Promise<string | undefined> {
  if (Deno.env.get("UPDATE_GOLDEN") === "1") {
    await Deno.mkdir(GOLDEN, { recursive: true });
    await Deno.writeTextFile(path, text);
    return undefined;
  }
  try {
    return await Deno.readTextFile(path);
  } catch {
    throw new Error(`no golden file ${path}: run UPDATE_GOLDEN=1 deno test -A tests/ to create it`);
  }
}

/** Compares a value with tests/golden/NAME.json (UPDATE_GOLDEN=1 rewrites it). */
export async function assertGolden(name: string, value: unknown): Promise<void> {
  const path = `${GOLDEN}${name}.json`;
  const text = JSON.stringify(value, null, 2) + "\n";
  const want = await golden(path, text);
  if (want !== undefined && want !== text) {
    assert.deepEqual(JSON.parse(text), JSON.parse(want), `differs from ${path}`);
    assert.equal(text, want, `formatting differs from ${path}`);
  }
}

/** Same as assertGolden for plain text (human output): tests/golden/NAME.txt. */
export async function assertGoldenText(name: string, text: string): Promise<void> {
  const path = `${GOLDEN}${name}.txt`;
  const want = await golden(path, text);
  if (want !== undefined) assert.equal(text, want, `differs from ${path}`);
}

/** sha256 hex of a text, for golden files that record a large result by digest. */
export async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** MI results are JSON of many shapes; tests index into them freely. */
// deno-lint-ignore no-explicit-any
export type Json = any;

// ------------------------------------------------------------ scenario files

/** The virtio-net PCI function of the VM root. */
export const PCI = "/sys/devices/pci0000:00/0000:00:03.0";

/** Writes host files (path -> text) into a root. */
export async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const real = root + path;
    await Deno.mkdir(real.slice(0, real.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(real, text);
  }
}

/** A /proc/PID/task/TID/status with the lines the tuning code reads and writes. */
export function status(name: string, pid: number, cpus: string): string {
  const mask = parseCpuList(cpus).toMask(2);
  return `Name:\t${name}\nTgid:\t${pid}\nCpus_allowed:\t${mask}\nCpus_allowed_list:\t${cpus}\nMems_allowed_list:\t0\n`;
}

/** An OpenSIPS main process (3 threads: 4242-4244) and one child (4300), in opensips.service. */
export function opensips(cpus: { main: string; udp: string; timer: string; child: string }) {
  const cg = "0::/system.slice/opensips.service\n";
  const argv = "/usr/sbin/opensips\0-f\0/etc/opensips/opensips.cfg\0";
  return {
    "/proc/4242/comm": "opensips\n",
    "/proc/4242/cmdline": argv,
    "/proc/4242/cgroup": cg,
    "/proc/4242/task/4242/comm": "opensips\n",
    "/proc/4242/task/4242/status": status("opensips", 4242, cpus.main),
    "/proc/4242/task/4243/comm": "udp receiver\n",
    "/proc/4242/task/4243/status": status("udp receiver", 4242, cpus.udp),
    "/proc/4242/task/4244/comm": "timer\n",
    "/proc/4242/task/4244/status": status("timer", 4242, cpus.timer),
    "/proc/4300/comm": "opensips\n",
    "/proc/4300/cmdline": argv,
    "/proc/4300/cgroup": cg,
    "/proc/4300/task/4300/comm": "opensips\n",
    "/proc/4300/task/4300/status": status("opensips", 4300, cpus.child),
    // Some other process, in another unit.
    "/proc/1/comm": "systemd\n",
    "/proc/1/cmdline": "/sbin/init\0",
    "/proc/1/cgroup": "0::/init.scope\n",
    "/proc/1/task/1/comm": "systemd\n",
    "/proc/1/task/1/status": status("systemd", 1, "0-1"),
  };
}

/** A running irqbalance, pid 777, with its environment and arguments. */
export function irqbalance(env: string, args: string[]) {
  return {
    "/proc/777/comm": "irqbalance\n",
    "/proc/777/cmdline": ["/usr/sbin/irqbalance", "--foreground", ...args, ""].join("\0"),
    "/proc/777/environ": env,
    "/proc/777/cgroup": "0::/system.slice/irqbalance.service\n",
    "/proc/777/task/777/comm": "irqbalance\n",
    "/proc/777/task/777/status": status("irqbalance", 777, "0-1"),
  };
}

// ------------------------------------------------------------ the write side

export interface Rig extends TuningMi {
  app: App;
  env: TuningEnv;
  /** The fixture root's kernel (counts writes; fault hooks from `fake`). */
  kernel: FakeKernel;
  services: FixtureServices;
  /** Log lines of the instance. */
  lines: string[];
  /** A statistic's value (`tuning:drift`). */
  stat(name: string): Promise<number>;
}

/**
 * An MI instance as the daemon builds it, on a fixture root whose fake
 * kernel takes `fake` (fault hooks), with its log captured. `pid` poses as
 * another process (a crashed one, for recovery tests).
 */
export function tuningRig(
  root: string,
  opts: { tuning?: TuningOverrides; fake?: FakeKernelOptions; pid?: number } = {},
): Rig {
  const config = defaults(configSpec);
  config.tuning = {
    ...config.tuning,
    verify_interval_s: 0,
    ...opts.tuning,
    root,
    sip: { ...config.tuning.sip, nic: "eth0", ...opts.tuning?.sip },
  };
  const env = tuningEnv(config.tuning, opts.fake);
  if (opts.pid !== undefined) env.pid = opts.pid;
  const lines: string[] = [];
  const log = new Log(3, { journal: false, sink: (l) => lines.push(l) });
  const app = buildApp(config, { log, tuningEnv: env });
  const ep = app.mi.core.endpoint({ transport: "test" });
  const call = async (method: string, params?: Record<string, unknown> | unknown[]) =>
    JSON.parse(await runCall(ep, { method, params })) as Reply;
  return {
    app,
    env,
    kernel: env.fs as FakeKernel,
    services: env.services as FixtureServices,
    lines,
    call,
    async result<T>(method: string, params?: Record<string, unknown>) {
      const r = await call(method, params);
      if (r.error !== undefined) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
      return r.result as T;
    },
    async stat(name: string) {
      const r = await call("get_statistics", [[name]]);
      return (r.result as Record<string, number>)[name];
    },
  };
}

/**
 * Every file, directory and link of a root's /proc, /sys and /etc: content,
 * mode and link target, to compare a tree before and after (sipmi's own
 * state directory is left out: it is meant to change).
 */
export async function treeState(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(`${root}${dir}`)) {
      const path = `${dir}/${e.name}`;
      const info = await Deno.lstat(`${root}${path}`);
      const mode = (info.mode! & 0o7777).toString(8);
      if (e.isSymlink) out[path] = `link ${await Deno.readLink(`${root}${path}`)}`;
      else if (e.isDirectory) {
        out[path] = `dir ${mode}`;
        await walk(path);
      } else out[path] = `${mode} ${await Deno.readTextFile(`${root}${path}`)}`;
    }
  };
  for (const top of ["/proc", "/sys", "/etc"]) {
    if (await Deno.stat(`${root}${top}`).then(() => true, () => false)) await walk(top);
  }
  return out;
}

/** The pid of a process that has exited (an owner that "crashed"). */
export async function deadPid(): Promise<number> {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

// ------------------------------------------------------------- the CLI

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `sipmi ARGS...` as a child process (tests/helpers/daemon.ts), with named output fields. */
export async function runSipmi(args: string[]): Promise<Run> {
  const r = await sipmiChild(...args);
  return { code: r.code, stdout: r.out, stderr: r.err };
}
