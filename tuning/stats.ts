// Where SIP packets are processed and where they are dropped: per-CPU
// NET_RX softirqs, softnet_stat (backlog drops, time squeeze), the Udp
// counters of /proc/net/snmp{,6}, per-socket drops of the SIP ports, and
// the SIP NIC's drop counters. A sample is raw counters; with an interval
// two samples give rates, which is what an operator acts on (a counter
// that rose during the last second, not one that rose last month).
//
// A file the host (or fixture) lacks makes its part null, not an error;
// a file with unexpected content is an error naming file and line.

import type { HostFs } from "../sys/hostfs.ts";
import { onlineCpus } from "./cpus.ts";
import { parseSoftirqs } from "./interrupts.ts";
import { locateNic, readNicCounters } from "./nic.ts";
import { parseSnmp, parseSnmp6 } from "./snmp.ts";
import { parseSoftnet, type Softnet } from "./softnet.ts";
import { parseUdpSockets, type UdpSocket } from "./udp_sockets.ts";

export interface SoftirqCounts {
  cpus: number[];
  NET_RX: number[];
  NET_TX: number[];
}

export interface HostSample {
  /** performance.now() of the sample, for rates. */
  at: number;
  softirqs: SoftirqCounts | null;
  softnet: Softnet | null;
  udp: Record<string, number> | null;
  udp6: Record<string, number> | null;
  sockets: UdpSocket[];
  nic: { name: string; counters: Record<string, number> } | null;
}

export interface SampleOptions {
  ports: readonly number[];
  /** The NIC whose counters are read; null = none. */
  nic: string | null;
}

export async function readSoftirqs(fs: HostFs): Promise<SoftirqCounts | null> {
  const text = await fs.readTextIfExists("/proc/softirqs");
  if (text === undefined) return null;
  const s = parseSoftirqs(text, "/proc/softirqs");
  const zeros = s.cpus.map(() => 0);
  return {
    cpus: s.cpus,
    NET_RX: s.rows.get("NET_RX") ?? zeros,
    NET_TX: s.rows.get("NET_TX") ?? zeros,
  };
}

export async function readSoftnet(fs: HostFs): Promise<Softnet | null> {
  const text = await fs.readTextIfExists("/proc/net/softnet_stat");
  if (text === undefined) return null;
  const online = await onlineCpus(fs);
  return parseSoftnet(text, "/proc/net/softnet_stat", online?.toArray());
}

/** Udp counters of /proc/net/snmp by header name; null when the file is absent. */
export async function readUdp4(fs: HostFs): Promise<Record<string, number> | null> {
  const snmp = await fs.readTextIfExists("/proc/net/snmp");
  return snmp === undefined ? null : parseSnmp(snmp, "/proc/net/snmp").get("Udp") ?? null;
}

/** Udp6 counters of /proc/net/snmp6; null when the file is absent. */
export async function readUdp6(fs: HostFs): Promise<Record<string, number> | null> {
  const snmp6 = await fs.readTextIfExists("/proc/net/snmp6");
  return snmp6 === undefined ? null : parseSnmp6(snmp6, "Udp6", "/proc/net/snmp6");
}

export async function readUdp(
  fs: HostFs,
): Promise<{ udp: Record<string, number> | null; udp6: Record<string, number> | null }> {
  const [udp, udp6] = await Promise.all([readUdp4(fs), readUdp6(fs)]);
  return { udp, udp6 };
}

export async function readSockets(fs: HostFs, ports: readonly number[]): Promise<UdpSocket[]> {
  const protos = ["udp", "udp6"] as const;
  const texts = await Promise.all(protos.map((p) => fs.readTextIfExists(`/proc/net/${p}`)));
  return protos.flatMap((proto, i) =>
    texts[i] === undefined
      ? []
      : parseUdpSockets(texts[i]!, proto).filter((s) => ports.includes(s.port))
  );
}

export async function sampleHost(fs: HostFs, opts: SampleOptions): Promise<HostSample> {
  const [softirqs, softnet, udp, sockets, nic] = await Promise.all([
    readSoftirqs(fs),
    readSoftnet(fs),
    readUdp(fs),
    readSockets(fs, opts.ports),
    opts.nic === null ? null : locateNic(fs, opts.nic).then(async (loc) => ({
      name: opts.nic!,
      counters: await readNicCounters(fs, loc.netDir),
    })),
  ]);
  return { at: performance.now(), softirqs, softnet, ...udp, sockets, nic };
}

export interface CpuStats {
  cpu: number;
  net_rx: number | null;
  net_tx: number | null;
  processed: number | null;
  dropped: number | null;
  time_squeeze: number | null;
}

export interface Totals {
  net_rx: number | null;
  softnet_dropped: number | null;
  softnet_time_squeeze: number | null;
  udp_rcvbuf_errors: number | null;
  udp_in_errors: number | null;
  udp_sndbuf_errors: number | null;
  udp6_rcvbuf_errors: number | null;
  udp6_in_errors: number | null;
  socket_drops: number | null;
}

