// Malformed host files: every tuning command answers with an error that
// names the host file and line (code 500, "Bad host data"), never an
// internal error (-32603, an exception nobody handled) and never a crash.
// The last test truncates and garbles every file of the VM root at seeded
// random places and runs every command against each.

import assert from "node:assert/strict";
import { type Reply, tuningMi, vmRoot } from "./tuning_support.ts";

const NIC_DIR = "/sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0";

/** Replaces the line of `path` that matches `re` (in the temp root). */
async function editLine(root: string, path: string, re: RegExp, line: string): Promise<number> {
  const lines = (await Deno.readTextFile(root + path)).split("\n");
  const i = lines.findIndex((l) => re.test(l));
  assert.ok(i >= 0, `${path}: no line matches ${re}`);
  lines[i] = line;
  await Deno.writeTextFile(root + path, lines.join("\n"));
  return i + 1;
}

function assertBadData(r: Reply, where: string, detail: RegExp) {
  assert.equal(r.error?.code, 500, JSON.stringify(r));
  assert.equal(r.error?.message, "Bad host data");
  assert.ok(
    r.error?.data?.startsWith(`${where}: `),
    `'${r.error?.data}' should start with '${where}: '`,
  );
  assert.match(r.error!.data!, detail);
}

Deno.test("truncated and garbled /proc files: the error names file and line", async (t) => {
  const cases: {
    name: string;
    path: string;
    match: RegExp;
    line: string;
    method: string;
    params?: Record<string, unknown>;
    detail: RegExp;
    /** Lines the replacement adds before the bad one. */
    shift?: number;
  }[] = [
    {
      name: "interrupts: truncated IRQ row",
      path: "/proc/interrupts",
      match: /^ 38:/,
      line: " 38:          0",
      method: "irq_list",
      detail: /IRQ 38: expected 2 per-CPU counts, found 1 \(truncated line\?\)/,
    },
    {
      name: "interrupts: garbage in the counts",
      path: "/proc/interrupts",
      match: /^ 39:/,
      line: " 39:   0x1f   3 PCI-MSIX 2-edge virtio2-output.0",
      method: "nic_describe",
      params: { nic: "eth0" },
      detail: /IRQ 39: expected 2 per-CPU counts, found 0 \('0x1f' is not a count\)/,
    },
    {
      name: "interrupts: a line without a label",
      path: "/proc/interrupts",
      match: /^LOC:/,
      line: "garbage",
      method: "tune_show",
      params: { nic: "eth0" },
      detail: /expected 'NAME:' followed by counts, found 'garbage'/,
    },
    {
      name: "softirqs: truncated NET_RX",
      path: "/proc/softirqs",
      match: /NET_RX:/,
      line: "      NET_RX:   10514879",
      method: "host_stats",
      detail: /NET_RX: expected 2 per-CPU counts, found 1/,
    },
    {
      name: "softnet_stat: truncated row",
      path: "/proc/net/softnet_stat",
      match: /^00a26f34/,
      line: "00a26f34 00000000 00000002",
      method: "host_stats",
      detail: /expected at least 9 hex columns, found 3/,
    },
    {
      name: "snmp: truncated Udp values",
      path: "/proc/net/snmp",
      match: /^Udp: [0-9]/,
      line: "Udp: 3896920 79 0",
      method: "host_stats",
      detail: /Udp: 9 field names but 3 values/,
    },
    {
      name: "udp: truncated socket row",
      path: "/proc/net/udp",
      match: /^\s+sl/,
      line:
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  996: 0100007F:13C4 00000000:0000 07 00000000:00001E00",
      method: "host_stats",
      detail: /expected 13 fields starting with 'N:', found 5/,
      shift: 1,
    },
    {
      name: "smp_affinity_list: garbage cpulist",
      path: "/proc/irq/38/smp_affinity_list",
      match: /./,
      line: "zz",
      method: "irq_list",
      detail: /bad cpulist 'zz'/,
    },
    {
      name: "effective_affinity_list: range backwards",
      path: "/proc/irq/39/effective_affinity_list",
      match: /./,
      line: "1-0",
      method: "nic_describe",
      params: { nic: "eth0" },
      detail: /range '1-0' ends before it starts/,
    },
    {
      name: "node: not a number",
      path: "/proc/irq/38/node",
      match: /./,
      line: "node0",
      method: "irq_list",
      detail: /expected an integer, found 'node0'/,
    },
    {
      name: "rps_cpus: garbage mask",
      path: `${NIC_DIR}/queues/rx-0/rps_cpus`,
      match: /./,
      line: "0xff",
      method: "nic_describe",
      params: { nic: "eth0" },
      detail: /no '0x' prefix/,
    },
    {
      name: "NIC statistics: not a counter",
      path: `${NIC_DIR}/statistics/rx_dropped`,
      match: /./,
      line: "lots",
      method: "nic_describe",
      params: { nic: "eth0" },
      detail: /expected a counter, found 'lots'/,
    },
    {
      name: "cpu online: garbage",
      path: "/sys/devices/system/cpu/online",
      match: /./,
      line: "0-1,",
      method: "cpu_list",
      detail: /empty item between commas/,
    },
    {
      name: "local_cpulist of the PCI device",
      path: "/sys/devices/pci0000:00/0000:00:03.0/local_cpulist",
      match: /./,
      line: "all",
      method: "tune_doctor",
      params: { nic: "eth0", interval: 0 },
      detail: /'all' is not a CPU number/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using root = await vmRoot();
      const line = await editLine(root.path, c.path, c.match, c.line);
      const r = await tuningMi(root.path).call(c.method, c.params);
      assertBadData(r, `${c.path}:${line + (c.shift ?? 0)}`, c.detail);
    });
  }
});

