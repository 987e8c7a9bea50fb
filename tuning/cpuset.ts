// CPU sets in the three forms the kernel and operators use:
//   - kernel hex masks: comma-separated 32-bit groups, most significant first
//     (`ffffffff,00000000` = CPUs 32-63), leading groups optional (`3` = 0-1);
//   - cpulists: `0-3,8,10-11`, plus the kernel's stride form `0-15:2/4`;
//   - sets: a sorted array of CPU numbers (CpuSet).
// Masks are always compared as sets, never as strings: zero padding differs
// between kernels and tools (tuned issue #98).

/** Largest CONFIG_NR_CPUS the kernel allows (x86 MAXSMP). */
export const MAX_CPUS = 8192;

/** Malformed mask or cpulist text; the message quotes the text and says what is wrong. */
export class CpuSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CpuSetError";
  }
}

/** An immutable set of CPU numbers, kept sorted and unique. */
export class CpuSet {
  readonly #cpus: readonly number[];

  private constructor(sortedUnique: readonly number[]) {
    this.#cpus = sortedUnique;
  }

  static readonly EMPTY = new CpuSet([]);

  static of(cpus: Iterable<number>): CpuSet {
    const list = [...new Set(cpus)];
    for (const c of list) {
      if (!Number.isInteger(c) || c < 0 || c >= MAX_CPUS) {
        throw new CpuSetError(`CPU number ${c} is not in 0..${MAX_CPUS - 1}`);
      }
    }
    return new CpuSet(list.sort((a, b) => a - b));
  }

  /** `0-3,8`; see parseCpuList. */
  static parseList(text: string): CpuSet {
    return parseCpuList(text);
  }

  /** `ff,00000000`; see parseCpuMask. */
  static parseMask(text: string): CpuSet {
    return parseCpuMask(text);
  }

  get size(): number {
    return this.#cpus.length;
  }

  get isEmpty(): boolean {
    return this.#cpus.length === 0;
  }

