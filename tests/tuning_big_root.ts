// A synthetic 1152-CPU host root around the captured 1152-CPU
// /proc/interrupts and /proc/softirqs (PCP): CPU topology (8 nodes,
// 2-way SMT), /proc/irq/N for every numbered IRQ, and the i40e port
// enp195s0f3 on PCI 0000:c3:00.3 with its msi_irqs, 94 RX/TX queues and
// RPS/XPS masks 1152 bits wide. Only the /proc captures are real; the rest
// is shaped like a real sysfs so `tune show` and `irq_list` do the work
// they would do on such a host. Used by the benchmark and a test.

import { parseInterrupts } from "../tuning/interrupts.ts";
import { formatCpuMask } from "../tuning/cpuset.ts";
import { fixtureText } from "./tuning_support.ts";

export const BIG_NIC = "enp195s0f3";
const NCPU = 1152;
const NODES = 8;
const PCI = "/sys/devices/pci0000:c0/0000:c0:01.0/0000:c3:00.3";

export async function buildBigRoot(dir: string): Promise<void> {
  const files = new Map<string, string>();
  const links = new Map<string, string>();
  const interrupts = await fixtureText("pcp_interrupts-1152cpu-x86_64.gz");
  files.set("/proc/interrupts", interrupts);
  files.set("/proc/softirqs", await fixtureText("pcp_softirqs-1152cpu-x86_64.gz"));

  const cpu = "/sys/devices/system/cpu";
  const all = `0-${NCPU - 1}`;
  files.set(`${cpu}/online`, `${all}\n`);
  files.set(`${cpu}/possible`, `${all}\n`);
  files.set(`${cpu}/present`, `${all}\n`);
  files.set(`${cpu}/offline`, "\n");
  files.set(`${cpu}/isolated`, "\n");
  files.set(`${cpu}/kernel_max`, "8191\n");
  // Node n holds cores n*72..n*72+71 and their siblings (+576).
  const half = NCPU / 2, perNode = half / NODES;
  for (let n = 0; n < NODES; n++) {
    const a = n * perNode, b = a + perNode - 1;
    files.set(`/sys/devices/system/node/node${n}/cpulist`, `${a}-${b},${a + half}-${b + half}\n`);
  }
  for (let c = 0; c < NCPU; c++) {
    const core = c % half;
    const t = `${cpu}/cpu${c}/topology`;
    files.set(`${t}/thread_siblings_list`, `${core},${core + half}\n`);
    files.set(`${t}/core_id`, `${core % perNode}\n`);
    files.set(`${t}/physical_package_id`, `${Math.floor(core / perNode / 2)}\n`);
  }

  // Every numbered IRQ: allowed everywhere, delivered to its busiest CPU.
  const parsed = parseInterrupts(interrupts);
  for (const row of parsed.rows) {
    if (!row.numeric) continue;
    let best = 0;
    row.counts.forEach((v, i) => {
      if (v > row.counts[best]) best = i;
    });
    const d = `/proc/irq/${row.irq}`;
    files.set(`${d}/smp_affinity`, `${formatCpuMask([...Array(NCPU).keys()], NCPU)}\n`);
    files.set(`${d}/smp_affinity_list`, `${all}\n`);
    files.set(`${d}/effective_affinity_list`, `${parsed.cpus[best]}\n`);
    files.set(`${d}/node`, `${Math.floor(parsed.cpus[best] % half / perNode)}\n`);
  }
  files.set("/proc/irq/default_smp_affinity", `${formatCpuMask([...Array(NCPU).keys()], NCPU)}\n`);

  // The i40e port: its vectors are the rows naming it or its PCI function.
  const msi = parsed.rows.filter((r) =>
    r.numeric && (r.name.includes(BIG_NIC) || r.name.includes("0000:c3:00.3"))
  );
  for (const r of msi) files.set(`${PCI}/msi_irqs/${r.irq}`, "msix\n");
  files.set(`${PCI}/numa_node`, "6\n");
  files.set(
    `${PCI}/local_cpulist`,
    `${6 * perNode}-${7 * perNode - 1},${6 * perNode + half}-${7 * perNode - 1 + half}\n`,
  );
  links.set(`${PCI}/driver`, "../../../../bus/pci/drivers/i40e");
  const net = `${PCI}/net/${BIG_NIC}`;
  links.set(
    `/sys/class/net/${BIG_NIC}`,
    `../../devices/pci0000:c0/0000:c0:01.0/0000:c3:00.3/net/${BIG_NIC}`,
  );
  links.set(`${net}/device`, "../../../0000:c3:00.3");
  files.set(`${net}/operstate`, "up\n");
  files.set(`${net}/mtu`, "1500\n");
  for (const c of ["rx_packets", "rx_dropped", "rx_missed_errors", "tx_packets", "tx_dropped"]) {
    files.set(`${net}/statistics/${c}`, "0\n");
  }
  const zero = `${formatCpuMask([], NCPU)}\n`;
  for (let q = 0; q < 94; q++) {
    files.set(`${net}/queues/rx-${q}/rps_cpus`, zero);
    files.set(`${net}/queues/rx-${q}/rps_flow_cnt`, "0\n");
    files.set(`${net}/queues/tx-${q}/xps_cpus`, `${formatCpuMask([q], NCPU)}\n`);
  }
  files.set(
    "/proc/net/route",
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
      `${BIG_NIC}\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`,
  );

  const dirs = new Set<string>();
  for (const p of [...files.keys(), ...links.keys()]) {
    dirs.add(dir + p.slice(0, p.lastIndexOf("/")));
  }
  for (const d of dirs) await Deno.mkdir(d, { recursive: true });
  await Promise.all([...files].map(([p, text]) => Deno.writeTextFile(dir + p, text)));
  for (const [p, target] of links) await Deno.symlink(target, dir + p);
}
