// Making a running irqbalance obey a changed ban. irqbalance reads its
// environment file only at start, so a file edit alone changes nothing
// until it restarts. Two ways, in this order:
//
//   1. its own unix socket, /run/irqbalance/irqbalance<PID>.sock (there when
//      /run/irqbalance exists; root only, checked by SCM_CREDENTIALS, which
//      the kernel attaches because the daemon sets SO_PASSCRED):
//      `settings cpus LIST` and `settings ban irqs N N ...` replace the
//      banned CPUs and the banned IRQs live; they take effect at the
//      daemon's next pass (every SLEEP seconds); `setup` answers
//      `SLEEP 10 IRQ 38 LOAD ... BANNED 00000002`. Lost on restart, which is
//      why the file is edited too.
//   2. `systemctl try-restart irqbalance.service` (restarts only a running
//      unit), as tuned and perftune do.
//
// Without either, sipmi cannot make the daemon obey; a plan says so before
// anything is written.

import type { HostFs } from "../sys/hostfs.ts";
import type { DaemonTarget } from "./changes.ts";
import { parseCpuList, parseCpuMask } from "./cpuset.ts";
import type { ServiceControl } from "./services.ts";

export const SOCKET_DIR = "/run/irqbalance";
export const IRQBALANCE_UNIT = "irqbalance.service";
/** How long one socket request may take; the daemon answers from its main loop. */
const SOCKET_TIMEOUT_MS = 2000;

export function socketPath(pid: number): string {
  return `${SOCKET_DIR}/irqbalance${pid}.sock`;
}

/** What the daemon answers to `setup`. */
export interface LiveSetup {
  socket: string;
  /** Seconds between its passes. */
  sleep: number;
  banned_cpus: string;
  /** IRQs banned by --banirq or `settings ban irqs`. */
  banned_irqs: number[];
}

export function parseSetup(text: string, socket: string): LiveSetup {
  const sleep = /SLEEP ([0-9]+)/.exec(text);
  const banned = /BANNED ([0-9a-fA-F,]+)/.exec(text);
  if (!sleep || !banned) throw new Error(`unexpected answer to 'setup': '${text.slice(0, 120)}'`);
  return {
    socket,
    sleep: Number(sleep[1]),
    banned_cpus: parseCpuMask(banned[1]).toList(),
    banned_irqs: [...text.matchAll(/IRQ ([0-9]+) /g)].map((m) => Number(m[1])).sort((a, b) =>
      a - b
    ),
  };
}

/** The daemon's live settings, or null when its socket is not there or does not answer. */
export async function liveSetup(fs: HostFs, pid: number): Promise<LiveSetup | null> {
  const socket = socketPath(pid);
  if (!(await fs.exists(socket))) return null;
  try {
    return parseSetup(await fs.askUnixSocket(socket, "setup", SOCKET_TIMEOUT_MS), socket);
  } catch {
    return null;
  }
}

/**
 * The argument of `settings cpus` that bans `want` (a cpulist), or null
 * when the socket cannot say it: an empty ban is only `NULL` (back to what
 * the daemon's own environment bans), so it works when that is empty too.
 */
export function cpusCommand(want: string, environment: string | null): string | null {
  if (want !== "") return parseCpuList(want).toList();
  return environment === "" ? "NULL" : null;
}

/** How a running daemon can be made to obey: by its socket, by systemd, or not at all. */
export async function obeyMethod(
  fs: HostFs,
  services: ServiceControl,
  pid: number,
  cpusCommand: string | null,
): Promise<"socket" | "systemd" | null> {
  if (cpusCommand !== null && (await liveSetup(fs, pid)) !== null) return "socket";
  return (await services.systemd()) ? "systemd" : null;
}

function irqWords(irqs: readonly number[]): string {
  return irqs.length === 0 ? "NONE" : irqs.join(" ");
}

/**
 * Tells the daemon its new bans: live through its socket when it answers,
 * else a restart through systemd. Returns what was done, for the result row.
 */
export async function makeDaemonObey(
  fs: HostFs,
  services: ServiceControl,
  d: DaemonTarget,
): Promise<{ via: "socket" | "systemd"; how: string }> {
  const live = await liveSetup(fs, d.pid);
  if (live !== null && d.cpus_command !== null) {
    const cmds = [`settings cpus ${d.cpus_command}`, `settings ban irqs ${irqWords(d.irqs)}`];
    try {
      for (const c of cmds) await fs.askUnixSocket(live.socket, c, SOCKET_TIMEOUT_MS);
      return {
        via: "socket",
        how: `told irqbalance (pid ${d.pid}) through ${live.socket}: ${
          cmds.join("; ")
        }; it applies them at its next pass (every ${live.sleep}s)`,
      };
    } catch (e) {
      if (!(await services.systemd())) throw e;
      // The socket went away under us: a restart still gets the new file read.
    }
  }
  return { via: "systemd", how: await restart(services) };
}

/** Takes back a live ban: the daemon falls back to its environment and command line. */
export async function undoLive(fs: HostFs, d: DaemonTarget): Promise<string> {
  const live = await liveSetup(fs, d.pid);
  if (live === null) return `irqbalance (pid ${d.pid}) no longer answers: nothing to take back`;
  const cmds = ["settings cpus NULL", `settings ban irqs ${irqWords(d.own_irqs)}`];
  for (const c of cmds) await fs.askUnixSocket(live.socket, c, SOCKET_TIMEOUT_MS);
  return `told irqbalance (pid ${d.pid}): ${cmds.join("; ")}`;
}

export async function restart(services: ServiceControl): Promise<string> {
  if (!(await services.systemd())) {
    throw new Error("systemd is not running here, so irqbalance cannot be restarted by sipmi");
  }
  const r = await services.run("try-restart", IRQBALANCE_UNIT);
  if (r.code !== 0) {
    throw new Error(
      `systemctl try-restart ${IRQBALANCE_UNIT} failed (exit ${r.code}): ${r.output}`,
    );
  }
  return services.describe("try-restart", IRQBALANCE_UNIT);
}
