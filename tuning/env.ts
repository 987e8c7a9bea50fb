// What every tuning command works against: the host files (a HostFs on "/"
// or a fixture root), the live affinity source (FFI on the host, none on a
// fixture), and the SIP router settings from the config.

import { HostFs } from "../sys/hostfs.ts";
import { schedGetaffinity } from "../sys/libc.ts";
import type { AffinityReader } from "./affinity.ts";
import type { SipConfig } from "./sip.ts";

export interface TuningEnv {
  fs: HostFs;
  reader: AffinityReader;
  sip: SipConfig;
}

export interface TuningConfigLike {
  root: string;
  sip: { units: string[]; process_names: string[]; nic: string; ports: number[] };
}

/** The env for a config's `tuning` section: sched_getaffinity only when the root is the host. */
export function tuningEnv(t: TuningConfigLike): TuningEnv {
  const fs = new HostFs(t.root);
  return {
    fs,
    reader: fs.isHost ? schedGetaffinity : undefined,
    sip: {
      units: t.sip.units,
      processNames: t.sip.process_names,
      nic: t.sip.nic,
      ports: t.sip.ports,
    },
  };
}
