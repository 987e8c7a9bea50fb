// The 1152-CPU capture through the MI commands, on the synthetic sysfs of
// tests/tuning_big_root.ts: the NIC's 94 queue IRQs found through msi_irqs,
// fdir/misc kept apart, >32-CPU masks, and tune_show/doctor at that size.

import assert from "node:assert/strict";
import { BIG_NIC, buildBigRoot } from "./tuning_big_root.ts";
import { assertGolden, type Json, rootWith, tuningMi } from "./tuning_support.ts";

Deno.test("1152 CPUs: irq_list --nic by IRQ names when /sys has no such NIC (bare /proc capture)", async () => {
  const { fixtureText } = await import("./tuning_support.ts");
  await using root = await rootWith({
    "/proc/interrupts": await fixtureText("pcp_interrupts-1152cpu-x86_64.gz"),
  });
  const r = await tuningMi(root.path).result<Json>("irq_list", { nic: BIG_NIC });
  assert.equal(r.source, "IRQ names in /proc/interrupts");
  assert.equal(r.count, 94);
  assert.ok(r.irqs.every((i: Json) => /^i40e-enp195s0f3-TxRx-[0-9]+$/.test(i.name)));
  // No /proc/irq in the capture: affinity unknown, not an error.
  assert.deepEqual([r.irqs[0].smp_affinity_list, r.irqs[0].changeable], [null, null]);
});

Deno.test("1152 CPUs: nic_describe, irq_list, tune_show and tune_doctor on the synthetic big host", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sipmi_big_" });
  try {
    await buildBigRoot(dir);
    const mi = tuningMi(dir);
    const nic = await mi.result<Json>("nic_describe");
    assert.equal(nic.name, BIG_NIC);
    assert.equal(nic.queue_irqs.length, 94);
    assert.deepEqual(nic.queue_irqs.map((q: Json) => q.queue), [...Array(94).keys()]);
    assert.deepEqual(nic.other_irqs.map((o: Json) => o.role).sort(), ["fdir", "misc"]);
    assert.equal(nic.numa_node, 6);
    assert.equal(nic.tx_queues[93].xps_cpus, "93");
    assert.equal(nic.rx_queues[0].rps_cpus, "");
    const irqs = await mi.result<Json>("irq_list", { nic: BIG_NIC });
    assert.equal(irqs.count, 96);
    assert.equal(irqs.irqs[0].smp_affinity_list, "0-1151");
    const show = await mi.result<Json>("tune_show");
    assert.equal(show.cpus.cpus.length, 1152);
    assert.equal(show.cpus.smt_groups.length, 576);
    const doctor = await mi.result<Json>("tune_doctor", { interval: 0 });
    const ids = doctor.findings.map((f: Json) => f.id);
    assert.ok(ids.includes("nic_irq_spread") && ids.includes("nic_irq_remote_numa"), ids.join());
    await assertGolden("big_tune_doctor", doctor);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
