// Resolving the items of one statistics request (`all`, `group:`,
// `group:name`, a bare name) with every group read at most once per
// request. StatsRegistry.lookup answers one item at a time and may compute a
// whole group (host files) to find one name; a request naming 20,000
// statistics then cost 20,000 group reads (15 s of CPU). Here a request
// with more than a few items costs one read of every group and one pass
// over the values, whatever its length.
//
// Same answers as StatsRegistry.lookup, from its public API: group names in
// registration order (registered groups before computed ones), values by
// group, names matched without regard to case.

import type { StatsRegistry, StatValue } from "./stats.ts";

/** Up to this many items are looked up one by one (no index to build). */
const DIRECT = 8;

export class StatsLookup {
  readonly #stats: StatsRegistry;
  #index: Promise<Index> | undefined;

  constructor(stats: StatsRegistry) {
    this.#stats = stats;
  }

  /** The values of each item, in order (an unknown item gives none). */
  static async resolve(stats: StatsRegistry, items: readonly string[]): Promise<StatValue[][]> {
    if (items.length <= DIRECT) {
      const out: StatValue[][] = [];
      for (const item of items) out.push(await stats.lookup(item));
      return out;
    }
    const l = new StatsLookup(stats);
    const out: StatValue[][] = [];
    for (const item of items) out.push(await l.lookup(item));
    return out;
  }

  async lookup(item: string): Promise<StatValue[]> {
    const ix = await this.#read();
    if (item === "all") return ix.all;
    const colon = item.indexOf(":");
    if (colon > 0 && colon === item.length - 1) {
      return ix.groups.get(item.slice(0, -1).toLowerCase())?.values ?? [];
    }
    const name = (colon > 0 ? item.slice(colon + 1) : item).toLowerCase();
    if (colon > 0) {
      return ix.groups.get(item.slice(0, colon).toLowerCase())?.byName.get(name) ?? [];
    }
    const hit = ix.first.get(name);
    return hit ? [hit] : [];
  }

  /** Every group, read once (computed ones included), indexed. */
  #read(): Promise<Index> {
    return this.#index ??= this.#stats.all().then((all) => {
      const groups = new Map<string, Group>();
      const first = new Map<string, StatValue>();
      for (const v of all) {
        const gk = v.group.toLowerCase(), nk = v.name.toLowerCase();
        let g = groups.get(gk);
        if (!g) groups.set(gk, g = { values: [], byName: new Map() });
        g.values.push(v);
        const same = g.byName.get(nk);
        if (same) same.push(v);
        else g.byName.set(nk, [v]);
        if (!first.has(nk)) first.set(nk, v);
      }
      return { all, groups, first };
    });
  }
}

interface Index {
  all: StatValue[];
  groups: Map<string, Group>;
  /** The first value of each lower-case name across groups, in the registry's order. */
  first: Map<string, StatValue>;
}

interface Group {
  values: StatValue[];
  /** By lower-case name. */
  byName: Map<string, StatValue[]>;
}
