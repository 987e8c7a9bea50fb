// `sipmi tune ...`: host tuning subcommands (filled in by the tuning module).

import { notYet } from "./later.ts";

export const usage = `Usage: sipmi tune SUBCOMMAND [OPTIONS]

Inspect and tune IRQ affinity, NIC queues, irqbalance and process CPU
affinity. (Not yet available in this version.)`;

export const run = notYet("tune", usage);
