// How the daemon runs: the Deno flags of `deno task start`, of the release
// build (`deno task compile` bakes them into dist/sipmi) and of the CI
// smoke run, so all three behave the same. A test checks deno.json agrees.

/**
 * -A: Deno wants --allow-all for any read of /proc and /sys. --unstable-net:
 * the datagram client of `sipmi mi`. A 1 MB young generation keeps the
 * daemon's memory small next to the SIP router (README, Performance).
 */
export const RUNTIME_FLAGS: readonly string[] = [
  "-A",
  "--unstable-net",
  "--v8-flags=--max-semi-space-size=1",
];

/** The entry point, relative to the repository root. */
export const ENTRY = "main.ts";

/**
 * The command line that runs `sipmi ARGS...`: the executable itself in a
 * release build; in a source checkout, deno with the flags and main.ts.
 */
export function selfCommand(): string[] {
  if (Deno.build.standalone) return [Deno.execPath()];
  return [
    Deno.execPath(),
    "run",
    ...RUNTIME_FLAGS,
    new URL(`../${ENTRY}`, import.meta.url).pathname,
  ];
}
