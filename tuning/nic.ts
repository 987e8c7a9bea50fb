// A NIC as the tuning step needs it: driver, PCI address, NUMA node and
// local CPUs, its IRQs split into data queues and the rest, RPS/XPS masks
// and drop counters.
//
// IRQ discovery follows the kernel's own bookkeeping first: the msi_irqs
// directory of the device, or of its parent PCI device (virtio-net's
// netdev sits on `virtioN` under the PCI function, which owns the
// vectors), then the legacy `irq` file. Only when sysfs names no IRQ (a
// captured /proc without /sys) are IRQ names searched for the interface
// name or PCI address; mlx5 names carry no interface name, which is why
// name search is the fallback and not the rule.

import { basename, dirname, type HostFs } from "../sys/hostfs.ts";
import { type CpuSet, parseKernelCpuList, parseKernelCpuMask } from "./cpuset.ts";
import { atLine, FormatError } from "./format_error.ts";
import type { Interrupts, IrqRow } from "./interrupts.ts";
import { cpusWithCounts, type IrqInfo, irqInfos, readInt } from "./irq.ts";
import { LookupError } from "./lookup_error.ts";
import { classifyIrqName, nameMentions, type QueueKind } from "./nic_queues.ts";

const PCI_BDF = /^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

export const NIC_COUNTERS = [
  "rx_packets",
  "rx_dropped",
  "rx_missed_errors",
  "rx_fifo_errors",
  "rx_over_errors",
  "rx_errors",
  "tx_packets",
  "tx_dropped",
  "tx_errors",
] as const;

/** Where a NIC lives in sysfs and how its IRQs were found. */
export interface NicLocation {
  name: string;
  /** Resolved /sys/devices/... directory of the netdev. */
  netDir: string;
  /** Resolved device directory (`device` link); null for virtual NICs. */
  deviceDir: string | null;
  /** The PCI function directory (the device or an ancestor); null when none. */
  pciDir: string | null;
  busInfo: string | null;
  /** IRQ numbers from sysfs, or null when sysfs names none. */
  sysfsIrqs: string[] | null;
  /** Where sysfsIrqs came from, e.g. `/sys/devices/pci0000:00/0000:00:03.0/msi_irqs`. */
  irqSource: string | null;
}

export async function listNics(fs: HostFs): Promise<string[]> {
  const entries = await fs.readDirIfExists("/sys/class/net");
  return (entries ?? []).map((e) => e.name);
}

/** The resolved /sys/devices directory of a NIC; LookupError names the NICs there are. */
export async function nicNetDir(fs: HostFs, name: string): Promise<string> {
  if (!/^[^/\s]{1,15}$/.test(name) || name === "." || name === "..") {
    throw new LookupError(`'${name}' is not a network interface name`);
  }
  const classPath = `/sys/class/net/${name}`;
  if (!(await fs.exists(classPath))) {
    const known = await listNics(fs);
    throw new LookupError(
      `no network interface '${name}' (${classPath} does not exist; found: ${
        known.join(", ") || "none"
      })`,
    );
  }
  return await fs.resolve(classPath);
}

export async function locateNic(fs: HostFs, name: string): Promise<NicLocation> {
  const netDir = await nicNetDir(fs, name);
  const classPath = `/sys/class/net/${name}`;
  const hasDevice = await fs.exists(`${classPath}/device`);
  const deviceDir = hasDevice ? await fs.resolve(`${classPath}/device`) : null;
  let pciDir: string | null = null;
  for (let d = deviceDir; d !== null && d.startsWith("/sys/devices/"); d = dirname(d)) {
    if (PCI_BDF.test(basename(d))) {
      pciDir = d;
      break;
    }
  }
  let sysfsIrqs: string[] | null = null, irqSource: string | null = null;
  for (const dir of [deviceDir, pciDir]) {
    if (dir === null || sysfsIrqs !== null) continue;
    const msi = await fs.readDirIfExists(`${dir}/msi_irqs`);
    const nums = (msi ?? []).map((e) => e.name).filter((n) => /^[0-9]+$/.test(n));
    if (nums.length > 0) {
      sysfsIrqs = nums;
      irqSource = `${dir}/msi_irqs`;
    }
  }
  for (const dir of [deviceDir, pciDir]) {
    if (dir === null || sysfsIrqs !== null) continue;
    const irq = await readInt(fs, `${dir}/irq`);
    if (irq !== null && irq > 0) {
      sysfsIrqs = [String(irq)];
      irqSource = `${dir}/irq`;
    }
  }
  return {
    name,
    netDir,
    deviceDir,
    pciDir,
    busInfo: pciDir === null ? null : basename(pciDir),
    sysfsIrqs,
    irqSource,
  };
}

