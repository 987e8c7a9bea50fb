// Why a tuning command did not run or did not succeed: busy (the apply
// lock), an impossible plan, a failed apply (rolled back), a state that
// forbids it (a change waits for confirmation, no such snapshot), a bad
// profile. module.ts maps it to an MI error with the title as message.

import type { ApplyResult } from "./transaction.ts";

/** Why a tuning command did not run or did not succeed; module.ts maps it to an MI error. */
export class TuningError extends Error {
  readonly kind: "busy" | "plan" | "failed" | "state" | "profile";
  /** The short form for an MI error message: `Busy`, `Bad profile`. */
  readonly title: string;
  readonly detail: string;
  /** The result of a failed apply (rows and what was restored). */
  readonly result?: ApplyResult;
  constructor(kind: TuningError["kind"], message: string, detail = "", result?: ApplyResult) {
    super(detail ? `${message}: ${detail}` : message);
    this.name = "TuningError";
    this.kind = kind;
    this.title = message;
    this.detail = detail;
    this.result = result;
  }
}
