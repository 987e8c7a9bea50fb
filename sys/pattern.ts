// The one matcher of user-supplied patterns (`tune affinity --name`,
// `tune irq list --match`, a profile's IRQ and process patterns, the command
// lists of a listener's policy): its cost is linear in the text matched, so
// no pattern can freeze the daemon (docs/protocol.md, "Patterns").
//
// A pattern is a safe subset of JavaScript regular expressions with the
// same meaning wherever it is accepted: literals and escapes, `.`, classes
// (`[a-z]`, `[^...]`, `\d \w \s` and their negations), anchors (`^ $ \b
// \B`), groups (`(...)`, `(?:...)`, `(?<name>...)`), alternation and the
// quantifiers `* + ? {n} {n,} {n,m}` (lazy forms too). What needs
// backtracking — backreferences, lookaround — and what is ambiguous is
// refused with a PatternError that says why.
//
// It is compiled to a Thompson NFA and run as a Pike VM without captures:
// every step keeps at most one thread per instruction, so a test costs at
// most (text length × program size); the program size is bounded. A
// pattern that is a plain literal (with or without ^ and $) skips the VM.
//
// It lives in sys/, below everything, because the config (policy lists),
// the MI core (policies) and the tuning commands all use it.

/** Longest program a pattern may compile to (counted repetitions expand). */
export const MAX_PROGRAM = 4096;

/** A compiled pattern: `test` is an unanchored search, like RegExp.prototype.test. */
export interface Pattern {
  readonly source: string;
  test(text: string): boolean;
}

/** Why a pattern is refused, in words an operator can act on. */
export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternError";
  }
}

// ------------------------------------------------------------------ syntax

/** A set of UTF-16 code units: sorted, non-overlapping [lo, hi] pairs, maybe negated. */
interface CharSet {
  ranges: number[];
  negate: boolean;
}

type Node =
  | { t: "char"; set: CharSet }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; alts: Node[] }
  | { t: "rep"; node: Node; min: number; max: number } // max -1: unbounded
  | { t: "assert"; kind: Assertion };

type Assertion = "bol" | "eol" | "word" | "nonword";

const DIGIT = [0x30, 0x39];
const WORD = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
// ECMAScript WhiteSpace and LineTerminator.
const SPACE = [
  0x09,
  0x0d,
  0x20,
  0x20,
  0xa0,
  0xa0,
  0x1680,
  0x1680,
  0x2000,
  0x200a,
  0x2028,
  0x2029,
  0x202f,
  0x202f,
  0x205f,
  0x205f,
  0x3000,
  0x3000,
  0xfeff,
  0xfeff,
];
const LINE_TERMINATORS = [0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029];

/** The ranges of a set, negation applied, normalized. */
function positive(ranges: number[], negate: boolean): number[] {
  const sorted = normalize(ranges);
  if (!negate) return sorted;
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < sorted.length; i += 2) {
    if (sorted[i] > next) out.push(next, sorted[i] - 1);
    next = sorted[i + 1] + 1;
  }
  if (next <= 0xffff) out.push(next, 0xffff);
  return out;
}

