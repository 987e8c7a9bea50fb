// Under the unit `sipmi service install` writes, the service's /tmp is its
// own (PrivateTmp=yes): a FIFO, reply directory or unix socket there is out
// of every client's reach. systemd sets RUNTIME_DIRECTORY for that unit, so
// the daemon can say so at start instead of serving nobody.

import type { Config } from "../config/schema.ts";
import { parseDatagramAddress } from "../config/schema.ts";

/** One warning per path under /tmp that clients must reach; none outside systemd. */
export function privateTmpWarnings(config: Config, runtimeDir: string | undefined): string[] {
  if (runtimeDir === undefined || runtimeDir === "") return [];
  const dir = runtimeDir.split(":")[0];
  const inTmp = (p: string) => p === "/tmp" || p.startsWith("/tmp/");
  const paths: [string, string][] = [];
  if (config.fifo.enabled) {
    paths.push(["fifo.path", config.fifo.path], ["fifo.reply_dir", config.fifo.reply_dir]);
  }
  if (config.datagram.enabled) {
    for (const e of config.datagram.listen) {
      const a = parseDatagramAddress(e.address);
      if (a?.kind === "unix") paths.push(["datagram.listen", a.path]);
    }
  }
  return paths.filter(([, p]) => inTmp(p)).map(([key, p]) =>
    `${key} ${p} is in /tmp, which is private to the service under systemd (PrivateTmp=yes): ` +
    `clients cannot reach it; put it under ${dir}`
  );
}
