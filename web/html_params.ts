// What a command form sends, as MI params: the raw `arg` box is JSON text
// as in OpenSIPS mi_html (`?arg=[3]`, `?arg={"level":3}`, empty: none); a
// recipe form sends one field per named parameter, each read as
// `sipmi mi` reads a word (numbers stay numbers, `[...]`, `{...}` and
// `"..."` are JSON, anything else a string).

import { wordValue } from "../mi/words.ts";
import { Params, type Recipe } from "../mi/params.ts";
import type { Command } from "../mi/registry.ts";
import type { Sent } from "./html_pages.tsx";

export type FormParams =
  /** The form asked for nothing yet: show the page. */
  | { run: false; sent: Sent }
  | { run: true; params: unknown; sent: Sent }
  /** The `arg` text is not JSON. */
  | { run: false; bad: string; sent: Sent };

/** Reads the fields of a command form (query string or posted form). */
export function formParams(cmd: Command, fields: URLSearchParams): FormParams {
  const arg = fields.get("arg");
  if (arg !== null) {
    const sent = { arg };
    const text = arg.trim();
    if (text === "") return { run: true, params: undefined, sent };
    try {
      return { run: true, params: JSON.parse(text), sent };
    } catch (e) {
      return { run: false, bad: `arg is not JSON: ${(e as Error).message}`, sent };
    }
  }
  const which = fields.get("recipe");
  const index = which === null || which === "" ? NaN : Number(which);
  const recipe = Number.isInteger(index) ? cmd.recipes[index] : undefined;
  if (recipe === undefined) return { run: false, sent: {} };
  const values: Record<string, string> = {};
  const named: Record<string, unknown> = {};
  for (const name of recipe) {
    const v = fields.get(`p.${name}`) ?? "";
    values[name] = v;
    named[name] = wordValue(v);
  }
  const sent = { recipe: index, fields: values };
  return { run: true, params: recipe.length === 0 ? undefined : named, sent };
}

/**
 * Whether running this recipe may change state, so its form posts. The
 * command's own `mutating` decides, as the core does; a decision that needs
 * the values counts as "may change". The core enforces it either way: a GET
 * runs through a read-only endpoint.
 */
export function recipeMutates(cmd: Command, recipe: Recipe): boolean {
  const m = cmd.mutating;
  if (typeof m !== "function") return m === true;
  try {
    return m(new Params(recipe, recipe.map(() => null)));
  } catch {
    return true;
  }
}
