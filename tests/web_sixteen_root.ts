// A synthetic 16-CPU host root around the captured 16-CPU /proc/interrupts
// (PCP, s390x): the mlx5 function 0002:00:00.0 whose async and nine
// completion vectors (IRQs 3-12) are the SIP NIC `eth1`, and a host shaped
// so the host picture has everything to draw: two NUMA nodes (0-7, 8-15),
// 2-way SMT, isolated CPUs 14-15, irqbalance running with CPUs 2-5 banned,
// an OpenSIPS in opensips.service whose UDP workers are pinned to 2-5 and
// whose other threads to 0-1, queue IRQs 4-7 pinned to 2-5 and IRQs 8-12
// firing on 6-10 (no SIP thread there: the mismatch), NET_RX per CPU and
// softnet drops on CPU 8. Only /proc/interrupts is captured; the rest is
// written here, and `softnetWithDrops` lets a test raise CPU 9's drops.

import { formatCpuMask } from "../tuning/cpuset.ts";
import { parseInterrupts } from "../tuning/interrupts.ts";
import { fixtureText } from "./tuning_support.ts";

export const SIXTEEN_NIC = "eth1";
const NCPU = 16;
const PCI = "/sys/devices/pci0002:00/0002:00:00.0";

/** Writes host files under `root`, making directories as needed. */
export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    const real = root + path;
    await Deno.mkdir(real.slice(0, real.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(real, text);
  }
}

function status(name: string, pid: number, cpus: string): string {
  return `Name:\t${name}\nTgid:\t${pid}\nCpus_allowed_list:\t${cpus}\n`;
}

/** A process in a systemd unit with threads: [tid, comm, cpus]. */
export function unitProcess(
  unit: string,
  pid: number,
  command: string[],
  threads: [number, string, string][],
): Record<string, string> {
  const files: Record<string, string> = {
    [`/proc/${pid}/comm`]: `${threads[0][1]}\n`,
    [`/proc/${pid}/cmdline`]: command.join("\0") + "\0",
    [`/proc/${pid}/cgroup`]: `0::/system.slice/${unit}\n`,
  };
  for (const [tid, comm, cpus] of threads) {
    files[`/proc/${pid}/task/${tid}/comm`] = `${comm}\n`;
    files[`/proc/${pid}/task/${tid}/status`] = status(comm, pid, cpus);
  }
  return files;
}

/** /proc/net/softnet_stat (13 columns) with these drops per CPU. */
export function softnetWithDrops(drops: Record<number, number>): string {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  let out = "";
  for (let c = 0; c < NCPU; c++) {
    const processed = 100000 + c * 1000;
    const cols = [processed, drops[c] ?? 0, c % 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, c];
    out += cols.map(hex).join(" ") + "\n";
  }
  return out;
}

