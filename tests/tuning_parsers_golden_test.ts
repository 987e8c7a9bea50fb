// Golden tests of the /proc parsers on captured files (tests/fixtures,
// sources in tests/fixtures/SOURCES.md). Expected output lives in
// tests/golden/*.json; UPDATE_GOLDEN=1 rewrites it for review.

import assert from "node:assert/strict";
import { parseInterrupts, parseSoftirqs } from "../tuning/interrupts.ts";
import { parseSnmp, parseSnmp6 } from "../tuning/snmp.ts";
import { parseSoftnet } from "../tuning/softnet.ts";
import { parseUdpSockets } from "../tuning/udp_sockets.ts";
import { classifyIrqName } from "../tuning/nic_queues.ts";
import { assertGolden, FIXTURES, fixtureText, sha256, VM_ROOT } from "./tuning_support.ts";

Deno.test("1152-CPU /proc/interrupts: every row, >32-CPU columns, i40e queues vs fdir/misc", async () => {
  const text = await fixtureText("pcp_interrupts-1152cpu-x86_64.gz");
  // The gzip is a re-compression of PCP's .bz2; the content must be byte-identical.
  assert.equal(
    await sha256(text),
    "02adcc552416ac64e37f6dd1e6ef62aa4d7f411af14d6a579b7fdd42f88623fd",
  );
  const r = parseInterrupts(text);
  assert.equal(r.cpus.length, 1152);
  assert.deepEqual([r.cpus[0], r.cpus[1151]], [0, 1151]);
  assert.equal(r.rows.length, 1056);
  assert.ok(r.rows.filter((x) => x.numeric).every((x) => x.counts.length === 1152));
  const queues = r.rows.filter((x) => classifyIrqName(x.name).role === "queue");
  assert.equal(queues.length, 4 * 94);
  assert.ok(queues.every((q) => /^i40e-.*-TxRx-[0-9]+$/.test(q.name) && !q.name.includes("fdir")));
  const fdir = r.rows.filter((x) => x.name.includes("fdir"));
  assert.ok(fdir.length > 0 && fdir.every((x) => classifyIrqName(x.name).role === "other"));
  // Golden: everything but the 1.2 million counts, which are pinned by a digest.
  await assertGolden("interrupts_1152cpu", {
    cpus: r.cpus.length,
    counts_sha256: await sha256(JSON.stringify(r.rows.map((x) => x.counts))),
    rows: r.rows.map((x) => ({
      irq: x.irq,
      chip: x.chip,
      hwirq: x.hwirq,
      trigger: x.trigger,
      name: x.name,
      total: x.total,
      cpus_with_counts: x.counts.filter((c) => c > 0).length,
    })),
  });
});

Deno.test("1152-CPU /proc/softirqs", async () => {
  const text = await fixtureText("pcp_softirqs-1152cpu-x86_64.gz");
  assert.equal(
    await sha256(text),
    "8aeba3033b34315dff9c0c86d62307273bb8ccb5e9b96f56eeb01bd6a7014d9d",
  );
  const s = parseSoftirqs(text);
  assert.equal(s.cpus.length, 1152);
  const rows: Record<string, unknown> = {};
  for (const [name, counts] of s.rows) {
    assert.equal(counts.length, 1152, name);
    rows[name] = {
      total: counts.reduce((a, b) => a + b, 0),
      max: Math.max(...counts),
      cpus_with_counts: counts.filter((c) => c > 0).length,
      sha256: await sha256(JSON.stringify(counts)),
    };
  }
  await assertGolden("softirqs_1152cpu", { cpus: s.cpus.length, rows });
});

for (
  const [name, file, cpus, rows] of [
    ["interrupts_aarch64", "node_exporter_proc_interrupts_aarch64", 8, 59],
    ["interrupts_s390x", "pcp_interrupts-16cpu-s390x", 16, 58],
    ["interrupts_x86_8cpu", "pcp_interrupts-8cpu-x86_64", 8, 38],
  ] as const
) {
  Deno.test(`${name}: ${file}`, async () => {
    const r = parseInterrupts(await fixtureText(file));
    assert.equal(r.cpus.length, cpus);
    assert.equal(r.rows.length, rows);
    await assertGolden(name, r);
  });
}

