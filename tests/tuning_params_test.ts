// Bad params of the tuning commands: -32602 with a message that says which
// param and what it must be; the recipes accept the filters as named params.

import assert from "node:assert/strict";
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
    ]
  ) {
    assert.ok(which.includes(c), c);
    const help = await mi.result<Record<string, string>>("help", { mi_cmd: c });
    assert.ok(!JSON.stringify(help).includes("\\n"), c);
  }
});
