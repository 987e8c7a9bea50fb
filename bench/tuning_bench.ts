// Benchmark (not a test) of the tuning read side at 1152 CPUs: the captured
// PCP /proc/interrupts (13.4 MB, 1056 rows) and /proc/softirqs inside the
// synthetic big-host sysfs of tests/tuning_big_root.ts.
//
//   deno bench -A bench/tuning_bench.ts
//
// `irq_list` and `tune_show` run through the MI core exactly as the CLI and
// the daemon run them; the parser alone and the whole CLI process
// (`sipmi tune show --root ...`, including Deno start-up) are measured too.
// `tune_plan` and `tune_verify` plan a profile for the 94-queue NIC (spread
// over 72 NUMA-local SIP cores, RPS on every queue): what an apply and the
// daemon's periodic verification cost on such a host.

import { buildMi } from "../app.ts";
import { defaults } from "../config/spec.ts";
import { configSpec } from "../config/schema.ts";
import { runCall } from "../mi/script.ts";
import { parseInterrupts } from "../tuning/interrupts.ts";
import { BIG_NIC, buildBigRoot } from "../tests/tuning_big_root.ts";

const root = await Deno.makeTempDir({ prefix: "sipmi_bench_1152_" });
await buildBigRoot(root);
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

const config = defaults(configSpec);
config.tuning.root = root;
config.log_level = -3;
const mi = buildMi(config);
const ep = mi.core.endpoint({ transport: "bench" });
const interrupts = await Deno.readTextFile(`${root}/proc/interrupts`);
const main = new URL("../main.ts", import.meta.url).pathname;

async function call(method: string, params?: Record<string, unknown>): Promise<void> {
  const reply = await runCall(ep, { method, params });
  if (!reply.startsWith('{"jsonrpc":"2.0","result"')) {
    throw new Error(`${method}: ${reply.slice(0, 300)}`);
  }
}

Deno.bench("parse /proc/interrupts (1152 CPUs, 13.4 MB)", { group: "irq" }, () => {
  parseInterrupts(interrupts);
});

Deno.bench(
  "irq_list (1152 CPUs, 1056 IRQs, reply JSON)",
  { group: "irq", baseline: true },
  async () => {
    await call("irq_list");
  },
);

Deno.bench(`irq_list nic=${BIG_NIC} (96 IRQs)`, { group: "irq" }, async () => {
  await call("irq_list", { nic: BIG_NIC });
});

Deno.bench("tune_show (1152 CPUs, 94-queue NIC)", { group: "show", baseline: true }, async () => {
  await call("tune_show");
});

Deno.bench("tune_doctor interval=0 (1152 CPUs)", { group: "show" }, async () => {
  await call("tune_doctor", { interval: 0 });
});

/** SIP cores on the NIC's node 6 (cores 432-467 and their siblings), the rest housekeeping. */
const PROFILE = {
  sip_cpus: "432-467,1008-1043",
  nics: [{ name: BIG_NIC, irqs: "spread", numa_local: true }],
  default_irq_affinity: "housekeeping",
  rps: [{ nic: BIG_NIC, cpus: "sip_cpus" }],
  processes: [{ unit: "opensips.service" }],
};

// The plan is not empty on the captured host: check once that it plans what it should.
{
  const r = JSON.parse(await runCall(ep, { method: "tune_plan", params: { profile: PROFILE } }));
  if (
    r.error !== undefined || r.result.changes.length !== 94 + 94 + 1 || r.result.errors.length > 0
  ) {
    throw new Error(
      `tune_plan on the 1152-CPU host: ${JSON.stringify(r.error ?? r.result.errors)}`,
    );
  }
}

Deno.bench(
  "tune_plan (1152 CPUs, 94 queue IRQs, 94 RPS queues)",
  { group: "plan", baseline: true },
  async () => {
    await call("tune_plan", { profile: PROFILE });
  },
);

Deno.bench("tune_verify (1152 CPUs, same profile)", { group: "plan" }, async () => {
  await call("tune_verify", { profile: PROFILE });
});

Deno.bench(
  "sipmi tune show --root (whole CLI process)",
  { group: "cli", n: 5, warmup: 1 },
  async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "tune", "show", "--root", root],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  },
);