function normalize(ranges: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i], ranges[i + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

const lit = (c: number): Node => ({ t: "char", set: { ranges: [c, c], negate: false } });

class Parser {
  readonly #src: string;
  #i = 0;

  constructor(src: string) {
    this.#src = src;
  }

  parse(): Node {
    const n = this.#alt();
    if (this.#i < this.#src.length) {
      // Only an unmatched ')' stops #alt early.
      this.#fail("unmatched ')'");
    }
    return n;
  }

  #fail(why: string): never {
    throw new PatternError(`${why} at position ${this.#i + 1}`);
  }

  #peek(): string {
    return this.#src[this.#i] ?? "";
  }

  #alt(): Node {
    const alts = [this.#seq()];
    while (this.#peek() === "|") {
      this.#i++;
      alts.push(this.#seq());
    }
    return alts.length === 1 ? alts[0] : { t: "alt", alts };
  }

  #seq(): Node {
    const items: Node[] = [];
    while (this.#i < this.#src.length) {
      const c = this.#peek();
      if (c === "|" || c === ")") break;
      const atom = this.#atom();
      items.push(this.#quantified(atom));
    }
    return items.length === 1 ? items[0] : { t: "seq", items };
  }

  #quantified(atom: Node): Node {
    const start = this.#i;
    const q = this.#quantifier();
    if (q === undefined) return atom;
    if (atom.t === "assert") {
      this.#i = start;
      this.#fail("nothing to repeat (an anchor cannot be repeated)");
    }
    if (this.#peek() === "?") this.#i++; // lazy: the same language for a yes/no test
    if ("*+?{".includes(this.#peek()) && this.#quantifierAhead()) {
      this.#fail("nothing to repeat (two quantifiers in a row)");
    }
    return { t: "rep", node: atom, min: q.min, max: q.max };
  }

  /** True when a quantifier starts here (a `{` only when it forms one). */
  #quantifierAhead(): boolean {
    const c = this.#peek();
    if (c === "*" || c === "+" || c === "?") return true;
    return c === "{" && /^\{[0-9]+(,[0-9]*)?\}/.test(this.#src.slice(this.#i, this.#i + 16));
  }

  #quantifier(): { min: number; max: number } | undefined {
    const c = this.#peek();
    if (c === "*") return this.#i++, { min: 0, max: -1 };
    if (c === "+") return this.#i++, { min: 1, max: -1 };
    if (c === "?") return this.#i++, { min: 0, max: 1 };
    if (c !== "{") return undefined;
    const m = /^\{([0-9]+)(,([0-9]*))?\}/.exec(this.#src.slice(this.#i));
    if (!m) {
      this.#fail("'{' that does not start a quantifier {n}, {n,} or {n,m}: write it as '\\{'");
    }
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === "" ? -1 : Number(m[3]);
    if (min > 1000 || max > 1000) this.#fail("a counted repetition above 1000");
    if (max !== -1 && max < min) this.#fail(`numbers out of order in {${min},${max}}`);
    this.#i += m[0].length;
    return { min, max };
  }

  #atom(): Node {
    const c = this.#src[this.#i++];
    switch (c) {
      case "(":
        return this.#group();
      case "[":
        return { t: "char", set: this.#class() };
      case ".":
        return { t: "char", set: { ranges: LINE_TERMINATORS, negate: true } };
      case "^":
        return { t: "assert", kind: "bol" };
      case "$":
        return { t: "assert", kind: "eol" };
      case "\\":
        return this.#escape();
      case "*":
      case "+":
      case "?":
        this.#i--;
        return this.#fail("nothing to repeat");
      case "{":
        this.#i--;
        if (this.#quantifierAhead()) this.#fail("nothing to repeat");
        return this.#fail(
          "'{' that does not start a quantifier {n}, {n,} or {n,m}: write it as '\\{'",
        );
      default:
        return lit(c.charCodeAt(0));
    }
  }

  #group(): Node {
    if (this.#peek() === "?") {
      const rest = this.#src.slice(this.#i, this.#i + 3);
      if (rest.startsWith("?:")) this.#i += 2;
      else if (/^\?<[A-Za-z_$]/.test(rest)) {
        const m = /^\?<([A-Za-z_$][A-Za-z0-9_$]*)>/.exec(this.#src.slice(this.#i));
        if (!m) this.#fail("a bad group name");
        this.#i += m[0].length;
      } else if (rest.startsWith("?=") || rest.startsWith("?!") || /^\?<[=!]/.test(rest)) {
        this.#fail("lookahead and lookbehind are not supported (patterns run in linear time)");
      } else this.#fail("an unknown group '(?'");
    }
    const inner = this.#alt();
    if (this.#peek() !== ")") this.#fail("a '(' without its ')'");
    this.#i++;
    // A group may be repeated even when it holds only an anchor: `(^)*`.
    return inner.t === "assert" ? { t: "seq", items: [inner] } : inner;
  }

  /** After `[`: the set up to `]`. */
  #class(): CharSet {
    let negate = false;
    if (this.#peek() === "^") {
      negate = true;
      this.#i++;
    }
    const ranges: number[] = [];
    while (true) {
      if (this.#i >= this.#src.length) this.#fail("a '[' without its ']'");
      if (this.#peek() === "]") {
        this.#i++;
        return { ranges: normalize(ranges), negate };
      }
      const lo = this.#classAtom();
      if (
        this.#peek() === "-" && this.#src[this.#i + 1] !== "]" && this.#i + 1 < this.#src.length
      ) {
        this.#i++;
        const hi = this.#classAtom();
        if (typeof lo !== "number" || typeof hi !== "number") {
          this.#fail("a range in [...] cannot start or end with \\d, \\w or \\s");
        }
        if (hi < lo) this.#fail("a range out of order in [...]");
        ranges.push(lo, hi);
      } else if (typeof lo === "number") ranges.push(lo, lo);
      else ranges.push(...lo);
    }
  }

  /** One member of a class: a code unit, or the ranges of \d \w \s and their negations. */
  #classAtom(): number | number[] {
    const c = this.#src[this.#i++];
    if (c !== "\\") return c.charCodeAt(0);
    const e = this.#src[this.#i++];
    if (e === undefined) this.#fail("a '\\' at the end of the pattern");
    if (e === "b") return 0x08; // backspace inside a class, as in JavaScript
    if (e === "-") return 0x2d;
    const cls = classEscape(e);
    if (cls) return positive(cls.ranges, cls.negate);
    return this.#charEscape(e);
  }

  /** After `\` outside a class. */
  #escape(): Node {
    const e = this.#src[this.#i++];
    if (e === undefined) this.#fail("a '\\' at the end of the pattern");
    if (e === "b") return { t: "assert", kind: "word" };
    if (e === "B") return { t: "assert", kind: "nonword" };
    const cls = classEscape(e);
    if (cls) return { t: "char", set: cls };
    return lit(this.#charEscape(e));
  }

  /** The code unit an escape stands for, or a PatternError for what is refused. */
  #charEscape(e: string): number {
    if (/[1-9]/.test(e) || (e === "k" && this.#peek() === "<")) {
      this.#i--;
      this.#fail("backreferences are not supported (patterns run in linear time)");
    }
    if (e === "p" || e === "P") this.#fail("unicode property escapes (\\p{...}) are not supported");
    const simple: Record<string, number> = {
      t: 0x09,
      n: 0x0a,
      v: 0x0b,
      f: 0x0c,
      r: 0x0d,
      "0": 0x00,
    };
    if (e in simple) {
      if (e === "0" && /[0-9]/.test(this.#peek())) this.#fail("octal escapes are not supported");
      return simple[e];
    }
    if (e === "x" || e === "u") {
      const n = e === "x" ? 2 : 4;
      const hex = this.#src.slice(this.#i, this.#i + n);
      if (!new RegExp(`^[0-9A-Fa-f]{${n}}$`).test(hex)) {
        this.#fail(`\\${e} needs ${n} hexadecimal digits`);
      }
      this.#i += n;
      return parseInt(hex, 16);
    }
    if (/[A-Za-z0-9_]/.test(e)) this.#fail(`an unknown escape '\\${e}'`);
    return e.charCodeAt(0); // an escaped punctuation character stands for itself
  }
}

function classEscape(e: string): CharSet | undefined {
  switch (e) {
    case "d":
      return { ranges: DIGIT, negate: false };
    case "D":
      return { ranges: DIGIT, negate: true };
    case "w":
      return { ranges: WORD, negate: false };
    case "W":
      return { ranges: WORD, negate: true };
    case "s":
      return { ranges: SPACE, negate: false };
    case "S":
      return { ranges: SPACE, negate: true };
  }
  return undefined;
}

// ------------------------------------------------------------------ program

const OP_CHAR = 0;
const OP_SPLIT = 1;
const OP_JMP = 2;
const OP_MATCH = 3;
const OP_ASSERT = 4;

const ASSERTIONS: Record<Assertion, number> = { bol: 0, eol: 1, word: 2, nonword: 3 };

interface Program {
  op: number[];
  /** OP_SPLIT/OP_JMP: targets; OP_ASSERT: the kind. */
  x: number[];
  y: number[];
  /** OP_CHAR: positive ranges (negation applied). */
  sets: (number[] | undefined)[];
}

class Compiler {
  readonly p: Program = { op: [], x: [], y: [], sets: [] };

  #emit(op: number, x = 0, y = 0, set?: number[]): number {
    const pc = this.p.op.length;
    if (pc >= MAX_PROGRAM) {
      throw new PatternError(
        `the pattern is too complex: it expands to more than ${MAX_PROGRAM} steps`,
      );
    }
    this.p.op.push(op);
    this.p.x.push(x);
    this.p.y.push(y);
    this.p.sets.push(set);
    return pc;
  }

  compile(n: Node): void {
    this.#node(n);
    this.#emit(OP_MATCH);
  }

  #node(n: Node): void {
    switch (n.t) {
      case "char":
        this.#emit(OP_CHAR, 0, 0, positive(n.set.ranges, n.set.negate));
        return;
      case "assert":
        this.#emit(OP_ASSERT, ASSERTIONS[n.kind]);
        return;
      case "seq":
        for (const item of n.items) this.#node(item);
        return;
      case "alt": {
        // split L1, next; L1: a; jmp end; next: split L2, ... ; last: z; end:
        const jumps: number[] = [];
        for (let i = 0; i < n.alts.length - 1; i++) {
          const split = this.#emit(OP_SPLIT);
          this.p.x[split] = split + 1;
          this.#node(n.alts[i]);
          jumps.push(this.#emit(OP_JMP));
          this.p.y[split] = this.p.op.length;
        }
        this.#node(n.alts[n.alts.length - 1]);
        for (const j of jumps) this.p.x[j] = this.p.op.length;
        return;
      }
      case "rep":
        return this.#rep(n.node, n.min, n.max);
    }
  }

  #rep(node: Node, min: number, max: number): void {
    for (let i = 0; i < min; i++) this.#node(node);
    if (max === -1) {
      // L: split body, end; body; jmp L; end:
      const split = this.#emit(OP_SPLIT);
      this.p.x[split] = split + 1;
      this.#node(node);
      this.#emit(OP_JMP, split);
      this.p.y[split] = this.p.op.length;
      return;
    }
    // Each optional copy may be skipped to the end.
    const splits: number[] = [];
    for (let i = min; i < max; i++) {
      const split = this.#emit(OP_SPLIT);
      this.p.x[split] = split + 1;
      splits.push(split);
      this.#node(node);
    }
    for (const s of splits) this.p.y[s] = this.p.op.length;
  }
}

// ------------------------------------------------------------------ matching

function isWord(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || c === 0x5f ||
    (c >= 0x61 && c <= 0x7a);
}

function inSet(ranges: number[], c: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (c < ranges[i]) return false;
    if (c <= ranges[i + 1]) return true;
  }
  return false;
}

