// Reading the JSONC config file: syntax errors, unknown keys and wrong types
// are reported with file, line and column, all at once, and nothing starts.

import {
  type Node,
  type ParseError,
  parseTree,
  printParseErrorCode,
  stripComments,
} from "jsonc-parser";
import { type Config, configSpec, isLoopbackHost, parseHostPort } from "./schema.ts";
import { type ConfigProblem, defaults, type Infer, type Spec, validate } from "./spec.ts";
import { resolve } from "node:path";
import { HostFsError, hostRoot } from "../sys/hostfs.ts";

export const DEFAULT_CONFIG_PATH = "/etc/sipmi/sipmi.jsonc";

export class ConfigError extends Error {
  readonly problems: string[];
  /** What was read: "configuration", or another JSONC input such as a calls file. */
  readonly what: string;
  constructor(problems: string[], what = "configuration") {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
    this.what = what;
  }
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when the embedded defaults are used. */
  source: string | null;
}

/** Line and column (1-based) of an offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1, start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, col: offset - start + 1 };
}

/** Parses JSONC text and validates it against a spec; throws ConfigError naming each problem's line. */
export function parseJsonc<S extends Spec>(
  spec: S,
  text: string,
  file: string,
  extra?: Check<S>,
  what?: string,
): Infer<S> {
  // A file of only comments and blank lines means "all defaults".
  if (stripComments(text).trim() === "") return defaults(spec);
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const where = (offset: number) => {
    const { line, col } = lineCol(text, offset);
    return `${file}:${line}:${col}`;
  };
  if (errors.length > 0) {
    // Several unclosed levels report the same place once each: say it once.
    const lines = errors.map((e) =>
      `${where(e.offset)}: syntax error: ${printParseErrorCode(e.error)}`
    );
    throw new ConfigError([...new Set(lines)], what);
  }
  if (tree === undefined) return defaults(spec);
  const { value, problems } = validate(spec, tree);
  if (problems.length === 0 && extra) problems.push(...extra(value, tree));
  if (problems.length > 0) {
    throw new ConfigError(
      problems.map((p) => `${where(p.offset)}: '${p.key || "(top level)"}' ${p.message}`),
      what,
    );
  }
  return value;
}

type Check<S extends Spec> = (value: Infer<S>, tree: Node) => ConfigProblem[];

/** Parses and validates config text; throws ConfigError naming each problem's key and line. */
export function parseConfig(text: string, file = "<config>"): Config {
  return parseJsonc(configSpec, text, file, crossChecks);
}

function crossChecks(c: Config, tree: Node): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const hp = parseHostPort(c.http.listen);
  if (
    c.http.enabled && hp && !isLoopbackHost(hp.host) && !c.http.auth.token &&
    !c.http.auth.token_file
  ) {
    out.push({
      key: "http.listen",
      offset: findOffset(tree, ["http", "listen"]),
      message: `is not a loopback address, so http.auth.token or http.auth.token_file is required`,
    });
  }
  out.push(...webPathClashes(c, tree));
  out.push(...upstreamChecks(c, tree));
  return out;
}

/** The HTTP listener's roots must not overlap: each route would hide another. */
function webPathClashes(c: Config, tree: Node): ConfigProblem[] {
  const h = c.http;
  const routes: [string, string][] = [
    ["mi_root", `/${h.mi_root}`],
    ["html_root", `/${h.html_root}`],
    ["xmlrpc_root", `/${h.xmlrpc_root}`],
    ["metrics_path", h.metrics_path],
  ];
  const out: ConfigProblem[] = [];
  for (let i = 1; i < routes.length; i++) {
    const [key, path] = routes[i];
    for (const [other, prefix] of routes.slice(0, i)) {
      if (path === prefix || path.startsWith(`${prefix}/`) || prefix.startsWith(`${path}/`)) {
        out.push({
          key: `http.${key}`,
          offset: findOffset(tree, ["http", key]),
          message: `'${path}' overlaps http.${other} '${prefix}': each needs its own path`,
        });
        break;
      }
    }
  }
  return out;
}

/** What the schema cannot say of one entry alone: required keys, unique names and prefixes. */
function upstreamChecks(c: Config, tree: Node): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const names = new Set<string>(), prefixes = new Set<string>();
  c.upstream.forEach((u, i) => {
    const at = (key: string, message: string) =>
      out.push({
        key: `upstream[${i}]${key ? `.${key}` : ""}`,
        offset: findOffset(tree, ["upstream", i, ...(key ? [key] : [])]),
        message,
      });
    if (u.name === "") at("", "needs a name");
    else if (names.has(u.name)) at("name", `"${u.name}" names two upstreams`);
    names.add(u.name);
    if (u.via === "") at("", "needs via (fifo:PATH, udp:HOST:PORT, unix:PATH or http://...)");
    if (u.prefix !== "") {
      if (prefixes.has(u.prefix)) at("prefix", `"${u.prefix}" is the prefix of two upstreams`);
      prefixes.add(u.prefix);
    }
    if (u.reply_dir !== "" && !u.via.startsWith("fifo:")) {
      at("reply_dir", "is for an upstream reached over its FIFO only");
    }
  });
  return out;
}

function findOffset(tree: Node, path: (string | number)[]): number {
  let node: Node | undefined = tree;
  for (const key of path) {
    if (typeof key === "number") {
      if (node?.type !== "array" || !node.children?.[key]) return node?.offset ?? 0;
      node = node.children[key];
      continue;
    }
    const prop: Node | undefined = node?.children?.find((p) => p.children?.[0]?.value === key);
    if (!prop) return node?.offset ?? 0;
    node = prop.children?.[1];
  }
  return node?.offset ?? 0;
}

/**
 * Loads the config: an explicit path must exist; without one, the default
 * path is used when present and the embedded defaults otherwise.
 */
export async function loadConfig(path?: string): Promise<LoadedConfig> {
  // A relative --config is relative to the working directory, as in any shell tool.
  const file = resolve(path ?? DEFAULT_CONFIG_PATH);
  let text: string;
  try {
    text = await hostRoot.readText(file);
  } catch (e) {
    if (path === undefined && e instanceof HostFsError && e.kind === "NotFound") {
      return { config: defaults(configSpec), source: null };
    }
    throw new ConfigError([`${file}: cannot read the config file: ${(e as Error).message}`]);
  }
  return { config: parseConfig(text, file), source: file };
}
