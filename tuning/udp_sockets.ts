// /proc/net/udp and /proc/net/udp6: one line per socket. Addresses are hex
// in host byte order (`0100007F:13C4` = 127.0.0.1:5060 on little-endian),
// ports are big-endian hex. Kernels since 2.6.33 end each line with
// `drops`, the per-socket count of datagrams dropped because the receive
// buffer was full; older captures lack it (drops = null).
// Row fields are read by position: the header's `tx_queue rx_queue` and
// `tr tm->when` are two names for one `a:b` field each.

import { FormatError } from "./format_error.ts";

export interface UdpSocket {
  proto: "udp" | "udp6";
  local: string;
  port: number;
  remote: string;
  /** Bytes queued, from `tx_queue:rx_queue`. */
  tx_queue: number;
  rx_queue: number;
  uid: number;
  inode: number;
  /** null when the kernel does not print the column. */
  drops: number | null;
}

function ipv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join(".");
}

function ipv6(hex: string): string {
  const groups: string[] = [];
  // Four 32-bit words, each in host (little-endian) order.
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const bytes = [6, 4, 2, 0].map((o) => word.slice(o, o + 2));
    groups.push(bytes[0] + bytes[1], bytes[2] + bytes[3]);
  }
  const parts = groups.map((g) => parseInt(g, 16).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return parts.join(":");
  return parts.slice(0, best).join(":") + "::" + parts.slice(best + bestLen).join(":");
}

function endpoint(text: string, v6: boolean): { addr: string; port: number } | undefined {
  const m = v6
    ? /^([0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(text)
    : /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/.exec(text);
  if (!m) return undefined;
  const port = parseInt(m[2], 16);
  return { addr: v6 ? `[${ipv6(m[1])}]:${port}` : `${ipv4(m[1])}:${port}`, port };
}

export function parseUdpSockets(
  text: string,
  proto: "udp" | "udp6",
  path = `/proc/net/${proto}`,
): UdpSocket[] {
  const lines = text.split("\n");
  const header = (lines[0] ?? "").trim().split(/\s+/);
  if (header[0] !== "sl") {
    throw new FormatError(
      path,
      1,
      `expected the 'sl local_address ...' header, found '${header[0] ?? ""}'`,
    );
  }
  const hasDrops = header.includes("drops");
  const v6 = proto === "udp6";
  const out: UdpSocket[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const f = line.split(/\s+/);
    const need = hasDrops ? 13 : 10;
    const bad = (what: string) => new FormatError(path, i + 1, what);
    if (f.length < need || !/^[0-9]+:$/.test(f[0])) {
      throw bad(`expected ${need} fields starting with 'N:', found ${f.length} (truncated line?)`);
    }
    const local = endpoint(f[1], v6), remote = endpoint(f[2], v6);
    if (!local || !remote) throw bad(`bad address '${local ? f[2] : f[1]}'`);
    const q = /^([0-9A-Fa-f]+):([0-9A-Fa-f]+)$/.exec(f[4]);
    if (!q) throw bad(`bad tx_queue:rx_queue '${f[4]}'`);
    if (!/^[0-9]+$/.test(f[7]) || !/^[0-9]+$/.test(f[9])) throw bad(`bad uid or inode`);
    if (hasDrops && !/^[0-9]+$/.test(f[12])) throw bad(`drops '${f[12]}' is not a number`);
    out.push({
      proto,
      local: local.addr,
      port: local.port,
      remote: remote.addr,
      tx_queue: parseInt(q[1], 16),
      rx_queue: parseInt(q[2], 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
      drops: hasDrops ? Number(f[12]) : null,
    });
  }
  return out;
}