/** The rows of /proc/interrupts that belong to the NIC, and how they were found. */
export function nicRows(
  loc: NicLocation,
  interrupts: Interrupts,
): { rows: IrqRow[]; source: string } {
  if (loc.sysfsIrqs !== null) {
    const want = new Set(loc.sysfsIrqs);
    return {
      rows: interrupts.rows.filter((r) => r.numeric && want.has(r.irq)),
      source: loc.irqSource!,
    };
  }
  return {
    rows: interrupts.rows.filter((r) => r.numeric && nameMentions(r.name, loc.name, loc.busInfo)),
    source: "IRQ names in /proc/interrupts",
  };
}

/**
 * The NIC's rows when /sys has nothing for it (a captured /proc only): IRQ
 * names that mention the interface. Used by irq_list's `nic` filter.
 */
export async function nicRowsByName(
  fs: HostFs,
  name: string,
  interrupts: Interrupts,
): Promise<{ rows: IrqRow[]; source: string }> {
  if (await fs.exists(`/sys/class/net/${name}`)) {
    return nicRows(await locateNic(fs, name), interrupts);
  }
  const rows = interrupts.rows.filter((r) => r.numeric && nameMentions(r.name, name, null));
  if (rows.length === 0) {
    const known = await listNics(fs);
    throw new LookupError(
      `no network interface '${name}': not in /sys/class/net (found: ${
        known.join(", ") || "none"
      }) and no IRQ name in /proc/interrupts mentions it`,
    );
  }
  return { rows, source: "IRQ names in /proc/interrupts" };
}

export interface NicQueueIrq extends Omit<IrqInfo, "counts" | "numeric"> {
  queue: number;
  kind: QueueKind;
  /** CPUs that took this IRQ's interrupts so far (non-zero counts). */
  active_cpus: string;
}

export interface NicOtherIrq extends Omit<IrqInfo, "counts" | "numeric"> {
  role: string;
  active_cpus: string;
}

export interface NicQueueSysfs {
  queue: string;
  /** rx: rps_cpus as a cpulist ("" = RPS off); tx: xps_cpus, null when the file is absent. */
  rps_cpus?: string | null;
  rps_flow_cnt?: number | null;
  xps_cpus?: string | null;
  xps_rxqs?: string | null;
}

export interface NicDescription {
  name: string;
  driver: string | null;
  pci_driver: string | null;
  bus_info: string | null;
  device_path: string | null;
  virtual: boolean;
  operstate: string | null;
  mtu: number | null;
  /** The device's NUMA node; -1 = none, null = not reported. */
  numa_node: number | null;
  local_cpulist: string | null;
  irq_source: string;
  queue_irqs: NicQueueIrq[];
  other_irqs: NicOtherIrq[];
  rx_queues: NicQueueSysfs[];
  tx_queues: NicQueueSysfs[];
  counters: Record<string, number>;
}

async function readDriver(fs: HostFs, dir: string | null): Promise<string | null> {
  if (dir === null) return null;
  const link = await fs.readLinkIfExists(`${dir}/driver`);
  return link === undefined ? null : basename(link);
}

async function readTrimmed(fs: HostFs, path: string): Promise<string | null> {
  const t = await fs.readTextIfExists(path);
  return t === undefined ? null : t.trim();
}

async function readMaskFile(fs: HostFs, path: string): Promise<CpuSet | null> {
  const t = await fs.readTextIfExists(path);
  if (t === undefined) return null;
  return atLine(path, 1, () => parseKernelCpuMask(t));
}

/** NUMA node and local CPUs: the device's own files, else the PCI function's. */
async function locality(
  fs: HostFs,
  loc: NicLocation,
): Promise<{ node: number | null; local: CpuSet | null }> {
  let node: number | null = null, local: CpuSet | null = null;
  for (const dir of [loc.deviceDir, loc.pciDir]) {
    if (dir === null) continue;
    node ??= await readInt(fs, `${dir}/numa_node`);
    if (local === null) {
      const text = await fs.readTextIfExists(`${dir}/local_cpulist`);
      if (text !== undefined) {
        local = atLine(`${dir}/local_cpulist`, 1, () => parseKernelCpuList(text));
      }
    }
  }
  return { node, local };
}

async function queueSysfs(fs: HostFs, netDir: string): Promise<{
  rx: NicQueueSysfs[];
  tx: NicQueueSysfs[];
}> {
  const rx: NicQueueSysfs[] = [], tx: NicQueueSysfs[] = [];
  for (const e of (await fs.readDirIfExists(`${netDir}/queues`)) ?? []) {
    const dir = `${netDir}/queues/${e.name}`;
    if (e.name.startsWith("rx-")) {
      const rps = await readMaskFile(fs, `${dir}/rps_cpus`);
      rx.push({
        queue: e.name,
        rps_cpus: rps?.toList() ?? null,
        rps_flow_cnt: await readInt(fs, `${dir}/rps_flow_cnt`),
      });
    } else if (e.name.startsWith("tx-")) {
      // xps_cpus is absent (or fails with ENOENT) on single-queue NICs.
      const xps = await readMaskFile(fs, `${dir}/xps_cpus`);
      const rxqs = await readMaskFile(fs, `${dir}/xps_rxqs`);
      tx.push({ queue: e.name, xps_cpus: xps?.toList() ?? null, xps_rxqs: rxqs?.toList() ?? null });
    }
  }
  return { rx, tx };
}

