// The host counters as MI statistics groups, so `get_statistics softnet:`
// (and /metrics) see the same numbers as host_stats: softnet:, softirq:,
// udp:, udp6:, irq:, nic:. Each group is read by one function here; where
// it runs (the daemon's tuning worker, or in-process for the CLI) and how
// old a sample may be is the business of tuning/host_sampler.ts.
//
// A collector that cannot read its file logs why and yields nothing: one
// unreadable host file must not break `get_statistics all`.
//
// Every value is a counter since boot. Per-CPU, per-IRQ, per-port and
// per-NIC values say which labelled family they belong to, so /metrics
// writes `sipmi_softnet_dropped_total{cpu="3"}` rather than one metric name
// per CPU; their MI names do not change.

import type { Collected } from "../mi/stats.ts";
import { errText } from "../sys/log.ts";
import type { TuningEnv } from "./env.ts";
import { readInterrupts } from "./irq.ts";
import { defaultRouteNic, nicNetDir, readNicCounters } from "./nic.ts";
import { readSockets, readSoftirqs, readSoftnet, readUdp4, readUdp6 } from "./stats.ts";

/** Statistic names allow [A-Za-z0-9_.-]; anything else (s390x `I/O`) becomes `_`. */
export function statName(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** Reads one host group now: its values in order. */
export type GroupReader = () => Promise<Collected[]>;

/** The host groups of an env, in the order get_statistics lists them. */
export function hostStatGroups(
  env: TuningEnv,
  warn: (message: string) => void,
): Map<string, GroupReader> {
  const { fs } = env;
  const groups = new Map<string, GroupReader>();
  const guarded = (group: string, collect: GroupReader) => {
    groups.set(group, async () => {
      try {
        return await collect();
      } catch (e) {
        warn(`statistics group ${group}: ${errText(e)}`);
        return [];
      }
    });
  };
  const ports = env.sip.ports;
  const cpu = (family: string, n: number) => ({ family, labels: { cpu: String(n) } });

  guarded("softnet", async () => {
    const s = await readSoftnet(fs);
    if (s === null) return [];
    const out: Collected[] = [
      ["processed", 0],
      ["dropped", 0],
      ["time_squeeze", 0],
    ];
    for (const r of s.rows) {
      out[0][1] += r.processed;
      out[1][1] += r.dropped;
      out[2][1] += r.time_squeeze;
    }
    for (const r of s.rows) {
      out.push([`cpu${r.cpu}_processed`, r.processed, cpu("processed", r.cpu)]);
      out.push([`cpu${r.cpu}_dropped`, r.dropped, cpu("dropped", r.cpu)]);
      out.push([`cpu${r.cpu}_time_squeeze`, r.time_squeeze, cpu("time_squeeze", r.cpu)]);
    }
    return out;
  });

  guarded("softirq", async () => {
    const s = await readSoftirqs(fs);
    if (s === null) return [];
    const out: Collected[] = [
      ["NET_RX", s.NET_RX.reduce((a, b) => a + b, 0)],
      ["NET_TX", s.NET_TX.reduce((a, b) => a + b, 0)],
    ];
    s.cpus.forEach((c, i) => out.push([`NET_RX_cpu${c}`, s.NET_RX[i], cpu("NET_RX", c)]));
    s.cpus.forEach((c, i) => out.push([`NET_TX_cpu${c}`, s.NET_TX[i], cpu("NET_TX", c)]));
    return out;
  });

  guarded("udp", async () => {
    const udp = await readUdp4(fs);
    const out: Collected[] = Object.entries(udp ?? {}).map(([k, v]) => [statName(k), v]);
    const sockets = await readSockets(fs, ports);
    for (const port of ports) {
      const drops = sockets.filter((s) => s.port === port && s.drops !== null)
        .reduce((a, s) => a + s.drops!, 0);
      out.push([`port_${port}_drops`, drops, {
        family: "port_drops",
        labels: { port: String(port) },
      }]);
    }
    return out;
  });

  guarded("udp6", async () => {
    const udp6 = await readUdp6(fs);
    return Object.entries(udp6 ?? {}).map(([k, v]) => [statName(k), v]);
  });

  guarded("irq", async () => {
    const ints = await readInterrupts(fs);
    return ints.rows.map((r): Collected => [statName(r.irq), r.total, {
      family: "interrupts",
      labels: { irq: r.irq },
    }]);
  });

  guarded("nic", async () => {
    const name = env.sip.nic !== "" ? env.sip.nic : await defaultRouteNic(fs);
    if (name === null) return [];
    // Only the counters are read here; locateNic would also walk the
    // device's IRQs, which costs more than every other group together.
    const counters = await readNicCounters(fs, await nicNetDir(fs, name));
    return Object.entries(counters).map((
      [k, v],
    ): Collected => [statName(`${name}_${k}`), v, { family: k, labels: { nic: name } }]);
  });
  return groups;
}
