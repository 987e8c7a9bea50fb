// The CLI entry: picks the subcommand and runs it; nothing else.

import { eprint, EXIT_OK, EXIT_USAGE, guarded } from "./common.ts";
import { NAME, REVISION, VERSION } from "../mi/version.ts";
import { serverString } from "../mi/core_cmds.ts";

interface Subcommand {
  summary: string;
  load: () => Promise<{ run: (args: string[]) => Promise<number>; usage: string }>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  serve: {
    summary: "run the MI daemon (FIFO, datagram, HTTP listeners)",
    load: () => import("./serve.ts"),
  },
  mi: {
    summary: "run one MI command, in-process or against a daemon",
    load: () => import("./mi.ts"),
  },
  run: { summary: "run a JSONC file of MI calls in-process", load: () => import("./run.ts") },
  tune: {
    summary: "inspect and tune IRQs, NIC queues, irqbalance, CPU affinity",
    load: () => import("./tune.ts"),
  },
  service: { summary: "systemd integration", load: () => import("./service.ts") },
  config: { summary: "print or check the configuration", load: () => import("./config.ts") },
  version: {
    summary: "print the version",
    load: () => Promise.resolve({ run: version, usage: "Usage: sipmi version" }),
  },
  help: {
    summary: "show help for sipmi or a subcommand",
    load: () => Promise.resolve({ run: help, usage: HELP }),
  },
};

const HELP = `${NAME} ${VERSION} - OpenSIPS-compatible MI daemon and SIP host tuning tool

Usage: sipmi SUBCOMMAND [OPTIONS] [ARGS...]

Subcommands:
${Object.entries(SUBCOMMANDS).map(([n, s]) => `  ${n.padEnd(9)} ${s.summary}`).join("\n")}

'sipmi SUBCOMMAND --help' describes each one.`;

function version(args: string[]): Promise<number> {
  if (args.length > 0 && args[0] !== "--help" && args[0] !== "-h") {
    eprint(`sipmi version: unexpected argument '${args[0]}'`);
    return Promise.resolve(EXIT_USAGE);
  }
  console.log(serverString());
  console.log(`revision: ${REVISION}`);
  console.log(
    `deno: ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`,
  );
  return Promise.resolve(EXIT_OK);
}

async function help(args: string[]): Promise<number> {
  const name = args[0];
  if (name === undefined || name === "--help" || name === "-h") {
    console.log(HELP);
    return EXIT_OK;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    eprint(`sipmi help: unknown subcommand '${name}'`);
    return EXIT_USAGE;
  }
  console.log((await sub.load()).usage);
  return EXIT_OK;
}

export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h") {
    console.log(HELP);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === "--version") return await version([]);
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    eprint(`sipmi: unknown subcommand '${name}' (see 'sipmi help')`);
    return EXIT_USAGE;
  }
  const mod = await sub.load();
  return await guarded(name, () => mod.run(rest));
}
