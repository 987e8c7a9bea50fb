// Benchmark (not a test) of the pattern matcher (sys/pattern.ts) on the
// classic catastrophic shapes, and of `tune affinity --name` / `tune irq
// list --match` (`affinity_get`, `irq_list` through the MI core, as the CLI
// and the daemon run them) with such a pattern against long names. Each
// group has a ten-times-longer input: linear time is ten times the time.
// (V8's own RegExp takes about 4.5 s for '^(a+)+$' on 29 characters and
// twice that for each more.)
//
//   deno bench -A bench/pattern_bench.ts

import { compilePattern } from "../sys/pattern.ts";
import { buildMi } from "../app.ts";
import { defaults } from "../config/spec.ts";
import { configSpec } from "../config/schema.ts";
import { runCall } from "../mi/script.ts";

const SHAPES = ["^(a+)+$", "(a|aa)+$", "^(\\w+\\s?)*$", "(.*a){12}$"];

for (const shape of SHAPES) {
  const p = compilePattern(shape);
  for (const n of [1_000, 10_000, 100_000]) {
    const text = "a".repeat(n) + "!";
    Deno.bench(`/${shape}/ on ${n} characters`, { group: shape, baseline: n === 1_000 }, () => {
      p.test(text);
    });
  }
}

/** A root with `count` processes whose argv[0] is `len` 'a's and a '!', and as many IRQs named so. */
async function longNamesRoot(count: number, len: number): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "sipmi_bench_patterns_" });
  const name = "a".repeat(len) + "!";
  const header = "           CPU0       CPU1\n";
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const pid = 1000 + i;
    const dir = `${root}/proc/${pid}`;
    await Deno.mkdir(`${dir}/task/${pid}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/comm`, "aaaaaaaaaaaaaa!\n");
    await Deno.writeTextFile(`${dir}/cmdline`, `/usr/bin/${name}\0--flag\0`);
    const status = `Name:\taaaa\nTgid:\t${pid}\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\n`;
    await Deno.writeTextFile(`${dir}/status`, status);
    await Deno.writeTextFile(`${dir}/task/${pid}/status`, status);
    await Deno.writeTextFile(`${dir}/task/${pid}/comm`, "aaaaaaaaaaaaaa!\n");
    rows.push(`${String(24 + i).padStart(4)}:          1          2  PCI-MSI 1-edge      ${name}`);
  }
  await Deno.mkdir(`${root}/sys/devices/system/cpu`, { recursive: true });
  await Deno.writeTextFile(`${root}/sys/devices/system/cpu/online`, "0-1\n");
  await Deno.writeTextFile(`${root}/proc/interrupts`, header + rows.join("\n") + "\n");
  return root;
}

const roots: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const r of roots) Deno.removeSync(r, { recursive: true });
});

for (const len of [1_000, 10_000]) {
  const root = await longNamesRoot(50, len);
  roots.push(root);
  const config = defaults(configSpec);
  config.tuning.root = root;
  config.log_level = -3;
  const ep = buildMi(config).core.endpoint({ transport: "bench" });
  // Runs the command once first: the reply must be what the command answers for no match.
  const check = async (method: string, params: Record<string, unknown>) => {
    const r = JSON.parse(await runCall(ep, { method, params }));
    if (r.error !== undefined && r.error.code !== 404) throw new Error(JSON.stringify(r.error));
  };
  await check("affinity_get", { name: "^(a+)+$" });
  await check("irq_list", { match: "^(a+)+$" });
  Deno.bench(
    `affinity_get name=^(a+)+$, 50 processes named ${len} a's and '!'`,
    { group: "affinity_get", baseline: len === 1_000 },
    async () => {
      await runCall(ep, { method: "affinity_get", params: { name: "^(a+)+$" } });
    },
  );
  Deno.bench(
    `irq_list match=^(a+)+$, 50 IRQs named ${len} a's and '!'`,
    { group: "irq_list", baseline: len === 1_000 },
    async () => {
      await runCall(ep, { method: "irq_list", params: { match: "^(a+)+$" } });
    },
  );
}
