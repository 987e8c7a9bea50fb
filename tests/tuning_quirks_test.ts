// What distro kernels actually print (tests/fixtures/kernel-quirks): a
// nohz_full that reads "(null)", a memory-only NUMA node with an empty
// cpulist, an IRQ that never started with empty effective affinity. These
// are empty CPU sets; every command that reads them answers normally, and
// a profile plans and applies on such a host.

import assert from "node:assert/strict";
import { type Json, quirkRoot, tuningMi, tuningRig } from "./tuning_support.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test("(null) and empty cpulists are empty sets: cpu_list, irq_list, irqbalance_status, tune_show, tune_doctor", async () => {
  await using root = await quirkRoot();
  assert.equal(
    await Deno.readTextFile(`${root.path}/sys/devices/system/cpu/nohz_full`),
    "(null)\n",
  );
  const mi = tuningMi(root.path, { sip: { nic: "eth0" } });
  const cpus = await mi.result<Json>("cpu_list");
  assert.deepEqual([cpus.nohz_full, cpus.isolated], ["", ""]);
  assert.deepEqual(cpus.nodes, [{ node: 0, cpus: "0-1" }, { node: 1, cpus: "" }]);
  const irqs = await mi.result<Json>("irq_list", { match: "virtio3-event" });
  assert.deepEqual(irqs.irqs.map((i: Json) => [i.irq, i.effective_affinity_list]), [["43", ""]]);
  const ib = await mi.result<Json>("irqbalance_status");
  assert.deepEqual([ib.banned_cpus, ib.banned_cpus_source], ["", "isolated+nohz_full"]);
  assert.equal((await mi.result<Json>("tune_show")).cpus.nohz_full, "");
  const doc = await mi.result<Json>("tune_doctor", { interval: 0 });
  assert.ok(Array.isArray(doc.findings));
});

Deno.test("tune cpus, show and irqbalance exit 0 on such a host; a profile plans and applies", async () => {
  await using root = await quirkRoot();
  for (const sub of [["cpus"], ["show", "--nic", "eth0"], ["irqbalance"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "tune", "--root", root.path, ...sub],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `tune ${sub.join(" ")}: ${err}`);
    assert.equal(err, "");
  }
  const rig = tuningRig(root.path);
  const r = await rig.result<Json>("tune_apply", {
    profile: { sip_cpus: "1", nics: [{ name: "eth0", irqs: "spread" }] },
  });
  assert.equal(r.status, "applied");
});
