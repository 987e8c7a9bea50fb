// Starting, stopping and restarting host services (irqbalance). On the host
// that is systemctl, when systemd runs the host (/run/systemd/system
// exists). On a fixture root nothing is run: the calls are recorded and
// answered as systemctl would answer for a unit that exists, so a plan and
// its result read the same as on a host, and tests can see what was asked.

import type { HostFs } from "../sys/hostfs.ts";
import { type CommandOutcome, systemctl } from "../sys/systemctl.ts";

export type ServiceAction = "try-restart" | "stop" | "start";

export interface ServiceControl {
  /** Whether systemd manages services here. */
  systemd(): Promise<boolean>;
  run(action: ServiceAction, unit: string): Promise<CommandOutcome>;
  /** `systemctl ...` on the host; `(fixture root, not run)` otherwise: for result rows. */
  readonly describe: (action: ServiceAction, unit: string) => string;
}

export function hostServices(fs: HostFs): ServiceControl {
  return {
    systemd: () => fs.exists("/run/systemd/system"),
    run: (action, unit) => systemctl([action, unit]),
    describe: (action, unit) => `systemctl ${action} ${unit}`,
  };
}

/** Services of a fixture root: systemd "runs" when the root has /run/systemd/system. */
export class FixtureServices implements ServiceControl {
  readonly calls: string[] = [];
  readonly #fs: HostFs;
  /** Exit status to answer with (5 = unit not installed, as systemctl says). */
  code = 0;

  constructor(fs: HostFs) {
    this.#fs = fs;
  }

  systemd(): Promise<boolean> {
    return this.#fs.exists("/run/systemd/system");
  }

  run(action: ServiceAction, unit: string): Promise<CommandOutcome> {
    this.calls.push(`${action} ${unit}`);
    return Promise.resolve({ code: this.code, output: "" });
  }

  readonly describe = (action: ServiceAction, unit: string) =>
    `systemctl ${action} ${unit} (fixture root: recorded, not run)`;
}
