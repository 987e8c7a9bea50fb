import assert from "node:assert/strict";
import { globMatch, globMatcher } from "./glob.ts";

Deno.test("globMatch: * is any run of characters, the rest literal", () => {
  const yes: [string, string][] = [
    ["dlg_end_dlg", "dlg_end_dlg"],
    ["*reload*", "reload_routes"],
    ["*reload*", "dr_reload"],
    ["*reload*", "reload"],
    ["*_set*", "ds_set_state"],
    ["*.set*", "cfg.set_now_int"],
    ["t_uac_*", "t_uac_dlg"],
    ["*", ""],
    ["*", "anything"],
    ["a*b*c", "abc"],
    ["a*b*c", "a_b_b_c"],
    ["*ab*ab*", "xxabyyab"],
    ["*aab", "aaab"],
    ["a*a", "aa"],
  ];
  for (const [p, n] of yes) assert.ok(globMatch(p, n), `${p} should match ${n}`);
  const no: [string, string][] = [
    ["dlg_end_dlg", "dlg_end_dlgx"],
    ["*reload*", "relo_ad"],
    ["*_set*", "dsset"],
    ["a*a", "a"],
    ["a*b*c", "acb"],
    ["*ab*ab*", "xxaby"],
    ["*.set*", "cfg_set"],
    ["*Reload*", "addressreload"],
  ];
  for (const [p, n] of no) assert.ok(!globMatch(p, n), `${p} should not match ${n}`);
});

Deno.test("globMatcher: several patterns, exact names and none", () => {
  const m = globMatcher(["kill", "*reload*", "*_set*"]);
  assert.ok(m("kill"));
  assert.ok(m("dr_reload"));
  assert.ok(m("ds_set_state"));
  assert.ok(!m("killall"));
  assert.ok(!m("ds_list"));
  assert.ok(!globMatcher([])("anything"));
});

Deno.test("globMatch: the shapes that make backtracking matchers explode stay linear", () => {
  // A backtracking matcher tries every way to split the name among the
  // stars: about n^10 steps here, never finishing. Linear matching takes
  // microseconds; the bound below only catches a matcher that is not.
  const name = "a".repeat(20000);
  const t0 = performance.now();
  assert.ok(!globMatch("*a*a*a*a*a*a*a*a*a*a*b", name));
  assert.ok(!globMatch("a*a*a*a*a*a*a*a*a*ab", name));
  assert.ok(globMatch("*a*a*a*a*a*a*a*a*a*a", name));
  assert.ok(!globMatch(`*${"a".repeat(5000)}b*`, name));
  assert.ok(performance.now() - t0 < 10_000);
});