Deno.test("arm64 and s390x layouts: GICv3 hwirq + Level/Edge; named rows without a numeric column", async () => {
  const arm = parseInterrupts(await fixtureText("node_exporter_proc_interrupts_aarch64"));
  const timer = arm.rows.find((r) => r.name === "arch_timer")!;
  assert.deepEqual([timer.chip, timer.hwirq, timer.trigger], ["GICv3", "27", "Level"]);
  assert.ok(arm.rows.some((r) => r.irq === "IPI0" && !r.numeric));
  const s390 = parseInterrupts(await fixtureText("pcp_interrupts-16cpu-s390x"));
  assert.deepEqual(s390.rows.slice(0, 3).map((r) => [r.irq, r.numeric]), [["EXT", false], [
    "I/O",
    false,
  ], ["AIO", false]]);
  const mlx = s390.rows.find((r) => r.name.startsWith("mlx5_comp0@"))!;
  assert.deepEqual([mlx.chip, mlx.hwirq, classifyIrqName(mlx.name)], ["PCI-MSI", null, {
    role: "queue",
    kind: "rxtx",
    queue: 0,
  }]);
});

Deno.test("softnet_stat with 9, 10, 11, 13 (one file), 11 and 15 columns", async () => {
  const mixed = parseSoftnet(
    await fixtureText("procfs_proc_net_softnet_stat_mixed_columns"),
    "/proc/net/softnet_stat",
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(
    mixed.rows.map((r) => [r.cpu, r.received_rps === null, r.backlog_len === null]),
    // Rows 1-2 have 13 columns (CPU id in column 13), rows 3-5 have 11, 9, 10.
    [[0, false, false], [1, false, false], [2, false, true], [3, true, true], [4, false, true]],
  );
  const eleven = parseSoftnet(await fixtureText("node_exporter_proc_net_softnet_stat"));
  assert.equal(eleven.columns, 11);
  const fifteen = parseSoftnet(await Deno.readTextFile(`${VM_ROOT}/proc/net/softnet_stat`));
  assert.equal(fifteen.columns, 15);
  assert.deepEqual(fifteen.rows.map((r) => r.cpu), [0, 1]);
  await assertGolden("softnet_stat", {
    mixed_9_10_11_13: mixed,
    node_exporter_11: eleven,
    vm_15: fifteen,
  });
});

Deno.test("snmp with 7 and 9 Udp fields, mapped by header name", async () => {
  const seven = parseSnmp(await fixtureText("node_exporter_proc_net_snmp")).get("Udp")!;
  const nine = parseSnmp(await fixtureText("pcp_procnet-snmp-5.14.7")).get("Udp")!;
  const vm = parseSnmp(await Deno.readTextFile(`${VM_ROOT}/proc/net/snmp`)).get("Udp")!;
  assert.equal(Object.keys(seven).length, 7);
  assert.equal(Object.keys(nine).length, 9);
  assert.deepEqual([seven.RcvbufErrors, seven.SndbufErrors, seven.MemErrors], [9, 8, undefined]);
  assert.deepEqual([nine.RcvbufErrors, nine.MemErrors], [5, 9]);
  const udp6 = parseSnmp6(
    await Deno.readTextFile(`${FIXTURES}vm-udp-drops/proc/net/snmp6`),
    "Udp6",
  );
  assert.equal(udp6.RcvbufErrors, 294);
  await assertGolden("snmp_udp", {
    udp_7_fields: seven,
    udp_9_fields: nine,
    vm: vm,
    vm_udp6: udp6,
  });
});

Deno.test("/proc/net/udp with and without drops, udp6", async () => {
  const old = parseUdpSockets(await fixtureText("node_exporter_proc_net_udp"), "udp");
  assert.deepEqual(old.map((s) => [s.local, s.drops]), [["0.0.0.0:22", null]]);
  const empty = parseUdpSockets(await Deno.readTextFile(`${VM_ROOT}/proc/net/udp`), "udp");
  assert.deepEqual(empty, []);
  const udp = parseUdpSockets(
    await Deno.readTextFile(`${FIXTURES}vm-udp-drops/proc/net/udp`),
    "udp",
  );
  const udp6 = parseUdpSockets(
    await Deno.readTextFile(`${FIXTURES}vm-udp-drops/proc/net/udp6`),
    "udp6",
  );
  assert.deepEqual(udp.find((s) => s.port === 5060)!.drops, 294);
  assert.deepEqual(udp6.map((s) => [s.local, s.drops]), [["[::1]:5060", 294]]);
  await assertGolden("udp_sockets", { without_drops: old, with_drops: udp, udp6 });
});
