// A tuning profile: what an operator wants of a SIP host, in stable names
// (NICs, IRQ name patterns, systemd units, process names), never IRQ
// numbers or PIDs, which change with every boot and restart. JSONC, read
// and checked like the config: unknown keys, wrong types and bad values are
// reported all at once with file, line and column (docs/tuning_changes.md
// describes every key).
//
// CPU values everywhere are a cpulist ("2-3,6") or a name:
//   sip_cpus      the profile's sip_cpus
//   housekeeping  the online CPUs that are not sip_cpus
//   all           every online CPU

import { ConfigError, parseJsonc } from "../config/load.ts";
import { bool, custom, type Infer, list, obj, str } from "../config/spec.ts";
import type { HostFs } from "../sys/hostfs.ts";
import { HostFsError } from "../sys/hostfs.ts";
import { CpuSetError, parseCpuList } from "./cpuset.ts";
import { compilePattern } from "./pattern.ts";

export const CPU_NAMES = ["sip_cpus", "housekeeping", "all"] as const;

function checkCpus(v: string, extra: readonly string[] = []): string | undefined {
  if ((CPU_NAMES as readonly string[]).includes(v) || extra.includes(v)) return undefined;
  try {
    if (parseCpuList(v).isEmpty) return `must name at least one CPU, not "${v}"`;
    return undefined;
  } catch (e) {
    if (e instanceof CpuSetError) {
      return `must be a cpulist such as "2-3" or one of ${
        [...CPU_NAMES, ...extra].join(", ")
      }: ${e.message}`;
    }
    throw e;
  }
}

const cpus = (def = "") =>
  str(def, (v) => v === "" ? undefined : checkCpus(v), `a cpulist or ${CPU_NAMES.join(", ")}`);
const pattern = () =>
  str("", (v) => {
    const re = compilePattern(v);
    return typeof re === "string" ? re : undefined;
  }, "a regular expression");
const nicName = () =>
  str("", (v) => /^[^/\s]{1,15}$/.test(v) ? undefined : `must be an interface name, not "${v}"`);

export type IrqbalanceIntent =
  | { mode: "leave" }
  | { mode: "stop" }
  | { mode: "ban"; ban: string; ban_irqs: boolean };

const irqbalanceSpec = custom<IrqbalanceIntent>(
  { mode: "leave" },
  '"leave", "stop" or {"ban": CPUS, "ban_irqs": true}',
  (v) => {
    if (v === "leave" || v === "stop") return { value: { mode: v } };
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      return { error: `must be "leave", "stop" or an object` };
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (k !== "ban" && k !== "ban_irqs") return { error: `unknown key '${k}'` };
    }
    if (typeof o.ban !== "string") return { error: "ban must be a string" };
    const problem = checkCpus(o.ban);
    if (problem !== undefined) return { error: `ban ${problem}` };
    if (o.ban_irqs !== undefined && typeof o.ban_irqs !== "boolean") {
      return { error: "ban_irqs must be true or false" };
    }
    return { value: { mode: "ban", ban: o.ban, ban_irqs: (o.ban_irqs as boolean) ?? true } };
  },
);

export const profileSpec = obj({
  /** The cores of the SIP router and its NIC queues. */
  sip_cpus: cpus(),
  nics: list(
    obj({
      name: nicName(),
      /** "spread" (one CPU per queue over sip_cpus), a CPU value, or "" to leave them. */
      irqs: str("", (v) => v === "" ? undefined : checkCpus(v, ["spread"]), '"spread" or CPUs'),
      /** Spread only over the CPUs of the NIC's NUMA node (local_cpulist). */
      numa_local: bool(false),
      /** The CPUs "spread" uses (default sip_cpus). */
      cpus: cpus(),
    }),
    [],
  ),
  irqs: list(obj({ match: pattern(), cpus: cpus() }), []),
  irqbalance: irqbalanceSpec,
  processes: list(
    obj({
      unit: str(
        "",
        (v) =>
          v === "" || /^[A-Za-z0-9:_.@\\-]{1,256}$/.test(v)
            ? undefined
            : `must be a systemd unit name, not "${v}"`,
      ),
      name: str("", (v) => {
        if (v === "") return undefined;
        const re = compilePattern(v);
        return typeof re === "string" ? re : undefined;
      }),
      /** Default sip_cpus. */
      cpus: cpus(),
      /** Every thread (default), or only each process's main thread. */
      threads: bool(true),
    }),
    [],
  ),
  /** sipmi's own threads; "housekeeping" keeps it off the SIP cores. */
  sipmi: obj({ cpus: cpus() }),
  /** /proc/irq/default_smp_affinity: where IRQs that appear later start. */
  default_irq_affinity: cpus(),
  rps: list(
    obj({
      nic: nicName(),
      cpus: str("", (v) => checkCpus(v, ["off"]), 'CPUs or "off"'),
    }),
    [],
  ),
});

export type Profile = Infer<typeof profileSpec>;

export interface LoadedProfile {
  profile: Profile;
  /** The file it came from, or `inline` for a profile sent in a request. */
  source: string;
}

/** Item-level rules the schema cannot say (exactly one of unit/name, a NIC name given). */
function crossCheck(p: Profile): string[] {
  const out: string[] = [];
  p.processes.forEach((x, i) => {
    if ((x.unit === "") === (x.name === "")) {
      out.push(`'processes[${i}]' needs exactly one of "unit" or "name"`);
    }
  });
  p.nics.forEach((n, i) => {
    if (n.name === "") out.push(`'nics[${i}].name' is required`);
  });
  p.irqs.forEach((x, i) => {
    if (x.match === "") out.push(`'irqs[${i}].match' is required`);
    if (x.cpus === "") out.push(`'irqs[${i}].cpus' is required`);
  });
  p.rps.forEach((x, i) => {
    if (x.nic === "") out.push(`'rps[${i}].nic' is required`);
    if (x.cpus === "") out.push(`'rps[${i}].cpus' is required`);
  });
  return out;
}

/** Parses profile text; throws ConfigError naming every problem with its line. */
export function parseProfile(text: string, source: string): Profile {
  const profile = parseJsonc(profileSpec, text, source, undefined, "profile");
  const problems = crossCheck(profile);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `${source}: ${p}`), "profile");
  for (const p of profile.processes) {
    if (p.unit !== "" && !/\.[a-z]+$/.test(p.unit)) p.unit += ".service";
  }
  return profile;
}

/**
 * A profile from a file (read from this machine's filesystem, never from a
 * fixture root: the profile belongs to the operator, not to the host) or an
 * object sent inline in a request.
 */
export async function loadProfile(
  files: HostFs,
  from: string | Record<string, unknown>,
): Promise<LoadedProfile> {
  if (typeof from !== "string") {
    return { profile: parseProfile(JSON.stringify(from, null, 1), "inline"), source: "inline" };
  }
  let text: string;
  try {
    text = await files.readText(from);
  } catch (e) {
    if (e instanceof HostFsError) {
      throw new ConfigError([`${from}: cannot read the profile: ${e.message}`], "profile");
    }
    throw e;
  }
  return { profile: parseProfile(text, from), source: from };
}
