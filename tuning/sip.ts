// Finding the SIP router (OpenSIPS, Kamailio) on the host: by its systemd
// units first (a unit's cgroup holds every process, whatever it is
// called), then by process name. Both lists come from the config
// (tuning.sip.units, tuning.sip.process_names).

import type { HostFs } from "../sys/hostfs.ts";
import { type AffinityReader, type AffinityResult, getAffinity } from "./affinity.ts";
import { escapeLiteral } from "../sys/pattern.ts";

export interface SipConfig {
  units: readonly string[];
  processNames: readonly string[];
  nic: string;
  ports: readonly number[];
}

export interface SipProcesses {
  /** `unit opensips.service`, `name kamailio`, or null when nothing was found. */
  found_by: string | null;
  searched: { units: string[]; process_names: string[] };
  affinity: AffinityResult | null;
}

export async function findSipProcesses(
  fs: HostFs,
  sip: SipConfig,
  reader: AffinityReader,
  withTasks: boolean,
): Promise<SipProcesses> {
  const searched = { units: [...sip.units], process_names: [...sip.processNames] };
  for (const unit of sip.units) {
    const a = await getAffinity(fs, { unit }, reader, withTasks, { allowEmpty: true });
    if (a.processes.length > 0) return { found_by: `unit ${unit}`, searched, affinity: a };
  }
  for (const name of sip.processNames) {
    const a = await getAffinity(fs, { name: `^${escapeLiteral(name)}$` }, reader, withTasks, {
      allowEmpty: true,
    });
    if (a.processes.length > 0) return { found_by: `name ${name}`, searched, affinity: a };
  }
  return { found_by: null, searched, affinity: null };
}