export async function readNicCounters(fs: HostFs, netDir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const texts = await Promise.all(
    NIC_COUNTERS.map((c) => fs.readTextIfExists(`${netDir}/statistics/${c}`)),
  );
  NIC_COUNTERS.forEach((c, i) => {
    const t = texts[i];
    if (t === undefined) return;
    const v = t.trim();
    if (!/^[0-9]+$/.test(v)) {
      throw new FormatError(`${netDir}/statistics/${c}`, 1, `expected a counter, found '${v}'`);
    }
    out[c] = Number(v);
  });
  return out;
}

export async function describeNic(
  fs: HostFs,
  name: string,
  interrupts: Interrupts,
): Promise<NicDescription> {
  const loc = await locateNic(fs, name);
  const { rows, source } = nicRows(loc, interrupts);
  const infos = await irqInfos(fs, rows);
  const queue_irqs: NicQueueIrq[] = [], other_irqs: NicOtherIrq[] = [];
  for (let i = 0; i < infos.length; i++) {
    const { counts, numeric: _n, ...info } = infos[i];
    const active_cpus = activeCpus(interrupts.cpus, counts);
    const role = classifyIrqName(info.name);
    if (role.role === "queue") {
      queue_irqs.push({ ...info, queue: role.queue, kind: role.kind, active_cpus });
    } else {
      other_irqs.push({ ...info, role: role.kind, active_cpus });
    }
  }
  // Queue order, rx before tx within a queue: the order CPUs are handed out in.
  const kindOrder = { rxtx: 0, rx: 1, tx: 2 };
  queue_irqs.sort((a, b) => a.queue - b.queue || kindOrder[a.kind] - kindOrder[b.kind]);
  const [{ node, local }, queues, counters, mtu] = await Promise.all([
    locality(fs, loc),
    queueSysfs(fs, loc.netDir),
    readNicCounters(fs, loc.netDir),
    readInt(fs, `${loc.netDir}/mtu`),
  ]);
  return {
    name,
    driver: await readDriver(fs, loc.deviceDir),
    pci_driver: loc.pciDir === loc.deviceDir ? null : await readDriver(fs, loc.pciDir),
    bus_info: loc.busInfo,
    device_path: loc.deviceDir,
    virtual: loc.deviceDir === null,
    operstate: await readTrimmed(fs, `${loc.netDir}/operstate`),
    mtu,
    numa_node: node,
    local_cpulist: local?.toList() ?? null,
    irq_source: source,
    queue_irqs,
    other_irqs,
    rx_queues: queues.rx,
    tx_queues: queues.tx,
    counters,
  };
}

function activeCpus(cpus: readonly number[], counts: readonly number[]): string {
  return cpusWithCounts(cpus, counts).toList();
}

/**
 * The interface carrying the IPv4 default route (/proc/net/route), else the
 * IPv6 one (/proc/net/ipv6_route); null when neither has one.
 */
export async function defaultRouteNic(fs: HostFs): Promise<string | null> {
  const v4 = await fs.readTextIfExists("/proc/net/route");
  if (v4 !== undefined) {
    let best: { nic: string; metric: number } | null = null;
    const lines = v4.split("\n");
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i].trim().split(/\s+/);
      if (f.length < 8) continue;
      const [nic, dest, , flags, , , metric, mask] = f;
      // RTF_UP = 1.
      if (dest !== "00000000" || mask !== "00000000" || (parseInt(flags, 16) & 1) === 0) continue;
      const m = Number(metric);
      if (best === null || m < best.metric) best = { nic, metric: m };
    }
    if (best !== null) return best.nic;
  }
  const v6 = await fs.readTextIfExists("/proc/net/ipv6_route");
  if (v6 !== undefined) {
    for (const line of v6.split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (/^0{32}$/.test(f[0]) && f[1] === "00" && f[9] !== "lo") return f[9];
    }
  }
  return null;
}

/** The SIP NIC: the configured one, else the default-route one; a clear error when neither. */
export async function sipNic(fs: HostFs, configured: string): Promise<string> {
  if (configured !== "") return configured;
  const nic = await defaultRouteNic(fs);
  if (nic === null) {
    throw new LookupError(
      "no SIP NIC: tuning.sip.nic is not set and /proc/net/route has no default route (set tuning.sip.nic or pass nic)",
    );
  }
  return nic;
}
