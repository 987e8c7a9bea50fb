// A host file whose content is not what the kernel prints: the error names
// the host path and the 1-based line, `file:line: what is wrong`, so an
// operator can open the file and look.

import { errText } from "../sys/log.ts";

export class FormatError extends Error {
  /** The host path (`/proc/interrupts`), without any fixture root. */
  readonly path: string;
  /** 1-based line number; 0 when the problem is the file as a whole. */
  readonly line: number;
  readonly detail: string;
  constructor(path: string, line: number, detail: string) {
    super(line > 0 ? `${path}:${line}: ${detail}` : `${path}: ${detail}`);
    this.name = "FormatError";
    this.path = path;
    this.line = line;
    this.detail = detail;
  }
}

/** Runs a parse of one value, turning its error into a FormatError for the file and line. */
export function atLine<T>(path: string, line: number, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(path, line, errText(e));
  }
}