  /** The CPU numbers, ascending. */
  toArray(): number[] {
    return [...this.#cpus];
  }

  [Symbol.iterator](): Iterator<number> {
    return this.#cpus[Symbol.iterator]();
  }

  has(cpu: number): boolean {
    // Binary search: sets of a 1152-CPU host are looked up per IRQ.
    let lo = 0, hi = this.#cpus.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.#cpus[mid];
      if (v === cpu) return true;
      if (v < cpu) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** Highest CPU number, or -1 when empty. */
  get max(): number {
    return this.#cpus.length === 0 ? -1 : this.#cpus[this.#cpus.length - 1];
  }

  equals(other: CpuSet): boolean {
    if (other.size !== this.size) return false;
    const o = other.#cpus;
    return this.#cpus.every((c, i) => c === o[i]);
  }

  union(other: CpuSet): CpuSet {
    return CpuSet.of([...this.#cpus, ...other.#cpus]);
  }

  intersect(other: CpuSet): CpuSet {
    return new CpuSet(this.#cpus.filter((c) => other.has(c)));
  }

  minus(other: CpuSet): CpuSet {
    return new CpuSet(this.#cpus.filter((c) => !other.has(c)));
  }

  isSubsetOf(other: CpuSet): boolean {
    return this.#cpus.every((c) => other.has(c));
  }

  intersects(other: CpuSet): boolean {
    return this.#cpus.some((c) => other.has(c));
  }

  /** The cpulist form, `0-3,8,10-11` ("" when empty). */
  toList(): string {
    return formatCpuList(this.#cpus);
  }

  /** The kernel hex mask, padded to `nbits` CPUs (e.g. nr_cpu_ids) when given. */
  toMask(nbits?: number): string {
    return formatCpuMask(this.#cpus, nbits);
  }

  toString(): string {
    return this.toList();
  }

  toJSON(): string {
    return this.toList();
  }
}

const DECIMAL = /^[0-9]+$/;

function cpuNumber(token: string, text: string): number {
  if (!DECIMAL.test(token)) {
    throw new CpuSetError(`bad cpulist '${text}': '${token}' is not a CPU number`);
  }
  const n = Number(token);
  if (n >= MAX_CPUS) {
    throw new CpuSetError(
      `bad cpulist '${text}': CPU ${token} is beyond the ${MAX_CPUS}-CPU limit`,
    );
  }
  return n;
}

/**
 * Parses a cpulist as the kernel's bitmap_parselist does: comma-separated
 * `N`, `A-B` and `A-B:USED/GROUP` (the first USED CPUs of every GROUP).
 * Surrounding whitespace and a trailing newline are ignored; "" is the empty set.
 */
export function parseCpuList(text: string): CpuSet {
  const t = text.trim();
  if (t === "") return CpuSet.EMPTY;
  const out: number[] = [];
  for (const part of t.split(",")) {
    if (part === "") throw new CpuSetError(`bad cpulist '${t}': empty item between commas`);
    const m = /^([^-:]+)(?:-([^:]+)(?::([^/]+)\/(.+))?)?$/.exec(part);
    if (!m) throw new CpuSetError(`bad cpulist '${t}': cannot read '${part}'`);
    const a = cpuNumber(m[1], t);
    if (m[2] === undefined) {
      out.push(a);
      continue;
    }
    const b = cpuNumber(m[2], t);
    if (b < a) throw new CpuSetError(`bad cpulist '${t}': range '${part}' ends before it starts`);
    let used = 1, group = 1;
    if (m[3] !== undefined) {
      used = cpuNumber(m[3], t);
      group = cpuNumber(m[4], t);
      if (used === 0 || group === 0 || used > group) {
        throw new CpuSetError(`bad cpulist '${t}': stride '${part}' needs 0 < USED <= GROUP`);
      }
    }
    for (let c = a; c <= b; c++) if ((c - a) % group < used) out.push(c);
  }
  return CpuSet.of(out);
}

/**
 * A cpulist as a kernel file prints it. Besides the plain form, kernels
 * built with CONFIG_NO_HZ_FULL but booted without `nohz_full=` print a NULL
 * mask as `(null)` (/sys/devices/system/cpu/nohz_full); that, like an empty
 * file, is the empty set, not bad host data. User input never goes
 * through here: `(null)` in a profile is an error.
 */
export function parseKernelCpuList(text: string): CpuSet {
  return text.trim() === "(null)" ? CpuSet.EMPTY : parseCpuList(text);
}

/** A kernel hex mask file; empty or `(null)` is the empty set (see parseKernelCpuList). */
export function parseKernelCpuMask(text: string): CpuSet {
  const t = text.trim();
  return t === "" || t === "(null)" ? CpuSet.EMPTY : parseCpuMask(t);
}

/** The cpulist of sorted, unique CPU numbers, with ranges for runs of two or more. */
export function formatCpuList(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}

const HEX_GROUP = /^[0-9a-fA-F]{1,8}$/;

/**
 * Parses a kernel hex mask (`cpumask_parse_user`): 32-bit groups separated by
 * commas, most significant first; leading groups may be left out. A `0x`
 * prefix is refused, as the kernel refuses it.
 */
export function parseCpuMask(text: string): CpuSet {
  const t = text.trim();
  if (t === "") throw new CpuSetError("bad CPU mask '': empty");
  if (/^0[xX]/.test(t)) {
    throw new CpuSetError(`bad CPU mask '${t}': no '0x' prefix (the kernel refuses it)`);
  }
  const groups = t.split(",");
  if (groups.length * 32 > MAX_CPUS) {
    // Leading all-zero groups beyond the limit are harmless padding.
    const extra = groups.length - MAX_CPUS / 32;
    if (groups.slice(0, extra).some((g) => !/^0+$/.test(g))) {
      throw new CpuSetError(`bad CPU mask '${short(t)}': more than ${MAX_CPUS} CPUs`);
    }
  }
  const out: number[] = [];
  for (let gi = 0; gi < groups.length; gi++) {
    const g = groups[gi];
    if (!HEX_GROUP.test(g)) {
      throw new CpuSetError(
        `bad CPU mask '${short(t)}': group ${gi + 1} '${short(g)}' is not 1-8 hex digits`,
      );
    }
    const base = (groups.length - 1 - gi) * 32;
    const v = parseInt(g, 16);
    if (v === 0) continue;
    for (let bit = 0; bit < 32; bit++) {
      if ((v >>> bit) & 1) out.push(base + bit);
    }
  }
  return CpuSet.of(out);
}

function short(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * The kernel's hex form: 32-bit groups, most significant first, each group
 * 8 digits except that the first is as the kernel prints it (zero-padded to
 * `nbits`, or the minimal number of groups when nbits is not given).
 */
export function formatCpuMask(sorted: readonly number[], nbits?: number): string {
  const max = sorted.length === 0 ? -1 : sorted[sorted.length - 1];
  const bits = Math.max(nbits ?? 0, max + 1, 1);
  const ngroups = Math.ceil(bits / 32);
  const words = new Uint32Array(ngroups);
  for (const c of sorted) words[c >> 5] |= 1 << (c & 31);
  const parts: string[] = [];
  for (let gi = ngroups - 1; gi >= 0; gi--) {
    const hex = words[gi].toString(16);
    if (gi === ngroups - 1 && nbits !== undefined) {
      // The kernel pads the top group to the digits nr_cpu_ids needs.
      const topBits = bits - gi * 32;
      parts.push(hex.padStart(Math.ceil(topBits / 4), "0"));
    } else if (gi === ngroups - 1) {
      parts.push(hex);
    } else {
      parts.push(hex.padStart(8, "0"));
    }
  }
  return parts.join(",");
}