/** The Pike VM over a compiled program. */
class NfaPattern implements Pattern {
  readonly source: string;
  readonly #p: Program;
  readonly #anchored: boolean;
  // Work arrays, allocated once: a test never runs inside another.
  readonly #lists: [Int32Array, Int32Array];
  readonly #mark: Int32Array;
  readonly #stack: Int32Array;

  constructor(source: string, p: Program, anchored: boolean) {
    this.source = source;
    this.#p = p;
    this.#anchored = anchored;
    const size = p.op.length;
    this.#lists = [new Int32Array(size), new Int32Array(size)];
    this.#mark = new Int32Array(size);
    this.#stack = new Int32Array(size * 2 + 2);
  }

  test(text: string): boolean {
    const { op, x, y, sets } = this.#p;
    let [cur, next] = this.#lists;
    let nCur = 0, nNext = 0;
    const mark = this.#mark.fill(-1);
    const stack = this.#stack;
    const n = text.length;

    /** Adds pc and what it reaches without consuming input to `list`; true on a match. */
    const add = (list: Int32Array, count: number, pc0: number, pos: number): number => {
      let sp = 0;
      stack[sp++] = pc0;
      while (sp > 0) {
        const pc = stack[--sp];
        if (mark[pc] === pos) continue;
        mark[pc] = pos;
        switch (op[pc]) {
          case OP_CHAR:
            list[count++] = pc;
            break;
          case OP_JMP:
            stack[sp++] = x[pc];
            break;
          case OP_SPLIT:
            stack[sp++] = y[pc];
            stack[sp++] = x[pc];
            break;
          case OP_MATCH:
            return -1;
          case OP_ASSERT:
            if (holds(x[pc], text, pos, n)) stack[sp++] = pc + 1;
            break;
        }
      }
      return count;
    };

    nCur = add(cur, 0, 0, 0);
    if (nCur < 0) return true;
    for (let pos = 0; pos < n; pos++) {
      const c = text.charCodeAt(pos);
      nNext = 0;
      for (let i = 0; i < nCur; i++) {
        const pc = cur[i];
        if (inSet(sets[pc]!, c)) {
          nNext = add(next, nNext, pc + 1, pos + 1);
          if (nNext < 0) return true;
        }
      }
      if (!this.#anchored) {
        nNext = add(next, nNext, 0, pos + 1);
        if (nNext < 0) return true;
      } else if (nNext === 0) return false;
      const t = cur;
      cur = next;
      next = t;
      nCur = nNext;
    }
    return false;
  }
}

