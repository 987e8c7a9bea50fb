// The tuning MI commands on the captured 2-vCPU Firecracker root: a virtio
// NIC whose MSI vectors are listed on the parent PCI function, a
// kernel-managed IRQ (36) whose smp_affinity is 0444, a single-queue NIC
// without xps_cpus. Results are compared with tests/golden/vm_*.json.

import assert from "node:assert/strict";
import { assertGolden, FIXTURES, type Json, tuningMi, vmRoot } from "./tuning_support.ts";

const SIP = { nic: "eth0" };

Deno.test("cpu_list on the VM root", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path).result("cpu_list");
  assert.equal(r.online, "0-1");
  assert.equal(r.isolated, "");
  await assertGolden("vm_cpu_list", r);
});

Deno.test("irq_list on the VM root: numeric and named rows, managed IRQ 36 is not changeable", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path).result<{ cpus: number[]; irqs: Record<string, unknown>[] }>(
    "irq_list",
  );
  assert.deepEqual(r.cpus, [0, 1]);
  const by = Object.fromEntries(r.irqs.map((i) => [i.irq, i]));
  assert.equal(by["36"].name, "virtio1-req.0");
  assert.equal(by["36"].changeable, false);
  assert.match(String(by["36"].unchangeable_reason), /smp_affinity is mode 0444/);
  assert.equal(by["38"].changeable, true);
  assert.deepEqual(
    [by["38"].smp_affinity_list, by["38"].effective_affinity_list, by["38"].node],
    ["0-1", "1", -1],
  );
  assert.deepEqual([by.LOC.numeric, by.LOC.changeable, by.LOC.smp_affinity_list], [
    false,
    null,
    null,
  ]);
  await assertGolden("vm_irq_list", r);
});

Deno.test("irq_list filters: nic (msi_irqs of the parent PCI device) and match", async () => {
  await using root = await vmRoot();
  const mi = tuningMi(root.path);
  const nic = await mi.result<{ source: string; irqs: { irq: string }[] }>("irq_list", {
    nic: "eth0",
  });
  assert.equal(nic.source, "/sys/devices/pci0000:00/0000:00:03.0/msi_irqs");
  assert.deepEqual(nic.irqs.map((i) => i.irq), ["37", "38", "39"]);
  const m = await mi.result<{ irqs: { irq: string }[] }>("irq_list", {
    match: "^virtio2-(in|out)",
  });
  assert.deepEqual(m.irqs.map((i) => i.irq), ["38", "39"]);
  // Match also looks at the chip: every vector of PCI function 00:03.0.
  const chip = await mi.result<{ irqs: { irq: string }[] }>("irq_list", {
    nic: "eth0",
    match: "0000:00:03\\.0",
  });
  assert.equal(chip.irqs.length, 3);
});

Deno.test("nic_describe eth0: virtio on PCI 0000:00:03.0, queue map, RPS, no xps_cpus", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path, { sip: SIP }).result<Json>("nic_describe");
  assert.equal(r.driver, "virtio_net");
  assert.equal(r.pci_driver, "virtio-pci");
  assert.equal(r.bus_info, "0000:00:03.0");
  assert.equal(r.numa_node, -1);
  assert.equal(r.local_cpulist, "0-1");
  assert.deepEqual(
    r.queue_irqs.map((q: Json) => [q.queue, q.kind, q.irq, q.name]),
    [[0, "rx", "38", "virtio2-input.0"], [0, "tx", "39", "virtio2-output.0"]],
  );
  assert.deepEqual(r.other_irqs.map((o: Json) => [o.irq, o.role]), [["37", "config"]]);
  assert.deepEqual(r.rx_queues, [{ queue: "rx-0", rps_cpus: "", rps_flow_cnt: 0 }]);
  assert.deepEqual(r.tx_queues, []);
  await assertGolden("vm_nic_describe", r);
});

Deno.test("nic_describe: a tx queue whose xps_cpus is missing reads as null, not an error", async () => {
  await using root = await vmRoot(async (dir) => {
    const q = `${dir}/sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0/queues/tx-0`;
    await Deno.mkdir(q, { recursive: true });
    await Deno.writeTextFile(`${q}/xps_rxqs`, "0\n");
  });
  const r = await tuningMi(root.path).result<Json>("nic_describe", { nic: "eth0" });
  assert.deepEqual(r.tx_queues, [{ queue: "tx-0", xps_cpus: null, xps_rxqs: "" }]);
});

Deno.test("nic_describe of a virtual NIC and of a missing one", async () => {
  await using root = await vmRoot();
  const mi = tuningMi(root.path);
  const lo = await mi.result<Json>("nic_describe", { nic: "lo" });
  assert.deepEqual([lo.virtual, lo.driver, lo.queue_irqs.length], [true, null, 0]);
  const missing = await mi.call("nic_describe", { nic: "eth9" });
  assert.equal(missing.error?.code, 404);
  assert.match(missing.error!.message, /no network interface 'eth9'.*found: eth0, ifb0, ifb1, lo/);
  // No nic param, no tuning.sip.nic and no /proc/net/route in the capture.
  const none = await mi.call("nic_describe");
  assert.equal(none.error?.code, 404);
  assert.match(none.error!.message, /no SIP NIC: tuning.sip.nic is not set/);
});

