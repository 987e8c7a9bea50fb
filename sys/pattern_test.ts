import assert from "node:assert/strict";
import {
  compilePattern,
  MAX_PROGRAM,
  nameListMatcher,
  namePatternProblem,
  PatternError,
} from "./pattern.ts";

/** Same answer as JavaScript's RegExp on the accepted subset. */
function agrees(source: string, text: string): void {
  const want = new RegExp(source).test(text);
  assert.equal(
    compilePattern(source).test(text),
    want,
    `/${source}/ on ${JSON.stringify(text)}: RegExp says ${want}`,
  );
}

Deno.test("pattern: the accepted subset means what a RegExp means", () => {
  const cases: [string, string[]][] = [
    ["virtio2", ["virtio2-input.0", "xvirtio2", "virtio1", ""]],
    ["^opensips$", ["opensips", "opensips2", "xopensips"]],
    ["^eth0-", ["eth0-TxRx-0", "veth0-x"]],
    ["-rx$", ["eth0-rx", "eth0-rx0"]],
    ["^virtio3-(rx|tx)$", ["virtio3-rx", "virtio3-tx", "virtio3-rxx", "virtio3-"]],
    ["a.c", ["abc", "a\nc", "ac", "a\u2028c"]],
    ["[a-c]+x", ["bbbx", "dx", "x"]],
    ["[^0-9]", ["123", "12a"]],
    ["\\d{2,3}$", ["a12", "a1", "1234"]],
    ["\\bfoo\\b", ["a foo b", "afoo", "foo"]],
    ["\\Bfoo", ["afoo", "foo"]],
    ["\\w+\\s\\W", ["ab !", "ab a"]],
    ["(?:ab)*c", ["ababc", "c", "abab"]],
    ["(?<q>x)y", ["xy", "x"]],
    ["a{0}b", ["b", "ab"]],
    ["a{2,}", ["a", "aa"]],
    ["a+?b", ["aab"]],
    ["^$", ["", "a"]],
    ["[\\d.]+", ["1.2", "x"]],
    ["\\x41\\u0042", ["AB", "ab"]],
    ["[\\-a]", ["-", "b"]],
    ["[a-]", ["-"]],
    ["\\.", [".", "a"]],
    ["a]b}", ["a]b}"]],
    ["[]", ["", "a"]],
    ["[^]", ["", "\n"]],
    ["(a|)+b", ["b", "aab"]],
    ["(a*)*$", ["aaa", ""]],
    ["\\s", ["\u00a0", "\ufeff", "x"]],
  ];
  for (const [source, texts] of cases) for (const t of texts) agrees(source, t);
});

Deno.test("pattern: random patterns agree with RegExp", () => {
  // A small grammar over a small alphabet, so that matches are frequent.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: T[]) => xs[rnd(xs.length)];
  const atom = (depth: number): string => {
    switch (rnd(depth > 2 ? 4 : 7)) {
      case 0:
        return pick(["a", "b", "-", "0"]);
      case 1:
        return pick([".", "\\d", "\\w", "\\W", "[ab]", "[^a]", "[0-9-]"]);
      case 2:
        return pick(["^", "$", "\\b", "\\B"]);
      case 3:
        return pick(["a", "b"]);
      case 4:
        return `(${alt(depth + 1)})`;
      case 5:
        return `(?:${alt(depth + 1)})`;
      default:
        return `(${alt(depth + 1)})`;
    }
  };
  const quant = () => pick(["", "", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "*?"]);
  const seq = (depth: number) => {
    let s = "";
    for (let i = rnd(4) + 1; i > 0; i--) {
      const a = atom(depth);
      s += /^(\^|\$|\\b|\\B)$/.test(a) ? a : a + quant();
    }
    return s;
  };
  const alt = (depth: number): string => rnd(4) === 0 ? `${seq(depth)}|${seq(depth)}` : seq(depth);
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const source = alt(0);
    for (let j = 0; j < 6; j++) {
      let text = "";
      for (let k = rnd(8); k > 0; k--) text += pick(["a", "b", "-", "0", " ", "x"]);
      agrees(source, text);
      checked++;
    }
  }
  assert.equal(checked, 18000);
});

Deno.test("pattern: what needs backtracking or is ambiguous is refused, saying why", () => {
  const refused: [string, RegExp][] = [
    ["(a)\\1", /backreferences are not supported/],
    ["(?<n>a)\\k<n>", /backreferences are not supported/],
    ["a(?=b)", /lookahead and lookbehind are not supported/],
    ["a(?!b)", /lookahead and lookbehind are not supported/],
    ["(?<=a)b", /lookahead and lookbehind are not supported/],
    ["(?<!a)b", /lookahead and lookbehind are not supported/],
    ["\\p{L}", /unicode property escapes/],
    ["(", /'\(' without its '\)'/],
    ["a)", /unmatched '\)'/],
    ["[a", /'\[' without its '\]'/],
    ["*a", /nothing to repeat/],
    ["a**", /nothing to repeat/],
    ["^*", /anchor cannot be repeated/],
    ["a{", /write it as '\\\{'/],
    ["a{3,1}", /out of order/],
    ["a{1001}", /above 1000/],
    ["[z-a]", /out of order/],
    ["[\\d-z]", /cannot start or end with/],
    ["\\q", /unknown escape '\\q'/],
    ["\\", /at the end of the pattern/],
    ["\\01", /octal escapes/],
    ["(?x)", /unknown group/],
    ["(a{1000}){1000}", new RegExp(`more than ${MAX_PROGRAM} steps`)],
  ];
  for (const [source, why] of refused) {
    assert.throws(() => compilePattern(source), (e) => {
      assert.ok(e instanceof PatternError, `${source}: ${e}`);
      assert.match(e.message, why, source);
      assert.match(e.message, / at position \d+$|steps$/, source);
      return true;
    });
  }
});