export async function buildSixteenRoot(dir: string): Promise<void> {
  const interrupts = await fixtureText("pcp_interrupts-16cpu-s390x");
  const files: Record<string, string> = { "/proc/interrupts": interrupts };
  const cpu = "/sys/devices/system/cpu";
  files[`${cpu}/online`] = "0-15\n";
  files[`${cpu}/possible`] = "0-15\n";
  files[`${cpu}/present`] = "0-15\n";
  files[`${cpu}/offline`] = "\n";
  files[`${cpu}/isolated`] = "14-15\n";
  files[`${cpu}/nohz_full`] = "\n";
  files[`${cpu}/kernel_max`] = "255\n";
  files["/sys/devices/system/node/node0/cpulist"] = "0-7\n";
  files["/sys/devices/system/node/node1/cpulist"] = "8-15\n";
  for (let c = 0; c < NCPU; c++) {
    const core = c >> 1, t = `${cpu}/cpu${c}/topology`;
    files[`${t}/thread_siblings_list`] = `${core * 2}-${core * 2 + 1}\n`;
    files[`${t}/core_id`] = `${core}\n`;
    files[`${t}/physical_package_id`] = `${c < 8 ? 0 : 1}\n`;
  }

  // IRQ affinity: the NIC's queues 0-3 pinned to 2-5, queues 4-8 free but
  // firing on 6-10; every other IRQ free, firing on its busiest CPU.
  const all = "0-15";
  const parsed = parseInterrupts(interrupts);
  for (const row of parsed.rows) {
    if (!row.numeric) continue;
    const n = Number(row.irq);
    let req = all, eff: number;
    if (n >= 4 && n <= 7) {
      eff = n - 2;
      req = String(eff);
    } else if (n >= 8 && n <= 12) {
      eff = n - 2;
    } else {
      eff = row.counts.indexOf(Math.max(...row.counts));
    }
    const d = `/proc/irq/${n}`;
    const reqCpus = req === all ? [...Array(NCPU).keys()] : [Number(req)];
    files[`${d}/smp_affinity`] = `${formatCpuMask(reqCpus, NCPU)}\n`;
    files[`${d}/smp_affinity_list`] = `${req}\n`;
    files[`${d}/effective_affinity_list`] = `${eff}\n`;
    files[`${d}/node`] = `${eff < 8 ? 0 : 1}\n`;
  }
  files["/proc/irq/default_smp_affinity"] = `${formatCpuMask([...Array(NCPU).keys()], NCPU)}\n`;

  // The NIC: the PCI function owns IRQs 3-12 (async + 9 completion queues).
  for (let n = 3; n <= 12; n++) files[`${PCI}/msi_irqs/${n}`] = "msix\n";
  files[`${PCI}/numa_node`] = "0\n";
  files[`${PCI}/local_cpulist`] = "0-7\n";
  const net = `${PCI}/net/${SIXTEEN_NIC}`;
  files[`${net}/operstate`] = "up\n";
  files[`${net}/mtu`] = "1500\n";
  for (const c of ["rx_packets", "rx_dropped", "rx_missed_errors", "tx_packets", "tx_dropped"]) {
    files[`${net}/statistics/${c}`] = c === "rx_packets" ? "9876543\n" : "0\n";
  }
  for (let q = 0; q < 9; q++) {
    files[`${net}/queues/rx-${q}/rps_cpus`] = `${formatCpuMask([], NCPU)}\n`;
    files[`${net}/queues/tx-${q}/xps_cpus`] = `${formatCpuMask([q], NCPU)}\n`;
  }
  files["/proc/net/route"] =
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
    `${SIXTEEN_NIC}\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`;

  // Receive work where the IRQs fire; drops on CPU 8 since boot.
  const rx = [...Array(NCPU).keys()].map((
    c,
  ) => (c >= 2 && c <= 10 ? 4_000_000 + c * 250_000 : 20_000 + c));
  const cols = [...Array(NCPU).keys()].map((c) => `CPU${c}`.padStart(11)).join("");
  files["/proc/softirqs"] = `          ${cols}\n` +
    `      NET_TX:${rx.map(() => "10".padStart(11)).join("")}\n` +
    `      NET_RX:${rx.map((v) => String(v).padStart(11)).join("")}\n`;
  files["/proc/net/softnet_stat"] = softnetWithDrops({ 8: 17 });

  // OpenSIPS: UDP workers pinned to 2-5, the rest to 0-1; irqbalance bans 2-5.
  Object.assign(
    files,
    unitProcess("opensips.service", 3000, [
      "/usr/sbin/opensips",
      "-f",
      "/etc/opensips/opensips.cfg",
    ], [
      [3000, "opensips", "0-1"],
      [3001, "udp receiver", "2"],
      [3002, "udp receiver", "3"],
      [3003, "udp receiver", "4"],
      [3004, "udp receiver", "5"],
      [3005, "timer", "0-1"],
    ]),
    unitProcess("irqbalance.service", 777, ["/usr/sbin/irqbalance", "--foreground"], [
      [777, "irqbalance", "0-15"],
    ]),
  );
  files["/proc/777/environ"] = "IRQBALANCE_BANNED_CPULIST=2-5\0LANG=C\0";
  await writeFiles(dir, files);
  await Deno.mkdir(`${dir}/sys/class/net`, { recursive: true });
  await Deno.symlink(
    `../../devices/pci0002:00/0002:00:00.0/net/${SIXTEEN_NIC}`,
    `${dir}/sys/class/net/${SIXTEEN_NIC}`,
  );
  await Deno.symlink("../../../0002:00:00.0", `${dir}${net}/device`);
  await Deno.symlink("../../../bus/pci/drivers/mlx5_core", `${dir}${PCI}/driver`);
}
