// `sipmi service ...`: systemd integration (unit file, sd_notify) comes later.

import { notYet } from "./later.ts";

export const usage = `Usage: sipmi service SUBCOMMAND

systemd integration: render the unit file, install it. (Not yet available
in this version.)`;

export const run = notYet("service", usage);
