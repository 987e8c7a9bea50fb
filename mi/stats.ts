// The statistics registry: `group:name` values that MI commands and
// /metrics read. Three kinds, as in OpenSIPS: counters (incremental,
// resettable unless told otherwise), gauges (set, never reset) and computed
// values. Whole groups can also be computed on demand (host counters whose
// names depend on the machine, e.g. one per CPU).
//
// A computed group may say that some of its values are members of one
// family told apart by labels: `softnet:cpu3_dropped` is the member
// cpu="3" of the family `dropped`. MI names stay as they are; /metrics
// writes such a family as one metric with a label per member.

/** Counter: only goes up (until a reset or a reboot); gauge: goes up and down. */
export type StatKind = "counter" | "gauge";

export interface Stat {
  readonly group: string;
  readonly name: string;
  /** OpenSIPS's "incremental": a resettable counter. */
  readonly incremental: boolean;
  readonly kind: StatKind;
  value(): number;
  reset(): void;
}

export class Counter implements Stat {
  readonly kind = "counter";
  readonly group: string;
  readonly name: string;
  readonly incremental: boolean;
  v = 0;
  constructor(group: string, name: string, resettable: boolean) {
    this.group = group;
    this.name = name;
    this.incremental = resettable;
  }
  inc(n = 1): void {
    this.v += n;
  }
  value(): number {
    return this.v;
  }
  reset(): void {
    if (this.incremental) this.v = 0;
  }
}

export class Gauge implements Stat {
  readonly incremental = false;
  readonly kind = "gauge";
  readonly group: string;
  readonly name: string;
  v = 0;
  constructor(group: string, name: string) {
    this.group = group;
    this.name = name;
  }
  set(v: number): void {
    this.v = v;
  }
  value(): number {
    return this.v;
  }
  reset(): void {}
}

class Computed implements Stat {
  readonly incremental = false;
  readonly kind = "gauge";
  readonly group: string;
  readonly name: string;
  readonly #fn: () => number;
  constructor(group: string, name: string, fn: () => number) {
    this.group = group;
    this.name = name;
    this.#fn = fn;
  }
  value(): number {
    return this.#fn();
  }
  reset(): void {}
}

/** Membership of a labelled family: `cpu3_dropped` is `{family:"dropped", labels:{cpu:"3"}}`. */
export interface FamilyMember {
  family: string;
  labels: Record<string, string>;
}

/** One value of a computed group: its name, its value and, for a family member, which. */
export type Collected = [name: string, value: number] | [
  name: string,
  value: number,
  member: FamilyMember,
];

/**
 * The values of a computed group read at one time (a host sample). They are
 * served to many requests, so their JSON members are encoded once, on first
 * use: a `get_statistics all` of a 1152-CPU host then costs the event loop a
 * string concatenation instead of thousands of keys to build and encode.
 */
export class GroupValues {
  readonly values: readonly Collected[];
  #json: string | undefined;
  #for = "";

  constructor(values: readonly Collected[]) {
    this.values = values;
  }

  /** `"group:name":value,...` (empty when there are no values). */
  json(group: string): string {
    if (this.#json === undefined || this.#for !== group) {
      this.#json = encodeMembers(group, this.values);
      this.#for = group;
    }
    return this.#json;
  }
}

/**
 * A shared sample plus values worked out for this read. The live values
 * describe the sample (its age) and are gauges, whatever the group's kind.
 */
export interface SampledGroup {
  sample: GroupValues;
  live: readonly Collected[];
}

/** What a computed group yields when read: its values, or a sample and live values. */
export type GroupRead = Iterable<Collected> | SampledGroup;

/** Values of a computed group, collected when the group is read. */
export type GroupCollector = () => Promise<GroupRead> | GroupRead;

export interface StatValue {
  group: string;
  name: string;
  value: number;
  incremental: boolean;
  kind: StatKind;
  /** Set for a member of a labelled family (computed groups only). */
  member?: FamilyMember;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

export class StatsRegistry {
  // group (lower case) -> name -> stat, both in registration order.
  readonly #groups = new Map<string, { name: string; stats: Map<string, Stat> }>();
  readonly #collectors = new Map<
    string,
    { name: string; collect: GroupCollector; kind: StatKind }
  >();

