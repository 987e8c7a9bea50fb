// Kamailio (Debian's package) with its jsonrpcs module on FIFO, UDP and HTTP,
// for the relay tests: on a temp dir and free loopback ports, so it never
// meets the benchmark's Kamailio or another test's. Started with the
// benchmark's helper for forking C servers (bench/peers.ts).

import { startForking } from "../../bench/peers.ts";
import { freeTcpPort, freeUdpPort } from "./daemon.ts";

const MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules";

export interface Kamailio {
  fifo: string;
  /** Its fifo_reply_dir: the relay's private reply directory. */
  replyDir: string;
  udpPort: number;
  httpPort: number;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Why Kamailio cannot run here, or null. */
export async function kamailioMissing(): Promise<string | null> {
  const have = await new Deno.Command("sh", { args: ["-c", "command -v kamailio"], stdout: "null" })
    .output();
  if (!have.success) return "kamailio is not installed (.ci/run installs Debian's package)";
  try {
    await Deno.stat(`${MODULES}/jsonrpcs.so`);
  } catch {
    return `no ${MODULES}/jsonrpcs.so`;
  }
  return null;
}

export function kamailioConfig(k: Omit<Kamailio, "pid" | "stop" | "url">, sipPort: number) {
  return `#!KAMAILIO
# The relay tests' Kamailio: jsonrpcs over FIFO, UDP and HTTP (xhttp), loopback only.
debug=1
log_stderror=yes
fork=yes
children=1
tcp_children=1
auto_aliases=no
listen=udp:127.0.0.1:${sipPort}
listen=tcp:127.0.0.1:${k.httpPort}
tcp_accept_no_cl=yes
mpath="${MODULES}/"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "kex.so"
loadmodule "xhttp.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "transport", 7)
modparam("jsonrpcs", "fifo_name", "${k.fifo}")
modparam("jsonrpcs", "fifo_reply_dir", "${k.replyDir}")
modparam("jsonrpcs", "dgram_socket", "udp:127.0.0.1:${k.udpPort}")
modparam("jsonrpcs", "dgram_workers", 1)
request_route { exit; }
event_route[xhttp:request] {
    if ($hu =~ "^/RPC") { jsonrpc_dispatch(); } else { xhttp_reply("404", "Not Found", "text/plain", ""); }
}
`;
}

/**
 * Starts Kamailio in `dir` (its FIFO, reply dir, pid file and log there).
 * With `ports`, on those ports again (a restart).
 */
export async function startKamailio(
  dir: string,
  ports?: { udpPort: number; httpPort: number; sipPort: number },
): Promise<Kamailio & { sipPort: number }> {
  const replyDir = `${dir}/kamailio_replies/`;
  await Deno.mkdir(replyDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(replyDir, 0o700);
  const p = ports ?? { udpPort: freeUdpPort(), httpPort: freeTcpPort(), sipPort: freeUdpPort() };
  const k = {
    fifo: `${dir}/kamailio_rpc.fifo`,
    replyDir,
    udpPort: p.udpPort,
    httpPort: p.httpPort,
  };
  const cfg = `${dir}/kamailio.cfg`;
  await Deno.writeTextFile(cfg, kamailioConfig(k, p.sipPort));
  const d = await startForking({
    name: "kamailio",
    bin: "kamailio",
    args: ["-f", cfg, "-w", dir, "-Y", dir],
    dir,
    probe: {
      port: p.httpPort,
      path: "/RPC",
      request: { jsonrpc: "2.0", method: "core.uptime", id: 1 },
    },
    versionArgs: ["-v"],
  });
  return {
    ...k,
    sipPort: p.sipPort,
    url: `http://127.0.0.1:${p.httpPort}/RPC`,
    pid: d.pid,
    stop: d.stop,
  };
}
