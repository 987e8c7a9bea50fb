// Test support for the tuning module: fixture roots in temp dirs (git does
// not keep the 0444 mode of the managed IRQ's files, so it is re-applied on
// the copy), gzipped fixtures, and an MI instance rooted at a fixture tree
// that runs commands through the same core as the CLI and the daemon.

import assert from "node:assert/strict";
import { buildMi } from "../app.ts";
import { defaults } from "../config/spec.ts";
import { type Config, configSpec } from "../config/schema.ts";
import { runCall } from "../mi/script.ts";

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
