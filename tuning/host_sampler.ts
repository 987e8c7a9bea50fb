// Host statistics groups (softnet:, softirq:, udp:, udp6:, irq:, nic:) with a
// bounded age. A group is served from its latest sample while that sample
// is younger than `stats.host_max_age_ms`; an older one is read again, and
// every request that arrives while a read is under way shares that read. 0
// means every request reads live (still sharing a read in progress).
//
// Each group carries its own age as a statistic, `GROUP:sample_age_ms`: how
// old the values served with it are (from the start of their read). Where
// the read runs is the caller's: the daemon's tuning worker, or the
// process itself for the CLI.

import { type Collected, type GroupRead, GroupValues, type StatsRegistry } from "../mi/stats.ts";
import { errText } from "../sys/log.ts";

/** Reads one group now (rejects only when the reader itself failed, e.g. a dead worker). */
export type ReadGroup = (group: string) => Promise<Collected[]>;

/** The statistic each host group carries: the age of its values, in ms. */
export const SAMPLE_AGE = "sample_age_ms";

interface Sample {
  /** When its read started (Date.now()). */
  at: number;
  values: GroupValues;
}

function withAge(s: Sample): GroupRead {
  if (s.values.values.length === 0) return [];
  return { sample: s.values, live: [[SAMPLE_AGE, Math.max(0, Date.now() - s.at)]] };
}

export class HostSampler {
  /** stats.host_max_age_ms: a reload changes it. */
  maxAgeMs: number;
  readonly #read: ReadGroup;
  readonly #warn: (message: string) => void;
  readonly #samples = new Map<string, Sample>();
  readonly #reading = new Map<string, Promise<Sample>>();

  constructor(read: ReadGroup, maxAgeMs: number, warn: (message: string) => void) {
    this.#read = read;
    this.maxAgeMs = maxAgeMs;
    this.#warn = warn;
  }

  /** Registers each group as a computed statistics group. */
  register(stats: StatsRegistry, groups: Iterable<string>): void {
    // Host values are counters since boot; each group's age is a gauge (SampledGroup).
    for (const group of groups) {
      stats.collector(group, () => this.values(group), { kind: "counter" });
    }
  }

  /** A group's values and their age; nothing when the group could not be read. */
  /** Without a promise when the latest sample is young enough. */
  values(group: string): GroupRead | Promise<GroupRead> {
    const s = this.sample(group);
    return s instanceof Promise ? s.then(withAge) : withAge(s);
  }

  /** The latest sample if young enough, else the read under way, else a new read. */
  sample(group: string): Promise<Sample> | Sample {
    const s = this.#samples.get(group);
    if (s !== undefined && this.maxAgeMs > 0 && Date.now() - s.at < this.maxAgeMs) return s;
    return this.#reading.get(group) ?? this.#refresh(group);
  }

  #refresh(group: string): Promise<Sample> {
    const at = Date.now();
    const p = this.#read(group).then(
      (values) => {
        const s = { at, values: new GroupValues(values) };
        this.#samples.set(group, s);
        return s;
      },
      (e) => {
        this.#warn(`statistics group ${group}: ${errText(e)}`);
        return { at, values: new GroupValues([]) };
      },
    ).finally(() => this.#reading.delete(group));
    this.#reading.set(group, p);
    return p;
  }
}
