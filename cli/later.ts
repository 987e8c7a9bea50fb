// Subcommands that later issues fill in: they parse --help and say plainly
// that they are not available yet, with exit status 1.

import { eprint, EXIT_FAIL, EXIT_OK } from "./common.ts";

export function notYet(name: string, usage: string): (args: string[]) => Promise<number> {
  return (args) => {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(usage);
      return Promise.resolve(EXIT_OK);
    }
    eprint(`sipmi ${name}: not yet available in this version`);
    return Promise.resolve(EXIT_FAIL);
  };
}
