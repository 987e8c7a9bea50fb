// `tune show`: one screen with what an operator checks before pinning:
// the CPUs, the SIP NIC's queues and their IRQs, irqbalance, and where the
// SIP router's threads may run. A section that cannot be read (no SIP NIC,
// no SIP router running) says why instead of failing the whole screen.

import { type CpuList, listCpus, readTopology } from "./cpus.ts";
import type { TuningEnv } from "./env.ts";
import { readDefaultAffinity, readInterrupts } from "./irq.ts";
import { type IrqbalanceStatus, irqbalanceStatus } from "./irqbalance.ts";
import { describeNic, type NicDescription, sipNic } from "./nic.ts";
import { findSipProcesses, type SipProcesses } from "./sip.ts";
import type { TuningStatus } from "./runtime.ts";
import type { VerifyResult } from "./verify.ts";

export type Section<T> = T | { error: string };

/** The profile applied on this host (by sipmi), and how the host compares with it now. */
export interface ProfileState {
  applied: TuningStatus["applied"];
  pending_confirm: TuningStatus["pending_confirm"];
  /** A fresh verification of the applied profile; null when none is applied. */
  verify: VerifyResult | null;
}

export interface TuneShow {
  cpus: CpuList;
  default_smp_affinity: string | null;
  nic: Section<NicDescription>;
  irqbalance: IrqbalanceStatus;
  sip: SipProcesses;
  profile: ProfileState;
}

/** Only lookups (no NIC, no default route) become a section error; bad host data still fails. */
export async function section<T>(
  read: () => Promise<T>,
  soft: (e: unknown) => boolean,
): Promise<Section<T>> {
  try {
    return await read();
  } catch (e) {
    if (soft(e)) return { error: (e as Error).message };
    throw e;
  }
}

export async function tuneShow(
  env: TuningEnv,
  opts: { nic?: string; soft: (e: unknown) => boolean; profile: ProfileState },
): Promise<TuneShow> {
  const { fs } = env;
  const [cpus, topo, interrupts, defaultAffinity] = await Promise.all([
    listCpus(fs),
    readTopology(fs),
    readInterrupts(fs),
    readDefaultAffinity(fs),
  ]);
  const nic = await section(
    async () => describeNic(fs, await sipNic(fs, opts.nic ?? env.sip.nic), interrupts),
    opts.soft,
  );
  return {
    cpus,
    default_smp_affinity: defaultAffinity?.toList() ?? null,
    nic,
    irqbalance: await irqbalanceStatus(fs, topo),
    sip: await findSipProcesses(fs, env.sip, env.reader, false),
    profile: opts.profile,
  };
}
