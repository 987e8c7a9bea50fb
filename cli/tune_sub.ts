// What a `sipmi tune` subcommand is: its options, how it builds the MI
// request, how it prints the result, and its exit status. Shared by the
// read subcommands (tune.ts) and the write subcommands (tune_write.ts).

import type { MiParams } from "../mi/jsonrpc.ts";

export type OptionSpec = { type: "string" | "boolean"; short?: string };

export type Values = Record<string, string | boolean | undefined>;

export interface Request {
  method: string;
  params?: MiParams;
}

export interface Sub {
  /** Extra options of this subcommand. */
  options: Record<string, OptionSpec>;
  /** Most positional arguments after the subcommand words. */
  maxArgs: number;
  request(values: Values, args: string[]): Request;
  render(result: unknown): string;
  /** Exit status of a result (verify: 1 on drift); default 0. */
  exit?(result: unknown): number;
  /** Exit status of an error reply; default 1 (verify: 2). */
  errorExit?: number;
  /**
   * A change that asks first: the dry-run request to show before it, or
   * null when the request is a dry run already. Skipped with --yes.
   */
  preview?(values: Values, args: string[]): Request | null;
}

/** Named params without the undefined ones; undefined when none is left. */
export function named(pairs: Record<string, unknown>): MiParams | undefined {
  const p = Object.fromEntries(Object.entries(pairs).filter(([, v]) => v !== undefined));
  return Object.keys(p).length === 0 ? undefined : p;
}

export function str(v: Values[string]): string | undefined {
  return typeof v === "string" ? v : undefined;
}
