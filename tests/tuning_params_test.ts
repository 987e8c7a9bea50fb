// Bad params of the tuning commands: -32602 with a message that says which
// param and what it must be; the recipes accept the filters as named params.

import assert from "node:assert/strict";
import { buildMi } from "../app.ts";
import { configSpec } from "../config/schema.ts";
import { defaults } from "../config/spec.ts";
import { runCall } from "../mi/script.ts";
import { recipes } from "../tuning/module.ts";
import { tuningMi, vmRoot } from "./tuning_support.ts";

Deno.test("recipes: required params plus every subset of the optional ones", () => {
  assert.deepEqual(recipes([], ["nic", "match"]), [[], ["nic"], ["match"], ["nic", "match"]]);
  assert.deepEqual(recipes(["pid"], ["threads"]), [["pid"], ["pid", "threads"]]);
});

Deno.test("bad params are -32602 naming the param", async () => {
  await using root = await vmRoot();
  const mi = tuningMi(root.path);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["irq_list", { match: "x".repeat(201) }, /'match' must be a regular expression of 1..200/],
    ["irq_list", { match: "" }, /'match' must be a regular expression/],
    ["irq_list", { nic: "../eth0" }, /'nic' must be an interface name/],
    ["irq_list", { nic: 5 }, /Bad type for parameter 'nic'/],
    ["irq_list", { bogus: 1 }, /Too few or too many parameters|Named parameters do not match/],
    ["host_stats", { interval: 61 }, /'interval' must be seconds between 0 and 60/],
    ["host_stats", { interval: "soon" }, /'interval' must be seconds/],
    ["host_stats", { ports: [0] }, /'ports' must be UDP port numbers \(1-65535\), not 0/],
    ["host_stats", { ports: ["x"] }, /not "x"/],
    ["tune_doctor", { interval: -1 }, /'interval' must be seconds/],
    ["cpu_list", { x: 1 }, /Too few or too many parameters/],
    ["irq_set_affinity", { irq: 38, cpus: "1-" }, /'cpus' must be a cpulist such as "2-3"/],
    ["irq_set_affinity", { irq: "38;39", cpus: "1" }, /'irq' must be IRQ numbers, not "38;39"/],
    ["irq_set_affinity", { match: "(", cpus: "1" }, /Bad regular expression in 'match'/],
    [
      "irq_set_affinity",
      { irq: 38, cpus: "1", dry_run: "maybe" },
      /'dry_run' must be true or false/,
    ],
    ["irq_spread", { nic: "eth0", cpus: "7" }, /cpus: CPU 7 is not online here \(online: 0-1\)/],
    ["irqbalance_ban", { unban: false }, /'unban' must be true/],
    ["affinity_set", { pid: 1, cpus: "5" }, /'cpus': none of 5 is online/],
    ["rps_set", { nic: "eth0", cpus: "none" }, /'cpus' must be a cpulist such as "2-3" or "off"/],
    [
      "tune_apply",
      { confirm_timeout: 0 },
      /'confirm_timeout' must be whole seconds from 1 to 3600/,
    ],
    ["tune_apply", { profile: 5 }, /'profile' must be a profile file path or a profile object/],
    ["tune_rollback", { profile: {} }, /'profile' of tune_rollback must be a profile file path/],
  ];
  for (const [method, params, re] of cases) {
    const r = await mi.call(method, params);
    assert.equal(
      r.error?.code,
      -32602,
      `${method} ${JSON.stringify(params)}: ${JSON.stringify(r)}`,
    );
    assert.match(r.error?.data ?? "", re, `${method} ${JSON.stringify(params)}`);
  }
  // Strings for numbers work as OpenSIPS clients send them.
  const ok = await mi.call("host_stats", { ports: "5060", interval: "0" });
  assert.equal(ok.error, undefined);
});

Deno.test("help lists every tuning command with one line", async () => {
  await using root = await vmRoot();
  const mi = tuningMi(root.path);
  const which = (await mi.result<string[]>("which")) as string[];
  for (
    const c of [
      "cpu_list",
      "irq_list",
      "nic_describe",
      "irqbalance_status",
      "affinity_get",
      "host_stats",
      "tune_doctor",
      "tune_show",
      "irq_set_affinity",
      "irq_spread",
      "irq_default_affinity",
      "irqbalance_ban",
      "affinity_set",
      "rps_set",
      "tune_plan",
      "tune_apply",
      "tune_verify",
      "tune_rollback",
      "tune_snapshots",
      "tune_confirm",
      "tune_status",
    ]
  ) {
    assert.ok(which.includes(c), c);
    const help = await mi.result<Record<string, string>>("help", { mi_cmd: c });
    assert.ok(!JSON.stringify(help).includes("\\n"), c);
  }
});

Deno.test("changes are mutating (a read-only listener refuses them); dry runs and reads are not", async () => {
  await using root = await vmRoot();
  const config = defaults(configSpec);
  config.tuning.root = root.path;
  config.log_level = -3;
  const ep = buildMi(config).core.endpoint({ transport: "test", policy: { readOnly: true } });
  const call = async (method: string, params?: Record<string, unknown>) =>
    JSON.parse(await runCall(ep, { method, params })) as {
      result?: unknown;
      error?: { code: number };
    };
  const profile = { sip_cpus: "1", nics: [{ name: "eth0", irqs: "spread" }] };
  const refused: [string, Record<string, unknown> | undefined][] = [
    ["tune_apply", { profile }],
    ["tune_apply", { profile, dry_run: false }],
    ["tune_rollback", undefined],
    ["tune_confirm", undefined],
    ["irq_set_affinity", { irq: 38, cpus: "1" }],
    ["irq_spread", { nic: "eth0", cpus: "1" }],
    ["irq_default_affinity", { cpus: "0" }],
    ["irqbalance_ban", { cpus: "1" }],
    ["affinity_set", { pid: 1, cpus: "0" }],
    ["rps_set", { nic: "eth0", cpus: "off" }],
  ];
  for (const [method, params] of refused) {
    assert.equal(
      (await call(method, params)).error?.code,
      403,
      `${method} ${JSON.stringify(params)}`,
    );
  }
  const allowed: [string, Record<string, unknown> | undefined][] = [
    ["tune_plan", { profile }],
    ["tune_apply", { profile, dry_run: true }],
    ["irq_set_affinity", { irq: 38, cpus: "1", dry_run: true }],
    ["tune_verify", { profile }],
    ["tune_snapshots", undefined],
    ["tune_status", undefined],
  ];
  for (const [method, params] of allowed) {
    assert.equal(
      (await call(method, params)).error,
      undefined,
      `${method} ${JSON.stringify(params)}`,
    );
  }
  assert.equal(await Deno.readTextFile(`${root.path}/proc/irq/38/smp_affinity_list`), "0-1\n");
});
