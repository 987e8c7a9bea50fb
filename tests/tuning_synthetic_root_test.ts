// Scenarios no capture holds, built on a copy of the VM root: a SIP router
// with threads on different CPUs in its systemd unit's cgroup, a running
// irqbalance whose environment differs from its file, pinned IRQs, an
// isolated CPU, a NUMA-local NIC. Only /proc and /sys files are written,
// so these run anywhere.

import assert from "node:assert/strict";
import {
  assertGolden,
  irqbalance,
  type Json,
  opensips,
  PCI,
  tuningMi,
  vmRoot,
  write,
} from "./tuning_support.ts";

const SPREAD = { main: "1", udp: "1", timer: "0-1", child: "1" };

Deno.test("affinity_get on status files: per-thread masks, by pid, name and unit", async () => {
  await using root = await vmRoot((dir) => write(dir, opensips(SPREAD)));
  const mi = tuningMi(root.path);
  const one = await mi.result<Json>("affinity_get", { pid: 4242, threads: true });
  assert.equal(one.source, "status");
  const p = one.processes[0];
  assert.deepEqual([p.comm, p.threads, p.cpus, p.uniform, p.agree], [
    "opensips",
    3,
    "1",
    false,
    null,
  ]);
  assert.deepEqual(p.thread_cpus, { "1": 2, "0-1": 1 });
  assert.deepEqual(p.tasks.map((t: Json) => [t.tid, t.comm, t.cpus]), [
    [4242, "opensips", "1"],
    [4243, "udp receiver", "1"],
    [4244, "timer", "0-1"],
  ]);
  await assertGolden("synthetic_affinity_pid_threads", one);

  const byName = await mi.result<Json>("affinity_get", { name: "^opensips$" });
  assert.deepEqual(byName.processes.map((x: Json) => x.pid), [4242, 4300]);
  assert.equal(byName.processes[0].tasks, undefined);
  const byUnit = await mi.result<Json>("affinity_get", { unit: "opensips" });
  assert.deepEqual(byUnit.selector, { unit: "opensips.service" });
  assert.deepEqual(byUnit.processes.map((x: Json) => x.pid), [4242, 4300]);
  assert.equal(byUnit.cpus, "0-1");
  // pid, name and unit are one-param recipes each: positional use is ambiguous (OpenSIPS rule).
  const pos = await mi.call("affinity_get", [4300]);
  assert.equal(pos.error?.data, "Ambiguous call, use named parameters instead");
});

Deno.test("affinity_get: nothing found is 404; bad params are -32602", async () => {
  await using root = await vmRoot((dir) => write(dir, opensips(SPREAD)));
  const mi = tuningMi(root.path);
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ pid: 999999 }, 404, /no process 999999/],
    [{ name: "^nginx$" }, 404, /no process matching \/\^nginx\$\//],
    [{ unit: "kamailio" }, 404, /no process in unit kamailio.service/],
    [{ pid: -4 }, -32602, /positive process id/],
    [{ pid: "x" }, -32602, /Bad type for parameter 'pid'/],
    [{ name: "(" }, -32602, /Bad regular expression in 'name'/],
    [{ unit: "../x" }, -32602, /systemd unit name/],
    [{ pid: 4242, threads: "maybe" }, -32602, /'threads' must be true or false/],
    [{ pid: 1, name: "x" }, -32602, /Named parameters do not match|Too few or too many/],
  ];
  for (const [params, code, re] of cases) {
    const r = await mi.call("affinity_get", params);
    assert.equal(r.error?.code, code, JSON.stringify(params));
    assert.match(`${r.error?.message} ${r.error?.data ?? ""}`, re, JSON.stringify(params));
  }
});

Deno.test("irqbalance_status: the running daemon's environment and --banirq win; restart needed", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, {
      ...irqbalance("IRQBALANCE_BANNED_CPULIST=1\0LANG=C\0", ["--banirq=36", "--banirq", "38"]),
      "/etc/default/irqbalance":
        '# test\nIRQBALANCE_BANNED_CPULIST=0\nIRQBALANCE_ARGS="--banirq=36"\nnonsense line\n',
    })
  );
  const r = await tuningMi(root.path).result<Json>("irqbalance_status");
  assert.deepEqual(
    [r.running, r.pids, r.effective_from, r.banned_cpus, r.banned_cpus_source],
    [true, [777], "process", "1", "IRQBALANCE_BANNED_CPULIST"],
  );
  assert.deepEqual(r.banned_irqs, [36, 38]);
  assert.equal(r.restart_needed, true);
  assert.deepEqual(r.problems, [
    "/etc/default/irqbalance:4: not KEY=VALUE, ignored: 'nonsense line'",
  ]);
  assert.deepEqual(r.settings, { IRQBALANCE_BANNED_CPULIST: "0", IRQBALANCE_ARGS: "--banirq=36" });
  await assertGolden("synthetic_irqbalance_running", r);
});

