// The layers hold (docs/architecture.md, "Layers"): this test reads the
// import statements of every TypeScript file and fails when
//
// - mi/ imports transports/, tuning/, cli/ or service/ (anything above it);
// - sys/ or config/ import anything above them;
// - transports/ and tuning/ import each other;
// - upstream/ (the relay) imports anything but transports/, mi/, config/ and
//   sys/, or tuning/ imports it;
// - Deno.dlopen, or a read of /proc or /sys by a file API, appears outside sys/
//   (tuning code reads them through sys/hostfs.ts, which takes such paths).
//
// The checks are also run on small made-up sources, so the test is seen to fail.

import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;

/** Folders each folder may import from (besides itself and npm:/node: packages). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  sys: [],
  config: ["sys"],
  mi: ["config", "sys"],
  // The web faces are clients of the MI core; the daemon mounts them on the HTTP listener.
  web: ["mi", "config", "sys"],
  upstream: ["transports", "mi", "config", "sys"],
};
/** Pairs that must never import each other, in either direction. */
const APART: [string, string][] = [["transports", "tuning"], ["transports", "web"]];
/** Folders that must never import another (the relay sits above the transports it uses). */
const NEVER: Record<string, readonly string[]> = {
  transports: ["upstream"],
  tuning: ["upstream"],
};
/** Where FFI and direct /proc, /sys reads may live. */
const HOST_ACCESS = "sys";

/** Comments removed, strings kept (a `//` inside a string is not a comment). */
function stripComments(src: string): string {
  return src.replace(
    /("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|\/\/[^\n]*|\/\*[\s\S]*?\*\//g,
    (m, str) => str ?? m.replace(/[^\n]/g, " "),
  );
}

/** The module specifiers a source imports: static, re-exports and dynamic imports. */
export function importsOf(src: string): string[] {
  const code = stripComments(src);
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^;"'`]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

/** The top folder of a repository path (`mi/core.ts` → `mi`; `app.ts` → ""). */
function folderOf(path: string): string {
  const i = path.indexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

const FILE_APIS = String
  .raw`(?:Deno\.(?:readTextFile|readFile|open|readDir|readLink|stat|lstat|realPath|watchFs)(?:Sync)?|(?:readFile|readFileSync|openSync|open|readdirSync|readdir|statSync|lstatSync|readlinkSync|createReadStream))`;
const PROC_READ = new RegExp(String.raw`${FILE_APIS}\s*\(\s*["'\`]/(?:proc|sys)(?:/|["'\`])`);

/** Every layering problem in one file (`path` relative to the repository). */
export function problemsOf(path: string, src: string): string[] {
  const problems: string[] = [];
  const from = folderOf(path);
  for (const spec of importsOf(src)) {
    if (!spec.startsWith(".")) continue; // npm:, node:, the import map
    const target = normalize(join(dirname(path), spec));
    const to = folderOf(target);
    if (to === from) continue;
    const allowed = MAY_IMPORT[from];
    if (allowed && !allowed.includes(to)) {
      problems.push(
        `${path} imports ${target}: ${from}/ may import only ${allowed.join(", ") || "itself"}`,
      );
    }
    if (NEVER[from]?.includes(to)) {
      problems.push(`${path} imports ${target}: ${from}/ never imports ${to}/`);
    }
    for (const [a, b] of APART) {
      if ((from === a && to === b) || (from === b && to === a)) {
        problems.push(`${path} imports ${target}: ${a}/ and ${b}/ never import each other`);
      }
    }
  }
  if (from !== HOST_ACCESS) {
    const code = stripComments(src);
    if (/\bDeno\.dlopen\b/.test(code)) problems.push(`${path} calls Deno.dlopen outside sys/`);
    if (PROC_READ.test(code)) {
      problems.push(`${path} reads /proc or /sys directly, not through sys/`);
    }
  }
  return problems;
}

function* sources(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.startsWith(".") || ["dist", "node_modules", "coverage"].includes(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory) {
      if (relative(ROOT, p) === "tests/fixtures") continue;
      yield* sources(p);
    } else if (/\.tsx?$/.test(e.name)) yield p;
  }
}

/** Product code: tests and benchmarks may read /proc themselves (to compare with it). */
function isProduct(path: string): boolean {
  return !path.startsWith("tests/") && !path.startsWith("bench/") && !/_test\.tsx?$/.test(path);
}

Deno.test("layering: the repository's imports, FFI and /proc, /sys reads keep to their layers", () => {
  const problems: string[] = [];
  let files = 0;
  for (const file of sources(ROOT)) {
    const path = relative(ROOT, file);
    if (!isProduct(path)) continue;
    files++;
    problems.push(...problemsOf(path, Deno.readTextFileSync(file)));
  }
  assert.ok(files > 50, `only ${files} files found under ${ROOT}`);
  assert.deepEqual(problems, []);
});

Deno.test("layering: the checks catch what they are meant to", () => {
  const bad: [string, string, RegExp][] = [
    ["mi/x.ts", 'import { FifoListener } from "../transports/fifo.ts";', /mi\/ may import only/],
    ["mi/x.ts", 'import type { Task } from "../service/daemon.ts";', /mi\/ may import only/],
    ["mi/x.ts", 'export { run } from "../cli/main.ts";', /mi\/ may import only/],
    ["mi/x.ts", 'const m = await import("../tuning/module.ts");', /mi\/ may import only/],
    ["mi/x.ts", "import {\n  a,\n  b,\n} from '../tuning/irq.ts';", /mi\/ may import only/],
    ["sys/x.ts", 'import { MiCore } from "../mi/core.ts";', /sys\/ may import only itself/],
    ["transports/x.ts", 'import { Relay } from "../upstream/relay.ts";', /never imports upstream/],
    ["tuning/x.ts", 'import { Relay } from "../upstream/relay.ts";', /never imports upstream/],
    ["upstream/x.ts", 'import { Daemon } from "../service/daemon.ts";', /may import only/],
    [
      "tuning/x.ts",
      'import { udpCall } from "../transports/client.ts";',
      /never import each other/,
    ],
    ["tuning/x.ts", 'const l = Deno.dlopen("libc.so.6", {});', /Deno\.dlopen outside sys/],
    ["cli/x.ts", 'const t = await Deno.readTextFile("/proc/interrupts");', /reads \/proc/],
    ["tuning/x.ts", "const t = Deno.readTextFileSync(`/sys/class/net/${n}/mtu`);", /reads \/proc/],
    ["transports/x.ts", 'const fd = openSync("/proc/self/status", 0);', /reads \/proc/],
  ];
  for (const [path, src, want] of bad) {
    const p = problemsOf(path, src);
    assert.equal(p.length, 1, `${path}: ${src}: ${p.join("; ")}`);
    assert.match(p[0], want);
  }
  const fine: [string, string][] = [
    ["mi/x.ts", 'import { errText } from "../sys/log.ts";\nimport { x } from "./y.ts";'],
    ["mi/x.ts", '// import { FifoListener } from "../transports/fifo.ts";'],
    ["mi/x.ts", 'const help = "see ../transports/fifo.ts";'],
    ["tuning/x.ts", 'const t = await fs.readTextIfExists("/proc/interrupts");'],
    ["sys/libc.ts", 'lib ??= Deno.dlopen("libc.so.6", SYMBOLS);'],
    ["service/x.ts", 'import { FifoListener } from "../transports/fifo.ts";'],
    ["upstream/x.ts", 'import { udpCall } from "../transports/client.ts";'],
  ];
  for (const [path, src] of fine) assert.deepEqual(problemsOf(path, src), [], `${path}: ${src}`);
});