Deno.test("a thread's status file without Cpus_allowed_list names the file", async () => {
  await using root = await vmRoot(async (dir) => {
    await Deno.mkdir(`${dir}/proc/50/task/50`, { recursive: true });
    await Deno.writeTextFile(`${dir}/proc/50/comm`, "x\n");
    await Deno.writeTextFile(`${dir}/proc/50/cmdline`, "x\0");
    await Deno.writeTextFile(`${dir}/proc/50/task/50/comm`, "x\n");
    await Deno.writeTextFile(`${dir}/proc/50/task/50/status`, "Name:\tx\nCpus_allowed_list:\t0-\n");
  });
  const r = await tuningMi(root.path).call("affinity_get", { pid: 50 });
  assertBadData(r, "/proc/50/task/50/status:2", /cannot read '0-'/);
});

Deno.test("a missing /proc/interrupts is a clear 500 naming the file", async () => {
  await using root = await vmRoot((dir) => Deno.remove(`${dir}/proc/interrupts`));
  const r = await tuningMi(root.path).call("irq_list");
  assert.equal(r.error?.code, 500);
  assert.equal(r.error?.message, "Cannot read host data");
  assert.match(r.error!.data!, /^cannot read \/proc\/interrupts: /);
});

Deno.test("statistics groups over bad files yield nothing instead of failing get_statistics", async () => {
  await using root = await vmRoot((dir) =>
    Deno.writeTextFile(`${dir}/proc/net/softnet_stat`, "zz\n")
  );
  const r = await tuningMi(root.path).call("get_statistics", { statistics: ["softnet:", "udp:"] });
  assert.equal(r.error, undefined);
  const keys = Object.keys(r.result as object);
  assert.ok(!keys.some((k) => k.startsWith("softnet:")));
  assert.ok(keys.includes("udp:RcvbufErrors"));
});

/** A deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

Deno.test("fuzz: every command on every file truncated or garbled: a result or a named error, never -32603", async () => {
  const files = [
    "/proc/interrupts",
    "/proc/softirqs",
    "/proc/net/softnet_stat",
    "/proc/net/snmp",
    "/proc/net/udp",
    "/proc/irq/38/smp_affinity_list",
    "/proc/irq/38/effective_affinity_list",
    "/proc/irq/36/node",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/node/node0/cpulist",
    "/sys/devices/system/cpu/cpu1/topology/thread_siblings_list",
    `${NIC_DIR}/queues/rx-0/rps_cpus`,
    `${NIC_DIR}/mtu`,
  ];
  const calls: [string, Record<string, unknown>?][] = [
    ["cpu_list"],
    ["irq_list"],
    ["nic_describe", { nic: "eth0" }],
    ["irqbalance_status"],
    ["host_stats", { nic: "eth0" }],
    ["tune_show", { nic: "eth0" }],
    ["tune_doctor", { nic: "eth0", interval: 0 }],
    ["get_statistics", { statistics: ["all"] }],
  ];
  const rand = rng(20261123);
  const garbage = ["", "x", "\0", ":", "-", ",", "ffffffffff", "99999999999999999999", " ", "\n\n"];
  await using root = await vmRoot();
  const mi = tuningMi(root.path);
  let trials = 0, errors = 0;
  for (const path of files) {
    const original = await Deno.readTextFile(root.path + path);
    for (let k = 0; k < 8; k++) {
      const at = Math.floor(rand() * (original.length + 1));
      const broken = k % 2 === 0
        ? original.slice(0, at)
        : original.slice(0, at) + garbage[k % garbage.length] + original.slice(at + 1);
      await Deno.writeTextFile(root.path + path, broken);
      for (const [method, params] of calls) {
        const r = await mi.call(method, params);
        trials++;
        const what = `${method} with ${path} = ${JSON.stringify(broken.slice(0, 80))}`;
        if (r.error === undefined) continue;
        errors++;
        assert.notEqual(
          r.error.code,
          -32603,
          `internal error: ${what}: ${JSON.stringify(r.error)}`,
        );
        assert.ok([404, 500].includes(r.error.code), `${what}: ${JSON.stringify(r.error)}`);
        // Host data errors name a host path.
        if (r.error.code === 500) assert.match(r.error.data ?? "", /\/(proc|sys)\//, what);
      }
    }
    await Deno.writeTextFile(root.path + path, original);
  }
  assert.ok(trials >= 800 && errors > 100, `${trials} calls, ${errors} errors`);
});
