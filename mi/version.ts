// Name and version as `version` reports them. REVISION is the git revision a
// build was made from; only a release build stamps it, so a source checkout
// says "unknown" rather than guess.

export const NAME = "sipmi";
export const VERSION = "0.1.0";
export const REVISION = "unknown";
