// Matching request params to a command's recipes and reading them with typed
// getters, as OpenSIPS does (docs/protocol.md, "Parameters and recipes").

import { invalidParams, MiError, type MiParams, SERVER_ERROR } from "./jsonrpc.ts";

/** Ordered parameter names; `[]` is the recipe without parameters. */
export type Recipe = readonly string[];

const NO_VALUES: readonly unknown[] = [];

/** The params of one call, bound to the recipe that matched them. */
export class Params {
  readonly recipe: Recipe;
  readonly #positional: readonly unknown[] | undefined;
  readonly #named: Record<string, unknown> | undefined;

  constructor(recipe: Recipe, positional?: readonly unknown[], named?: Record<string, unknown>) {
    this.recipe = recipe;
    this.#positional = positional;
    this.#named = named;
  }

  /** Whether the matched recipe has this parameter. */
  has(name: string): boolean {
    return this.recipe.includes(name);
  }

  /** The raw JSON value of a parameter of the matched recipe. */
  raw(name: string): unknown {
    if (this.#named) {
      if (Object.hasOwn(this.#named, name)) return this.#named[name];
    } else {
      const i = this.recipe.indexOf(name);
      if (i >= 0 && this.#positional && i < this.#positional.length) return this.#positional[i];
    }
    // A handler asked for a name its recipe does not have: a programming error.
    throw new MiError(SERVER_ERROR, "Server error", "Failed to handle parameter");
  }

  /** A JSON string. */
  str(name: string): string {
    const v = this.raw(name);
    if (typeof v !== "string") throw badType(name);
    return v;
  }

  /** A JSON number (truncated toward zero) or a decimal string with optional sign. */
  int(name: string): number {
    const v = this.raw(name);
    const n = toInt(v);
    if (n === undefined) throw badType(name);
    return n;
  }

  /** A non-empty JSON array. */
  array(name: string): unknown[] {
    const v = this.raw(name);
    if (!Array.isArray(v)) throw badType(name);
    if (v.length === 0) throw invalidParams(`Empty array in parameter '${name}'`);
    return v;
  }

  /** A non-empty JSON array of strings. */
  strArray(name: string): string[] {
    const a = this.array(name);
    for (const item of a) {
      if (typeof item !== "string") {
        throw invalidParams(`Bad type for array item in parameter '${name}'`);
      }
    }
    return a as string[];
  }
}

export const NO_PARAMS = new Params([], NO_VALUES);

function badType(name: string): MiError {
  return invalidParams(`Bad type for parameter '${name}'`);
}

const INT_TEXT = /^[+-]?[0-9]+$/;

/** The OpenSIPS int getter's conversion; undefined when the value is not an int. */
export function toInt(v: unknown): number | undefined {
  let n: number;
  if (typeof v === "number") n = Math.trunc(v);
  else if (typeof v === "string" && INT_TEXT.test(v)) n = Number(v);
  else return undefined;
  // Beyond 2^53 an int is no longer exact; refusing beats silently changing it.
  return Number.isSafeInteger(n) ? (n === 0 ? 0 : n) : undefined;
}

/**
 * Picks the recipe for the given params, as OpenSIPS's get_cmd_recipe does:
 * none → the first zero-parameter recipe; an array → the one recipe with that
 * many names; an object → the first recipe whose name set equals its keys.
 */
export function matchRecipe(
  recipes: readonly Recipe[],
  params: MiParams | undefined,
  namedOnly = false,
): Params {
  if (params === undefined) {
    for (const r of recipes) if (r.length === 0) return NO_PARAMS;
    throw invalidParams("Too few or too many parameters");
  }
  if (Array.isArray(params)) {
    if (namedOnly) throw invalidParams("Command only supports named parameters");
    let found: Recipe | undefined;
    for (const r of recipes) {
      if (r.length !== params.length) continue;
      if (found) throw invalidParams("Ambiguous call, use named parameters instead");
      found = r;
    }
    if (!found) throw invalidParams("Too few or too many parameters");
    return new Params(found, params);
  }
  const keys = Object.keys(params);
  let sameCount = false;
  for (const r of recipes) {
    if (r.length === 0 || r.length !== keys.length) continue;
    sameCount = true;
    if (r.every((name) => Object.hasOwn(params, name))) return new Params(r, undefined, params);
  }
  throw invalidParams(
    sameCount ? "Named parameters do not match" : "Too few or too many parameters",
  );
}
