// The release build's inputs: the flags the daemon runs with are the same
// for `deno task start`, `deno task compile` and the CI smoke run; the
// revision is stamped by the build, read only by a compiled binary.

import assert from "node:assert/strict";
import { compileArgs, gitRevision, INCLUDES, STAMP } from "../build/compile.ts";
import { readRevision } from "../mi/version.ts";
import { ENTRY, RUNTIME_FLAGS } from "../service/runtime.ts";
import { sipmi } from "./helpers/daemon.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("release: deno.json tasks and the compile line carry the daemon's runtime flags", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  assert.equal(tasks.start, `deno run ${RUNTIME_FLAGS.join(" ")} ${ENTRY} serve`);
  assert.equal(tasks.compile, "deno run -A build/compile.ts");
  assert.equal(tasks.smoke, "deno run -A build/smoke.ts");
  const args = compileArgs("dist/sipmi");
  assert.deepEqual(args.slice(0, RUNTIME_FLAGS.length + 1), ["compile", ...RUNTIME_FLAGS]);
  for (const f of INCLUDES) assert.ok(args.join(" ").includes(`--include ${f}`), f);
  assert.deepEqual(args.slice(-3), ["-o", "dist/sipmi", ENTRY]);
  assert.ok(INCLUDES.includes(STAMP));
});

Deno.test("release: the revision stamp is read as written; anything else is 'unknown'", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = new URL(`file://${dir}/REVISION`);
    assert.equal(readRevision(f), "unknown");
    await Deno.writeTextFile(f, "0123456789ab-dirty\n");
    assert.equal(readRevision(f), "0123456789ab-dirty");
    await Deno.writeTextFile(f, "$(reboot)\n");
    assert.equal(readRevision(f), "unknown");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("release: the build takes the revision from git", async (t) => {
  const git = await new Deno.Command("git", {
    args: ["rev-parse", "HEAD"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  })
    .output().catch(() => undefined);
  if (!git?.success) {
    console.log("SKIP: no git checkout here");
    return;
  }
  const head = new TextDecoder().decode(git.stdout).trim();
  const rev = await gitRevision();
  assert.match(rev, /^[0-9a-f]{12}(-dirty)?$/);
  assert.ok(head.startsWith(rev.slice(0, 12)));
  await t.step("a source checkout says 'unknown', and names Deno", async () => {
    const v = await sipmi("version");
    assert.equal(v.code, 0, v.err);
    const lines = v.out.trim().split("\n");
    assert.match(lines[0], /^sipmi \(0\.1\.0 \(/);
    assert.equal(lines[1], "revision: unknown");
    assert.equal(lines[2].split(" ")[0], "deno:");
    assert.ok(lines[2].startsWith(`deno: ${Deno.version.deno} (v8 `));
  });
});