Deno.test("pattern: the classic catastrophic shapes run in linear time", () => {
  // Each of these takes a backtracking engine exponential or quadratic time
  // on this input; here each is one pass. The bound is far from tight: the
  // point is that it ends at all (a backtracking run would not, for years).
  const long = "a".repeat(20000) + "!";
  const shapes = [
    "^(a+)+$",
    "(a|a)*b",
    "(a*)*b",
    "(a|aa)+$",
    "^(\\w+\\s?)*$",
    "(x+x+)+y",
    "(.*a){20}$",
  ];
  const t0 = performance.now();
  for (const s of shapes) assert.equal(compilePattern(s).test(long), new RegExp(s).test("a!"), s);
  assert.ok(performance.now() - t0 < 20000, "catastrophic shapes took over 20 s");
});

Deno.test("pattern: command lists are names and name patterns, '*' any run of characters", () => {
  const m = nameListMatcher(["uptime", "get_*", "tune_show", "*reload*", "*_set*", "core.*"]);
  const yes = ["uptime", "get_statistics", "tune_show", "reload", "ds_reload", "lb_reload_x"];
  for (const n of [...yes, "dlg_set_profile", "core.uptime", "sl_set"]) assert.equal(m(n), true, n);
  for (const n of ["get", "reset_statistics", "tune_shows", "reloa", "setx", "corex.uptime"]) {
    assert.equal(m(n), false, n);
  }
  assert.equal(nameListMatcher(["*"])("anything"), true);
  assert.equal(nameListMatcher(["a.b*"])("a.bc"), true);
  assert.equal(nameListMatcher(["a.b*"])("axbc"), false, "'.' is literal");
  assert.equal(nameListMatcher(["a*b*c"])("a-x-b-y-c"), true);
  assert.equal(nameListMatcher(["a*b*c"])("a-x-c-y-b"), false);
  assert.equal(nameListMatcher([])("anything"), false);
  assert.equal(namePatternProblem("get_*"), undefined);
  assert.equal(namePatternProblem("*reload*"), undefined);
  for (const bad of ["", "(a+)+", "a b", "get_[a]", "x".repeat(257)]) {
    assert.ok(namePatternProblem(bad) !== undefined, bad);
    assert.throws(() => nameListMatcher([bad]), PatternError);
  }
  assert.match(namePatternProblem("a b")!, /is not a command name or a name pattern with '\*'/);
});

Deno.test("pattern: name patterns in the shapes that explode backtracking stay linear", () => {
  // A backtracking matcher tries every way to split the name among the
  // stars: about n^10 steps here, never finishing. The Pike VM takes
  // milliseconds; the bound below only catches a matcher that is not linear.
  const name = "a".repeat(20000);
  const t0 = performance.now();
  assert.equal(nameListMatcher(["*a*a*a*a*a*a*a*a*a*a*b"])(name), false);
  assert.equal(nameListMatcher(["a*a*a*a*a*a*a*a*a*ab"])(name), false);
  assert.equal(nameListMatcher(["*a*a*a*a*a*a*a*a*a*a"])(name), true);
  assert.equal(nameListMatcher([`*${"a".repeat(250)}b*`])(name), false);
  assert.ok(performance.now() - t0 < 10_000, "name patterns took over 10 s");
});

Deno.test("pattern: a name pattern's '*' is any run of characters, the rest literal", () => {
  const yes: [string, string][] = [
    ["dlg_end_dlg", "dlg_end_dlg"],
    ["*reload*", "reload_routes"],
    ["*reload*", "reload"],
    ["*_set*", "ds_set_state"],
    ["*.set*", "cfg.set_now_int"],
    ["*", ""],
    ["a*b*c", "a_b_b_c"],
    ["*ab*ab*", "xxabyyab"],
    ["*aab", "aaab"],
    ["a*a", "aa"],
  ];
  for (const [p, n] of yes) assert.ok(nameListMatcher([p])(n), `${p} should match ${n}`);
  const no: [string, string][] = [
    ["dlg_end_dlg", "dlg_end_dlgx"],
    ["*reload*", "relo_ad"],
    ["*_set*", "dsset"],
    ["a*a", "a"],
    ["*ab*ab*", "xxaby"],
    ["*.set*", "cfg_set"],
    ["*Reload*", "addressreload"],
  ];
  for (const [p, n] of no) assert.ok(!nameListMatcher([p])(n), `${p} should not match ${n}`);
});
