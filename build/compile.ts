// `deno task compile`: the release build. Stamps the git revision into
// dist/REVISION (the build machine runs git; the binary never does), then
// runs `deno compile` with the daemon's runtime flags and every file the
// binary needs, into dist/sipmi.
//
// deno compile fetches Deno's `denort` runtime from dl.deno.land. Without
// that host, CI runs this with DENORT_BIN pointing at a copy of deno: a dry
// run that checks types, the module graph and the embedded files, whose
// output is NOT a working binary (README, "Release build").
//
//   deno run -A build/compile.ts [--out PATH] [--revision REV]

import { parseArgs } from "node:util";
import { ENTRY, RUNTIME_FLAGS } from "../service/runtime.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Relative to the repository root; mi/version.ts reads it from the binary. */
export const STAMP = "dist/REVISION";
/** Files the binary reads at run time that no import names. */
export const INCLUDES: readonly string[] = [STAMP];

/** The deno compile arguments for `out`. */
export function compileArgs(out: string): string[] {
  return [
    "compile",
    ...RUNTIME_FLAGS,
    ...INCLUDES.flatMap((f) => ["--include", f]),
    // Only the npm packages main.ts reaches: the lockfile also holds test
    // tools (playwright-core, 13 MB) that the binary must not carry.
    "--exclude-unused-npm",
    "-o",
    out,
    ENTRY,
  ];
}

async function git(...args: string[]): Promise<string | undefined> {
  try {
    const r = await new Deno.Command("git", { args, cwd: ROOT, stdin: "null", stderr: "null" })
      .output();
    return r.success ? new TextDecoder().decode(r.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** The short commit, with `-dirty` when the tree has uncommitted changes. */
export async function gitRevision(): Promise<string> {
  const head = await git("rev-parse", "--short=12", "HEAD");
  if (head === undefined) return "unknown";
  const status = await git("status", "--porcelain", "--untracked-files=no");
  return status === "" ? head : `${head}-dirty`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string" }, revision: { type: "string" } },
    strict: true,
  });
  const out = values.out ?? "dist/sipmi";
  const revision = values.revision ?? await gitRevision();
  await Deno.mkdir(`${ROOT}/dist`, { recursive: true });
  await Deno.writeTextFile(`${ROOT}/${STAMP}`, revision + "\n");
  console.log(`revision ${revision} -> ${STAMP}`);
  const args = compileArgs(out);
  console.log(`deno ${args.join(" ")}`);
  const r = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT }).spawn().status;
  Deno.exit(r.code);
}