function holds(kind: number, text: string, pos: number, n: number): boolean {
  switch (kind) {
    case 0:
      return pos === 0;
    case 1:
      return pos === n;
    default: {
      const before = pos > 0 && isWord(text.charCodeAt(pos - 1));
      const after = pos < n && isWord(text.charCodeAt(pos));
      return (before !== after) === (kind === 2);
    }
  }
}

/** A pattern that is a literal, anchored or not: string search, no VM. */
class LiteralPattern implements Pattern {
  readonly source: string;
  readonly #text: string;
  readonly #bol: boolean;
  readonly #eol: boolean;
  constructor(source: string, text: string, bol: boolean, eol: boolean) {
    this.source = source;
    this.#text = text;
    this.#bol = bol;
    this.#eol = eol;
  }
  test(s: string): boolean {
    if (this.#bol && this.#eol) return s === this.#text;
    if (this.#bol) return s.startsWith(this.#text);
    if (this.#eol) return s.endsWith(this.#text);
    return s.includes(this.#text);
  }
}

/** The literal text of a node made only of single code units, or undefined. */
function literalOf(nodes: Node[]): string | undefined {
  let s = "";
  for (const n of nodes) {
    if (n.t !== "char" || n.set.negate || n.set.ranges.length !== 2) return undefined;
    if (n.set.ranges[0] !== n.set.ranges[1]) return undefined;
    s += String.fromCharCode(n.set.ranges[0]);
  }
  return s;
}

function literalPattern(source: string, ast: Node): Pattern | undefined {
  const items = ast.t === "seq" ? [...ast.items] : [ast];
  const bol = items[0]?.t === "assert" && items[0].kind === "bol";
  if (bol) items.shift();
  const last = items[items.length - 1];
  const eol = last?.t === "assert" && last.kind === "eol";
  if (eol) items.pop();
  const text = literalOf(items);
  return text === undefined ? undefined : new LiteralPattern(source, text, bol, eol);
}

/**
 * Compiles a pattern; throws PatternError (the reason and the position)
 * for what is not accepted.
 */
export function compilePattern(source: string): Pattern {
  const ast = new Parser(source).parse();
  const literal = literalPattern(source, ast);
  if (literal) return literal;
  const c = new Compiler();
  c.compile(ast);
  const first = ast.t === "seq" ? ast.items[0] : ast;
  const anchored = first?.t === "assert" && first.kind === "bol";
  return new NfaPattern(source, c.p, anchored);
}

// ------------------------------------------------------------------ name lists

/** Characters of a command name in a command list; `*` stands for any run of them. */
const NAME_PATTERN = /^[A-Za-z0-9_.:*-]+$/;
/** Longest entry of a command list (its compiled program stays far below MAX_PROGRAM). */
const MAX_NAME_PATTERN = 256;

/**
 * Why an entry of a command list (a policy's `allow`/`deny`, an upstream's
 * `mutating`) is refused: a command name in which `*` stands for any run of
 * characters (`get_*`, `*reload*`); undefined when it is fine.
 */
export function namePatternProblem(entry: string): string | undefined {
  if (entry.length > MAX_NAME_PATTERN) {
    return `a command name or pattern has at most ${MAX_NAME_PATTERN} characters, not ${entry.length}`;
  }
  if (!NAME_PATTERN.test(entry)) {
    return `'${entry}' is not a command name or a name pattern with '*' (letters, digits, '_', '.', ':', '-')`;
  }
  return undefined;
}

/** `s` as a pattern that matches it literally (also valid for RegExp). */
export function escapeLiteral(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/**
 * One matcher for a list of command names and name patterns: exact names by
 * a set lookup, patterns compiled to anchored patterns of this matcher
 * (`*` as `.*`), so a list costs time linear in the name whatever it holds.
 * Throws PatternError for an entry namePatternProblem refuses.
 */
export function nameListMatcher(entries: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const patterns: Pattern[] = [];
  for (const e of entries) {
    const problem = namePatternProblem(e);
    if (problem !== undefined) throw new PatternError(problem);
    if (e.includes("*")) {
      patterns.push(compilePattern(`^${e.split("*").map(escapeLiteral).join(".*")}$`));
    } else exact.add(e);
  }
  if (patterns.length === 0) return (name) => exact.has(name);
  return (name) => exact.has(name) || patterns.some((p) => p.test(name));
}
