// What every tuning command works against: the host files (a HostFs on "/"
// or the fake kernel of a fixture root), how thread affinity is read and
// set (FFI on the host, the fixture's status files otherwise), how host
// services are restarted, where sipmi keeps its snapshots, and the SIP
// router settings from the config. Built from the config alone, so the
// whole tuning side can run wherever its env is built (a Worker included).

import { HostFs } from "../sys/hostfs.ts";
import { schedGetaffinity, schedSetaffinity } from "../sys/libc.ts";
import type { AffinityReader } from "./affinity.ts";
import { FakeKernel, type FakeKernelOptions } from "./fake_kernel.ts";
import { FixtureServices, hostServices, type ServiceControl } from "./services.ts";
import type { SipConfig } from "./sip.ts";

/** sched_setaffinity of one thread; rejects with a SysError (ESRCH, EINVAL, EPERM). */
export type AffinityWriter = (tid: number, cpus: readonly number[]) => Promise<void>;

export interface TuningEnv {
  fs: HostFs;
  reader: AffinityReader;
  writer: AffinityWriter;
  services: ServiceControl;
  sip: SipConfig;
  /** Host path (under the root) of snapshots, the apply journal and the lock. */
  stateDir: string;
  /** This process: owner of the apply lock and journal. */
  pid: number;
}

export interface TuningConfigLike {
  root: string;
  state_dir?: string;
  sip: { units: string[]; process_names: string[]; nic: string; ports: number[] };
}

export const DEFAULT_STATE_DIR = "/var/lib/sipmi";

/**
 * The env for a config's `tuning` section. On "/" the host itself; on any
 * other root the fake kernel of that tree, so writes behave as a kernel's.
 */
export function tuningEnv(t: TuningConfigLike, fake: FakeKernelOptions = {}): TuningEnv {
  const sip: SipConfig = {
    units: t.sip.units,
    processNames: t.sip.process_names,
    nic: t.sip.nic,
    ports: t.sip.ports,
  };
  const stateDir = t.state_dir ?? DEFAULT_STATE_DIR;
  if (t.root === "/" || t.root === "") {
    const fs = new HostFs("/");
    return {
      fs,
      reader: schedGetaffinity,
      writer: (tid, cpus) => Promise.resolve(schedSetaffinity(tid, cpus)),
      services: hostServices(fs),
      sip,
      stateDir,
      pid: Deno.pid,
    };
  }
  const fs = new FakeKernel(t.root, fake);
  return {
    fs,
    reader: undefined,
    writer: (tid, cpus) => fs.setAffinity(tid, cpus),
    services: new FixtureServices(fs),
    sip,
    stateDir,
    pid: Deno.pid,
  };
}
