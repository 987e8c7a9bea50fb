// A small typed schema for the JSONC config: each key declares its type,
// limits and default; the TypeScript type of the config is inferred from the
// schema, so the two cannot drift. Validation walks the jsonc-parser tree so
// every error carries the file offset of the offending key or value.

import type { Node } from "jsonc-parser";

export interface IntSpec {
  kind: "int";
  def: number;
  min: number;
  max: number;
}
export interface StrSpec {
  kind: "str";
  def: string;
  /** Returns a problem description, or undefined when the value is fine. */
  check?: (v: string) => string | undefined;
  hint?: string;
}
export interface BoolSpec {
  kind: "bool";
  def: boolean;
}
export interface ListSpec<I extends Spec = Spec> {
  kind: "list";
  def: Infer<I>[];
  item: I;
}
export interface ObjSpec<F extends Record<string, Spec> = Record<string, Spec>> {
  kind: "obj";
  fields: F;
}
/** A value validated by hand (e.g. "a string or an object"). */
export interface CustomSpec<T = unknown> {
  kind: "custom";
  def: T;
  hint: string;
  /** Returns the parsed value, or a problem description string wrapped in {error}. */
  parse: (v: unknown) => { value: T } | { error: string };
}

export type Spec = IntSpec | StrSpec | BoolSpec | ListSpec | ObjSpec | CustomSpec;

export type Infer<S> = S extends IntSpec ? number
  : S extends StrSpec ? string
  : S extends BoolSpec ? boolean
  : S extends ListSpec<infer I> ? Infer<I>[]
  : S extends ObjSpec<infer F> ? { [K in keyof F]: Infer<F[K]> }
  : S extends CustomSpec<infer T> ? T
  : never;

export const int = (def: number, min: number, max: number): IntSpec => ({
  kind: "int",
  def,
  min,
  max,
});
export const str = (def: string, check?: StrSpec["check"], hint?: string): StrSpec => ({
  kind: "str",
  def,
  check,
  hint,
});
export const bool = (def: boolean): BoolSpec => ({ kind: "bool", def });
export const list = <I extends Spec>(item: I, def: Infer<I>[]): ListSpec<I> => ({
  kind: "list",
  item,
  def,
});
export const obj = <F extends Record<string, Spec>>(fields: F): ObjSpec<F> => ({
  kind: "obj",
  fields,
});
export const custom = <T>(def: T, hint: string, parse: CustomSpec<T>["parse"]): CustomSpec<T> => ({
  kind: "custom",
  def,
  hint,
  parse,
});

/** The embedded default of a spec (deep copy, safe to mutate). */
export function defaults<S extends Spec>(spec: S): Infer<S> {
  switch (spec.kind) {
    case "obj": {
      const out: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(spec.fields)) out[k] = defaults(f);
      return out as Infer<S>;
    }
    default:
      return structuredClone(spec.def) as Infer<S>;
  }
}

export interface ConfigProblem {
  /** Dotted key path, e.g. `fifo.reply_timeout_ms` or `datagram.listen[1]`. */
  key: string;
  offset: number;
  message: string;
}

/**
 * Validates a parsed JSONC tree against the spec; returns the value with
 * defaults filled in for absent keys, and every problem found.
 */
export function validate<S extends Spec>(spec: S, node: Node | undefined, key = ""): {
  value: Infer<S>;
  problems: ConfigProblem[];
} {
  const problems: ConfigProblem[] = [];
  const value = walk(spec, node, key, problems) as Infer<S>;
  return { value, problems };
}

function describe(node: Node): string {
  switch (node.type) {
    case "object":
      return "an object";
    case "array":
      return "an array";
    case "null":
      return "null";
    default:
      return JSON.stringify(node.value);
  }
}

function walk(spec: Spec, node: Node | undefined, key: string, problems: ConfigProblem[]): unknown {
  if (node === undefined) return defaults(spec);
  const bad = (message: string) => {
    problems.push({ key, offset: node.offset, message });
    return defaults(spec);
  };
  switch (spec.kind) {
    case "int": {
      const v = node.value;
      if (node.type !== "number" || !Number.isInteger(v) || v < spec.min || v > spec.max) {
        return bad(`must be an integer from ${spec.min} to ${spec.max}, not ${describe(node)}`);
      }
      return v;
    }
    case "str": {
      if (node.type !== "string") {
        return bad(`must be a string${spec.hint ? ` (${spec.hint})` : ""}, not ${describe(node)}`);
      }
      const problem = spec.check?.(node.value);
      return problem ? bad(problem) : node.value;
    }
    case "bool":
      if (node.type !== "boolean") return bad(`must be true or false, not ${describe(node)}`);
      return node.value;
    case "list": {
      if (node.type !== "array") return bad(`must be an array, not ${describe(node)}`);
      return (node.children ?? []).map((c, i) => walk(spec.item, c, `${key}[${i}]`, problems));
    }
    case "obj": {
      if (node.type !== "object") return bad(`must be an object, not ${describe(node)}`);
      const out: Record<string, unknown> = {};
      const seen = new Map<string, Node>();
      for (const prop of node.children ?? []) {
        const [k, v] = prop.children ?? [];
        const name = String(k?.value);
        const path = key ? `${key}.${name}` : name;
        if (!Object.hasOwn(spec.fields, name)) {
          problems.push({ key: path, offset: k?.offset ?? prop.offset, message: "unknown key" });
          continue;
        }
        if (seen.has(name)) {
          problems.push({
            key: path,
            offset: k?.offset ?? prop.offset,
            message: "key given twice",
          });
          continue;
        }
        seen.set(name, v);
      }
      for (const [name, f] of Object.entries(spec.fields)) {
        out[name] = walk(f, seen.get(name), key ? `${key}.${name}` : name, problems);
      }
      return out;
    }
    case "custom": {
      const r = spec.parse(nodeValue(node));
      return "error" in r ? bad(`${r.error} (${spec.hint})`) : r.value;
    }
  }
}

/** Plain JSON value of a tree node. */
export function nodeValue(node: Node): unknown {
  switch (node.type) {
    case "object": {
      const o: Record<string, unknown> = {};
      for (const p of node.children ?? []) {
        const [k, v] = p.children ?? [];
        if (k && v) o[String(k.value)] = nodeValue(v);
      }
      return o;
    }
    case "array":
      return (node.children ?? []).map(nodeValue);
    default:
      return node.value;
  }
}
