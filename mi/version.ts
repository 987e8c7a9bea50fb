// Name and version as `version` reports them. REVISION is the git revision a
// release build was made from: `deno task compile` (build/compile.ts) writes
// it to dist/REVISION and embeds that file in the binary. A source checkout
// says "unknown" rather than guess; nothing here runs git.

export const NAME = "sipmi";
export const VERSION = "0.1.0";

/** Where the release build puts the stamp, relative to this file. */
export const REVISION_FILE = new URL("../dist/REVISION", import.meta.url);

/** The stamp embedded in a release build; "unknown" when absent or empty. */
export function readRevision(file: URL = REVISION_FILE): string {
  try {
    const text = Deno.readTextFileSync(file).trim();
    return /^[0-9A-Za-z._+-]{1,64}$/.test(text) ? text : "unknown";
  } catch {
    return "unknown";
  }
}

// Only a compiled binary reads the stamp: in a source checkout, a dist/REVISION
// left by an earlier build would name a revision the code is no longer at.
export const REVISION = Deno.build.standalone ? readRevision() : "unknown";