Deno.test("the default-route NIC is the SIP NIC when none is configured", async () => {
  await using root = await vmRoot(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/proc/net/route`,
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
    );
  });
  const r = await tuningMi(root.path).result<Json>("nic_describe");
  assert.equal(r.name, "eth0");
});

Deno.test("irqbalance_status on the VM root (no config file, not running) and the Debian default file", async () => {
  await using root = await vmRoot();
  const bare = await tuningMi(root.path).result<Json>("irqbalance_status");
  assert.deepEqual([bare.config_file, bare.running, bare.effective_from], [
    null,
    false,
    "defaults",
  ]);
  await Deno.mkdir(`${root.path}/etc/default`, { recursive: true });
  await Deno.copyFile(
    `${FIXTURES}etc-irqbalance/debian-bookworm-default`,
    `${root.path}/etc/default/irqbalance`,
  );
  const deb = await tuningMi(root.path).result<Json>("irqbalance_status");
  assert.equal(deb.config_file, "/etc/default/irqbalance");
  assert.deepEqual(deb.settings, {});
  assert.equal(deb.banned_cpus_source, "isolated+nohz_full");
  assert.deepEqual(deb.problems, []);
  await assertGolden("vm_irqbalance_debian_default", deb);
});

Deno.test("host_stats on the VM root: 15-column softnet, 9-field Udp, NIC counters", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path, { sip: SIP }).result<Json>("host_stats");
  assert.equal(r.softnet_columns, 15);
  assert.equal(r.rates, null);
  assert.deepEqual(r.cpus.map((c: Json) => [c.cpu, c.net_rx]), [[0, 10514879], [1, 10636550]]);
  assert.equal(r.nic.name, "eth0");
  await assertGolden("vm_host_stats", r);
});

Deno.test("host_stats with an interval gives rates (zero on a still capture)", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path, { sip: SIP }).result<Json>("host_stats", {
    interval: 0.05,
  });
  assert.ok(r.interval >= 0.05);
  assert.deepEqual(r.rates.cpus.map((c: Json) => c.net_rx), [0, 0]);
  assert.equal(r.rates.totals.udp_rcvbuf_errors, 0);
});

Deno.test("host_stats: per-socket drops of the SIP ports (udp with drops, udp6)", async () => {
  await using root = await vmRoot(async (dir) => {
    for (const f of ["udp", "udp6", "snmp", "snmp6"]) {
      await Deno.copyFile(`${FIXTURES}vm-udp-drops/proc/net/${f}`, `${dir}/proc/net/${f}`);
    }
  });
  const r = await tuningMi(root.path).result<Json>("host_stats", {
    ports: [5060, 5080],
  });
  assert.deepEqual(
    r.sockets.map((s: Json) => [s.proto, s.local, s.drops]),
    [["udp", "127.0.0.1:5060", 294], ["udp", "127.0.0.1:5080", 0], ["udp6", "[::1]:5060", 294]],
  );
  assert.equal(r.totals.socket_drops, 588);
  assert.equal(r.totals.udp_rcvbuf_errors, 294);
  assert.equal(r.totals.udp6_rcvbuf_errors, 294);
  await assertGolden("vm_host_stats_udp_drops", r);
});

Deno.test("MI statistics groups on the VM root: softnet:, softirq:, udp:, udp6:, irq:, nic:", async () => {
  await using root = await vmRoot();
  const mi = tuningMi(root.path, { sip: SIP });
  const r = await mi.result<Record<string, number>>("get_statistics", {
    statistics: ["softnet:", "softirq:", "udp:", "udp6:", "irq:", "nic:"],
  });
  assert.equal(r["softnet:cpu1_processed"], 0xa26f34);
  assert.equal(r["softnet:dropped"], 0);
  assert.equal(r["softirq:NET_RX_cpu1"], 10636550);
  assert.equal(r["udp:RcvbufErrors"], 0);
  assert.equal(r["udp:port_5060_drops"], 0);
  assert.equal(r["irq:38"], 7315);
  assert.equal(r["irq:LOC"], 326123 + 301504);
  assert.ok("nic:eth0_rx_dropped" in r);
  // No snmp6 in the capture: the group is empty, not an error.
  assert.ok(!Object.keys(r).some((k) => k.startsWith("udp6:")));
  // Each group that yields values says how old they are (a fresh read here).
  for (const g of ["softnet", "softirq", "udp", "irq", "nic"]) {
    const age = r[`${g}:sample_age_ms`];
    assert.ok(age >= 0 && age < 60_000, `${g}:sample_age_ms is ${age}`);
    delete r[`${g}:sample_age_ms`];
  }
  await assertGolden("vm_statistics", r);
  const list = await mi.result<Record<string, string>>("list_statistics", {
    statistics: ["softnet:"],
  });
  assert.equal(list["softnet:dropped"], "non-incremental");
});

Deno.test("tune_show on the VM root", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path, { sip: SIP }).result<Json>("tune_show");
  assert.equal(r.nic.name, "eth0");
  assert.equal(r.default_smp_affinity, "0-1");
  assert.equal(r.sip.found_by, null);
  await assertGolden("vm_tune_show", r);
});

Deno.test("tune_show without a SIP NIC shows why in the NIC section", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path).result<Json>("tune_show");
  assert.match(r.nic.error, /no SIP NIC/);
});

Deno.test("tune_doctor on the VM root (counters since boot)", async () => {
  await using root = await vmRoot();
  const r = await tuningMi(root.path, { sip: SIP }).result<Json>("tune_doctor", {
    interval: 0,
  });
  const ids = r.findings.map((f: Json) => f.id);
  assert.ok(ids.includes("nic_irq_spread"), ids.join());
  assert.ok(ids.includes("sip_router_not_found"), ids.join());
  assert.ok(ids.includes("nic_single_queue"), ids.join());
  assert.ok(r.skipped.some((s: Json) => s.check === "irqbalance_unbanned"));
  await assertGolden("vm_tune_doctor", r);
});
