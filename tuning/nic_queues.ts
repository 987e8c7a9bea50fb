// Which IRQ of a NIC serves which queue, from the IRQ's name alone. Drivers
// name their data-path vectors in a few known ways; everything else
// (config, misc, async event queues, Intel flow-director) is listed but
// never treated as a queue. Facts from perftune.py's fast-path filter and
// the mlnx-tools scripts (docs/tuning.md, "Kernel facts relied on").

import { escapeLiteral } from "../sys/pattern.ts";

export type QueueKind = "rx" | "tx" | "rxtx";

export type IrqRole =
  | { role: "queue"; kind: QueueKind; queue: number }
  | { role: "other"; kind: string };

// Order matters: `fdir-TxRx-N` must be excluded before `-TxRx-N` matches.
const OTHER: readonly [RegExp, string][] = [
  [/fdir/i, "fdir"],
  [/(?:^|[-_:@.])misc(?:$|[-_:@.])/i, "misc"],
  [/async/i, "async"],
  [/-config$/, "config"],
  [/mgmnt|-ctrl|-event/i, "control"],
];

const QUEUES: readonly [RegExp, QueueKind | "virtio"][] = [
  [/^virtio[0-9]+-(input|output)\.([0-9]+)$/, "virtio"],
  [/^mlx5_comp([0-9]+)@/, "rxtx"],
  [/^mlx4-([0-9]+)@/, "rxtx"],
  [/^mana_q([0-9]+)@/, "rxtx"],
  [/-TxRx-([0-9]+)$/, "rxtx"],
  [/-Tx-Rx-([0-9]+)$/, "rxtx"],
  [/-fp-([0-9]+)$/, "rxtx"],
  [/-rx-([0-9]+)$/, "rx"],
  [/-tx-([0-9]+)$/, "tx"],
];

export function classifyIrqName(name: string): IrqRole {
  for (const [re, kind] of OTHER) if (re.test(name)) return { role: "other", kind };
  for (const [re, kind] of QUEUES) {
    const m = re.exec(name);
    if (!m) continue;
    if (kind === "virtio") {
      return { role: "queue", kind: m[1] === "input" ? "rx" : "tx", queue: Number(m[2]) };
    }
    return { role: "queue", kind, queue: Number(m[1]) };
  }
  return { role: "other", kind: "other" };
}

/**
 * Whether an IRQ name mentions the interface as a whole word (`i40e-eth0-TxRx-3`
 * for eth0, not for eth01) or the PCI address (`mlx5_comp0@pci:0000:08:00.0`).
 */
export function nameMentions(name: string, ifname: string, busInfo: string | null): boolean {
  const word = new RegExp(`(?:^|[^0-9A-Za-z])${escapeLiteral(ifname)}(?:[^0-9A-Za-z]|$)`);
  if (word.test(name)) return true;
  return busInfo !== null && name.includes(busInfo);
}
