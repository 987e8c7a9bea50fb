// The effective configuration as JSONC text, laid out as JSON.stringify's
// two-space form, with a comment on every key that nothing reads yet (a key
// the schema marks notYetUsed): the output of `sipmi config print` is a
// template an operator can copy, and it must not pretend such keys do
// something. It parses back with the config loader (comments are JSONC).

import type { Spec } from "./spec.ts";

/** `value` (validated against `spec`) as JSONC text. */
export function formatConfig(value: unknown, spec: Spec): string {
  return lines(value, spec, "").join("\n");
}

function lines(value: unknown, spec: Spec, indent: string): string[] {
  if (spec.kind !== "obj" || value === null || typeof value !== "object") {
    const text = JSON.stringify(value, null, 2);
    return text.split("\n").map((l, i) => (i === 0 ? l : indent + l));
  }
  const o = value as Record<string, unknown>;
  const keys = Object.keys(spec.fields).filter((k) => k in o);
  if (keys.length === 0) return ["{}"];
  const inner = indent + "  ";
  const out = ["{"];
  keys.forEach((k, i) => {
    const field = spec.fields[k];
    const member = lines(o[k], field, inner);
    member[0] = `${inner}${JSON.stringify(k)}: ${member[0]}`;
    let last = member[member.length - 1] + (i < keys.length - 1 ? "," : "");
    if (field.notYetUsed) last += ` // not yet used: ${field.notYetUsed} will read it`;
    member[member.length - 1] = last;
    out.push(...member);
  });
  out.push(indent + "}");
  return out;
}
