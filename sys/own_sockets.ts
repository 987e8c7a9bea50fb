// This process's own TCP connections on a local port, as the kernel sees
// them: the HTTP listener's connection guard reads them to apply limits and
// timeouts Deno.serve does not have (transports/http_guard.ts). The
// descriptors are found in /proc/self/fd (read here, in sys/, like every
// /proc read) and classified with getsockname; nothing is opened or closed.

import {
  socketLocalPort,
  socketPeer,
  TCP_CLOSE_WAIT,
  TCP_ESTABLISHED,
  type TcpInfo,
  tcpInfo,
} from "./libc.ts";

export interface TcpConnection extends TcpInfo {
  fd: number;
  /** `127.0.0.1:40312`, `[::1]:40312`. */
  peer: string;
}

/**
 * The open descriptors of this process, or undefined when they cannot be
 * listed: reading /proc/self/fd needs a descriptor itself, so it fails with
 * EMFILE exactly when the process is out of them.
 */
export function openFds(): number[] | undefined {
  try {
    const out: number[] = [];
    for (const e of Deno.readDirSync("/proc/self/fd")) out.push(Number(e.name));
    return out;
  } catch {
    return undefined;
  }
}

/**
 * The established (or half-closed by the peer) TCP connections of this
 * process whose local port is `port`; undefined when the descriptors cannot
 * be listed now. Listening sockets are not connections and are left out.
 */
export function tcpConnectionsOn(port: number): TcpConnection[] | undefined {
  const fds = openFds();
  if (fds === undefined) return undefined;
  const out: TcpConnection[] = [];
  for (const fd of fds) {
    if (socketLocalPort(fd) !== port) continue;
    const info = tcpInfo(fd);
    if (info === undefined) continue;
    if (info.state !== TCP_ESTABLISHED && info.state !== TCP_CLOSE_WAIT) continue;
    const peer = socketPeer(fd);
    if (peer === "") continue;
    out.push({ fd, peer, ...info });
  }
  return out;
}
