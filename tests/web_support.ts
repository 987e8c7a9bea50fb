// Test support for the HTTP listener's web faces: an HTTP listener in this
// process on a free loopback port, over the MI instance the daemon builds
// (tuning.root at a fixture tree), with extra test modules when a test needs
// a command the product does not have (a reply full of markup, a tune_status
// of tuning transactions).

import { webFaces } from "../web/mount.ts";
import { buildMi } from "../app.ts";
import { type Config, configSpec } from "../config/schema.ts";
import { defaults } from "../config/spec.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { MiModule } from "../mi/registry.ts";
import { HttpListener } from "../transports/http.ts";
import { freeTcpPort } from "./helpers/daemon.ts";

export interface WebListener {
  base: string;
  mi: MiInstance;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function webListener(
  opts: {
    root?: string;
    sip?: Partial<Config["tuning"]["sip"]>;
    modules?: MiModule[];
    http?: Partial<Config["http"]>;
  } = {},
): Promise<WebListener> {
  const config = defaults(configSpec);
  config.log_level = -3;
  if (opts.root !== undefined) config.tuning.root = opts.root;
  config.tuning.sip = { ...config.tuning.sip, ...opts.sip };
  const mi = buildMi(config);
  for (const m of opts.modules ?? []) mi.registry.register(m);
  const port = freeTcpPort();
  const http = { ...config.http, listen: `127.0.0.1:${port}`, ...opts.http };
  const listener = new HttpListener(mi, http, webFaces(mi.registry, http));
  await listener.start();
  return {
    base: `http://127.0.0.1:${port}`,
    mi,
    async [Symbol.asyncDispose]() {
      await listener.stop(2000);
    },
  };
}

export interface Got {
  status: number;
  headers: Headers;
  text: string;
}

/** One request; the body read whole (so no connection is left open). */
export async function get(url: string, init: RequestInit = {}): Promise<Got> {
  const r = await fetch(url, init);
  return { status: r.status, headers: r.headers, text: await r.text() };
}

/** A form post as a browser sends it, with extra headers (Origin, Sec-Fetch-Site, ...). */
export function postForm(
  url: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Got> {
  return get(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

/** The form token written into a page's forms. */
export function formToken(html: string): string {
  const m = /name="token" value="([0-9a-f]+)"/.exec(html);
  if (!m) throw new Error("no form token on the page");
  return m[1];
}

/** The text of the element with this id, tags removed and entities decoded (enough for tests). */
export function textOf(html: string, id: string): string | undefined {
  const m = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</(pre|p|section|div)>`).exec(html);
  if (!m) return undefined;
  return m[1].replace(/<[^>]+>/g, "")
    .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** Whether a tool is on the PATH. */
export function have(tool: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Runs a tool with `input` on its stdin (at most a minute): exit code, stdout, stderr. */
export async function runWithInput(
  cmd: string,
  args: string[],
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60000),
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** `promtool check metrics` on the text: its exit code and output. */
export async function promtool(text: string): Promise<{ code: number; out: string }> {
  const r = await runWithInput("promtool", ["check", "metrics"], text);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The value of one sample line (`name{labels} value`), or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
