// Name and version as `version` reports them. REVISION is stamped by the
// release build (`deno task compile` runs from a git checkout); a source
// checkout asks git when `version revision` is called.

export const NAME = "sipmi";
export const VERSION = "0.1.0";
export const REVISION = "";