export interface HostStats {
  interval: number | null;
  ports: number[];
  softnet_columns: number | null;
  cpus: CpuStats[];
  udp: Record<string, number> | null;
  udp6: Record<string, number> | null;
  sockets: UdpSocket[];
  nic: { name: string; counters: Record<string, number> } | null;
  totals: Totals;
  /** Per-second rates over `interval`; null without an interval. */
  rates: {
    cpus: CpuStats[];
    totals: Totals;
    sockets: { proto: string; local: string; drops: number | null }[];
    nic: Record<string, number> | null;
  } | null;
}

function cpuStats(s: HostSample): CpuStats[] {
  const byCpu = new Map<number, CpuStats>();
  const get = (cpu: number) => {
    let c = byCpu.get(cpu);
    if (!c) {
      c = { cpu, net_rx: null, net_tx: null, processed: null, dropped: null, time_squeeze: null };
      byCpu.set(cpu, c);
    }
    return c;
  };
  if (s.softirqs) {
    s.softirqs.cpus.forEach((cpu, i) => {
      const c = get(cpu);
      c.net_rx = s.softirqs!.NET_RX[i];
      c.net_tx = s.softirqs!.NET_TX[i];
    });
  }
  for (const r of s.softnet?.rows ?? []) {
    const c = get(r.cpu);
    c.processed = r.processed;
    c.dropped = r.dropped;
    c.time_squeeze = r.time_squeeze;
  }
  return [...byCpu.values()].sort((a, b) => a.cpu - b.cpu);
}

function sum(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0);
}

function totals(s: HostSample, cpus: CpuStats[]): Totals {
  return {
    net_rx: s.softirqs ? sum(cpus.map((c) => c.net_rx)) : null,
    softnet_dropped: s.softnet ? sum(cpus.map((c) => c.dropped)) : null,
    softnet_time_squeeze: s.softnet ? sum(cpus.map((c) => c.time_squeeze)) : null,
    udp_rcvbuf_errors: s.udp?.RcvbufErrors ?? null,
    udp_in_errors: s.udp?.InErrors ?? null,
    udp_sndbuf_errors: s.udp?.SndbufErrors ?? null,
    udp6_rcvbuf_errors: s.udp6?.RcvbufErrors ?? null,
    udp6_in_errors: s.udp6?.InErrors ?? null,
    socket_drops: sum(s.sockets.map((x) => x.drops)),
  };
}

/** (b - a) / seconds, rounded to 0.01; null when either side is unknown. */
function rate(
  a: number | null | undefined,
  b: number | null | undefined,
  seconds: number,
): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  return Math.round(((b - a) / seconds) * 100) / 100;
}

export function statsOf(s: HostSample, ports: readonly number[], before?: HostSample): HostStats {
  const cpus = cpuStats(s);
  const t = totals(s, cpus);
  let rates: HostStats["rates"] = null;
  let interval: number | null = null;
  if (before !== undefined) {
    const seconds = Math.max((s.at - before.at) / 1000, 0.001);
    interval = Math.round(seconds * 1000) / 1000;
    const prevCpus = new Map(cpuStats(before).map((c) => [c.cpu, c]));
    const prevTotals = totals(before, [...prevCpus.values()]);
    const prevSockets = new Map(before.sockets.map((x) => [`${x.proto} ${x.local} ${x.inode}`, x]));
    rates = {
      cpus: cpus.map((c) => {
        const p = prevCpus.get(c.cpu);
        return {
          cpu: c.cpu,
          net_rx: rate(p?.net_rx, c.net_rx, seconds),
          net_tx: rate(p?.net_tx, c.net_tx, seconds),
          processed: rate(p?.processed, c.processed, seconds),
          dropped: rate(p?.dropped, c.dropped, seconds),
          time_squeeze: rate(p?.time_squeeze, c.time_squeeze, seconds),
        };
      }),
      totals: Object.fromEntries(
        Object.entries(t).map(([k, v]) => [k, rate(prevTotals[k as keyof Totals], v, seconds)]),
      ) as unknown as Totals,
      sockets: s.sockets.map((x) => ({
        proto: x.proto,
        local: x.local,
        drops: rate(prevSockets.get(`${x.proto} ${x.local} ${x.inode}`)?.drops, x.drops, seconds),
      })),
      nic: s.nic === null || before.nic === null ? null : Object.fromEntries(
        Object.entries(s.nic.counters).map((
          [k, v],
        ) => [k, rate(before.nic!.counters[k], v, seconds) ?? 0]),
      ),
    };
  }
  return {
    interval,
    ports: [...ports],
    softnet_columns: s.softnet?.columns ?? null,
    cpus,
    udp: s.udp,
    udp6: s.udp6,
    sockets: s.sockets,
    nic: s.nic,
    totals: t,
    rates,
  };
}

/** One sample, or two `intervalSeconds` apart with rates. */
export async function hostStats(
  fs: HostFs,
  opts: SampleOptions & { interval: number },
): Promise<HostStats> {
  const first = await sampleHost(fs, opts);
  if (opts.interval <= 0) return statsOf(first, opts.ports);
  await new Promise((r) => setTimeout(r, opts.interval * 1000));
  return statsOf(await sampleHost(fs, opts), opts.ports, first);
}
