// `sipmi serve` with a way to wedge its event loop from outside: SIGUSR2
// makes the main thread spin for 1.5 s (what a runaway command would do),
// so a test can see the systemd watchdog pings stop. Test use only.

import { main } from "../../cli/main.ts";

export const WEDGE_MS = 1500;

Deno.addSignalListener("SIGUSR2", () => {
  console.error("wedge: spinning");
  const until = Date.now() + WEDGE_MS;
  while (Date.now() < until) {
    // Busy: no timer, no I/O, no signal runs meanwhile.
  }
  console.error("wedge: released");
});

Deno.exit(await main(Deno.args));