Deno.test("irqbalance_status: deprecated BANNED_CPUS wins over BANNED_CPULIST; /etc/sysconfig is read too", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, {
      "/etc/sysconfig/irqbalance": "IRQBALANCE_BANNED_CPULIST=0\nIRQBALANCE_BANNED_CPUS=00000002\n",
    })
  );
  const r = await tuningMi(root.path).result<Json>("irqbalance_status");
  assert.deepEqual(
    [r.config_file, r.banned_cpus, r.banned_cpus_source, r.deprecated_mask_wins],
    ["/etc/sysconfig/irqbalance", "1", "IRQBALANCE_BANNED_CPUS", true],
  );
});

Deno.test("tune_doctor: every placement finding with its evidence", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, {
      // SIP threads all on CPU 1; the NIC queue IRQs pinned to CPU 0.
      ...opensips({ main: "1", udp: "1", timer: "1", child: "1" }),
      "/proc/irq/38/smp_affinity_list": "0\n",
      "/proc/irq/38/smp_affinity": "1\n",
      "/proc/irq/38/effective_affinity_list": "0\n",
      "/proc/irq/39/effective_affinity_list": "0\n",
      // irqbalance runs and bans nothing.
      ...irqbalance("IRQBALANCE_BANNED_CPULIST=\0", []),
      // CPU 1 is isolated: the managed IRQ 36 (effective 1) sits on it.
      "/sys/devices/system/cpu/isolated": "1\n",
      // The NIC is local to node 0 = CPU 0; IRQ 39 is allowed on 0-1.
      [`${PCI}/numa_node`]: "0\n",
      [`${PCI}/local_cpulist`]: "0\n",
      "/etc/default/irqbalance": "IRQBALANCE_BANNED_CPUS=2\nIRQBALANCE_BANNED_CPULIST=1\n",
    })
  );
  const r = await tuningMi(root.path, { sip: { nic: "eth0" } }).result<Json>("tune_doctor", {
    interval: 0,
  });
  const ids = r.findings.map((f: Json) => f.id);
  for (
    const id of [
      "nic_irq_spread",
      "irqbalance_unbanned",
      "sip_threads_irq_disjoint",
      "managed_irq_on_isolated",
      "irqbalance_deprecated_mask",
      "irqbalance_restart_needed",
    ]
  ) {
    assert.ok(ids.includes(id), `${id} missing from ${ids.join(", ")}`);
  }
  const disjoint = r.findings.find((f: Json) => f.id === "sip_threads_irq_disjoint");
  assert.deepEqual(disjoint.evidence, [
    "unit opensips.service: 2 processes, threads on CPUs 1",
    "eth0 queue IRQs on CPUs 0",
  ]);
  const managed = r.findings.find((f: Json) => f.id === "managed_irq_on_isolated");
  assert.deepEqual(managed.evidence, ["IRQ 36 (virtio1-req.0) on CPUs 1; isolated/nohz_full 1"]);
  // Effective CPU 0 is local, so no remote-NUMA finding for these queues.
  assert.ok(!ids.includes("nic_irq_remote_numa"));
  await assertGolden("synthetic_tune_doctor", r);
});

Deno.test("tune_doctor: NIC IRQs on a remote NUMA node", async () => {
  await using root = await vmRoot((dir) =>
    write(dir, { [`${PCI}/numa_node`]: "0\n", [`${PCI}/local_cpulist`]: "0\n" })
  );
  const r = await tuningMi(root.path, { sip: { nic: "eth0" } }).result<Json>("tune_doctor", {
    interval: 0,
  });
  const remote = r.findings.find((f: Json) => f.id === "nic_irq_remote_numa");
  assert.deepEqual(remote.evidence, [
    "IRQ 38 (virtio2-input.0) on CPUs 1, outside node 0 (0)",
  ]);
});

Deno.test("tune_show finds the SIP router by unit and shows its threads' CPUs", async () => {
  await using root = await vmRoot((dir) => write(dir, opensips(SPREAD)));
  const r = await tuningMi(root.path, { sip: { nic: "eth0" } }).result<Json>("tune_show");
  assert.equal(r.sip.found_by, "unit opensips.service");
  assert.equal(r.sip.affinity.cpus, "0-1");
  assert.deepEqual(r.sip.affinity.processes.map((p: Json) => p.thread_cpus), [
    { "1": 2, "0-1": 1 },
    { "1": 1 },
  ]);
  // Configured process names are the fallback when no unit has processes.
  const byName = await tuningMi(root.path, {
    sip: { nic: "eth0", units: ["sip.service"], process_names: ["opensips"] },
  }).result<Json>("tune_show");
  assert.equal(byName.sip.found_by, "name opensips");
});
