// sipmi: OpenSIPS-compatible Management Interface daemon and SIP host tuning tool.
import { main } from "./cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