  counter(group: string, name: string, opts: { resettable?: boolean } = {}): Counter {
    return this.#add(group, name, () => new Counter(group, name, opts.resettable ?? true), Counter);
  }

  gauge(group: string, name: string): Gauge {
    return this.#add(group, name, () => new Gauge(group, name), Gauge);
  }

  computed(group: string, name: string, fn: () => number): void {
    this.#add(group, name, () => new Computed(group, name, fn), Computed);
  }

  /**
   * A group whose members are computed when read (non-incremental). `kind`
   * says what they are: host counters since boot are counters.
   */
  collector(group: string, collect: GroupCollector, opts: { kind?: StatKind } = {}): void {
    checkName(group);
    const key = group.toLowerCase();
    if (this.#groups.has(key) || this.#collectors.has(key)) {
      throw new Error(`statistics group '${group}' exists`);
    }
    this.#collectors.set(key, { name: group, collect, kind: opts.kind ?? "gauge" });
  }

  #add<T extends Stat>(
    group: string,
    name: string,
    make: () => T,
    kind: abstract new (...a: never[]) => T,
  ): T {
    checkName(group);
    checkName(name);
    const gkey = group.toLowerCase();
    if (this.#collectors.has(gkey)) throw new Error(`statistics group '${group}' is computed`);
    let g = this.#groups.get(gkey);
    if (!g) this.#groups.set(gkey, g = { name: group, stats: new Map() });
    const existing = g.stats.get(name.toLowerCase());
    if (existing) {
      // Registering twice (a listener restarted) returns the same statistic.
      if (existing instanceof kind) return existing;
      throw new Error(`statistic '${group}:${name}' exists with another kind`);
    }
    const s = make();
    g.stats.set(name.toLowerCase(), s);
    return s;
  }

  /** Every group name, registered and computed. */
  groups(): string[] {
    return [
      ...[...this.#groups.values()].map((g) => g.name),
      ...[...this.#collectors.values()].map((c) => c.name),
    ];
  }

  /** The values of one group (case-insensitive); empty when unknown. */
  async group(group: string): Promise<StatValue[]> {
    const key = group.toLowerCase();
    const g = this.#groups.get(key);
    if (g) {
      return [...g.stats.values()].map((s) => valueOf(g.name, s));
    }
    const c = this.#collectors.get(key);
    if (!c) return [];
    const out: StatValue[] = [];
    const got = await c.collect();
    const add = (values: Iterable<Collected>, kind: StatKind) => {
      for (const [name, value, member] of values) {
        const v: StatValue = { group: c.name, name, value, incremental: false, kind };
        if (member !== undefined) v.member = member;
        out.push(v);
      }
    };
    if (isSampled(got)) {
      add(got.sample.values, c.kind);
      add(got.live, "gauge");
    } else {
      add(got, c.kind);
    }
    return out;
  }

  /**
   * The JSON object text `get_statistics` answers for items that each name
   * whole groups (`all`, `group:`): each group once, where it is first
   * named, in the order `lookup` gives. Undefined when an item names single
   * statistics: the caller builds that answer stat by stat.
   */
  encode(items: readonly string[]): string | undefined | Promise<string> {
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const item of items) {
      if (item !== "all" && !(item.length > 1 && item.indexOf(":") === item.length - 1)) {
        return undefined;
      }
      for (const g of item === "all" ? this.groups() : [item.slice(0, -1)]) {
        const key = g.toLowerCase();
        if (!seen.has(key)) keys.push(key);
        seen.add(key);
      }
    }
    // Synchronous when every group is at hand (in memory, or a host sample
    // young enough): the reply is then no promise and a datagram or FIFO
    // loop answers it in the same turn. Groups that must be read are read
    // all at once, keeping the order.
    const parts = keys.map((k) => this.#encodeGroup(k));
    const join = (done: string[]) => `{${done.filter((p) => p !== "").join(",")}}`;
    if (parts.every((p) => typeof p === "string")) return join(parts as string[]);
    return Promise.all(parts).then(join);
  }

  #encodeGroup(key: string): string | Promise<string> {
    const g = this.#groups.get(key);
    if (g) {
      const out: string[] = [];
      for (const s of g.stats.values()) out.push(memberOf(g.name, s));
      return out.join(",");
    }
    const c = this.#collectors.get(key);
    if (!c) return "";
    const got = c.collect();
    return got instanceof Promise
      ? got.then((r) => encodeRead(c.name, r))
      : encodeRead(c.name, got);
  }

  async all(): Promise<StatValue[]> {
    // Computed groups read host files: read them all at once, keep the order.
    return (await Promise.all(this.groups().map((g) => this.group(g)))).flat();
  }

  /**
   * Resolves one item of a statistics request: `all`, `group:`, `group:name`
   * or a bare name (the first stat of that name across groups). A single
   * registered stat is read alone, not by computing its whole group.
   */
  async lookup(item: string): Promise<StatValue[]> {
    if (item === "all") return await this.all();
    const colon = item.indexOf(":");
    if (colon > 0 && colon === item.length - 1) return await this.group(item.slice(0, -1));
    const name = (colon > 0 ? item.slice(colon + 1) : item).toLowerCase();
    if (colon > 0) {
      const gname = item.slice(0, colon).toLowerCase();
      const g = this.#groups.get(gname);
      if (g) {
        const st = g.stats.get(name);
        return st ? [valueOf(g.name, st)] : [];
      }
      if (!this.#collectors.has(gname)) return [];
      return (await this.group(gname)).filter((v) => v.name.toLowerCase() === name);
    }
    for (const g of this.#groups.values()) {
      const st = g.stats.get(name);
      if (st) return [valueOf(g.name, st)];
    }
    for (const c of this.#collectors.values()) {
      const hit = (await this.group(c.name)).find((v) => v.name.toLowerCase() === name);
      if (hit) return [hit];
    }
    return [];
  }

  /**
   * Resets one named stat (`group:name` or bare name) if it is resettable;
   * false when no stat has that name. Computed values are never reset.
   */
  async reset(item: string): Promise<boolean> {
    const colon = item.indexOf(":");
    if (colon > 0) {
      const name = item.slice(colon + 1).toLowerCase();
      const g = this.#groups.get(item.slice(0, colon).toLowerCase());
      if (g) {
        const s = g.stats.get(name);
        s?.reset();
        return s !== undefined;
      }
      return (await this.lookup(item)).length > 0;
    }
    const name = item.toLowerCase();
    for (const g of this.#groups.values()) {
      const s = g.stats.get(name);
      if (s) {
        s.reset();
        return true;
      }
    }
    return (await this.lookup(item)).length > 0;
  }

  resetAll(): void {
    for (const g of this.#groups.values()) for (const s of g.stats.values()) s.reset();
  }
}

/** The JSON members of one read of a computed group. */
function encodeRead(group: string, got: GroupRead): string {
  if (!isSampled(got)) return encodeMembers(group, got);
  const shared = got.sample.json(group);
  const live = encodeMembers(group, got.live);
  return shared === "" ? live : live === "" ? shared : `${shared},${live}`;
}

function isSampled(c: GroupRead): c is SampledGroup {
  return (c as { sample?: unknown }).sample instanceof GroupValues;
}

/** One `"group:name":value` member, as JSON.stringify would write it (NaN and Infinity as null). */
function member(group: string, name: string, value: number): string {
  return `${JSON.stringify(`${group}:${name}`)}:${Number.isFinite(value) ? value : "null"}`;
}

/** `"group:name":` of each registered stat, encoded once. */
const KEYS = new WeakMap<Stat, string>();

function memberOf(group: string, s: Stat): string {
  let key = KEYS.get(s);
  if (key === undefined) KEYS.set(s, key = `${JSON.stringify(`${group}:${s.name}`)}:`);
  const v = s.value();
  return key + (Number.isFinite(v) ? v : "null");
}

function encodeMembers(group: string, values: Iterable<Collected>): string {
  const out: string[] = [];
  for (const [name, value] of values) out.push(member(group, name, value));
  return out.join(",");
}

function valueOf(group: string, s: Stat): StatValue {
  return { group, name: s.name, value: s.value(), incremental: s.incremental, kind: s.kind };
}

function checkName(n: string): void {
  if (!NAME.test(n)) throw new Error(`bad statistic or group name '${n}'`);
}
