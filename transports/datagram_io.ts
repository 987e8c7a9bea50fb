// The I/O of a datagram listener, apart from everything else it does
// (framing, limits, statistics, replacing replies too large: datagram.ts).
// Two implementations (docs/architecture.md, "Two I/O paths"):
// datagram_ffi.ts owns the socket through libc and serves it in bursts;
// datagram_deno.ts uses Deno.listenDatagram, with no raw pointers at all.

import type { WarnThrottle } from "./listener.ts";

/** Where a datagram listener listens, as the config says. */
export type DatagramBindAddress =
  | { kind: "udp"; host: string; port: number }
  | { kind: "unix"; path: string };

/** The sender of a datagram, in the form the I/O path keeps it; opaque to the listener. */
export type PeerAddress = unknown;

/** A bound socket being served. */
export interface DatagramSocket {
  /**
   * Receives until `stop()`: for each datagram, its first bytes are in
   * `buf` and `got(n, from)` is called with its length. A datagram longer
   * than `buf.length - 1` is reported with a length over the limit (its real
   * one when the path can tell), never cut short silently. `from` is valid
   * only during the call (see `keep`).
   */
  serve(buf: Uint8Array<ArrayBuffer>, got: (n: number) => void, warn: WarnThrottle): Promise<void>;
  /** The sender of the datagram just received. */
  from(): PeerAddress;
  /** A copy of a sender's address that outlives the next receive. */
  keep(a: PeerAddress): PeerAddress;
  /** `127.0.0.1:5060`, `[::1]:5060`, a unix path; "" for an unbound unix client. */
  text(a: PeerAddress): string;
  /**
   * Sends one datagram without letting a slow or vanished client hold the
   * listener up; a failure throws (or rejects) an error whose errno name
   * `errorCode` tells (EMSGSIZE, EAGAIN, ENOENT, ECONNREFUSED, ...).
   */
  send(bytes: Uint8Array<ArrayBuffer>, to: PeerAddress): void | Promise<void>;
  /** The errno name of a failed send or receive, "" when it has none. */
  errorCode(e: unknown): string;
  /** About the largest unix datagram this socket can send. */
  sendBuffer(): number;
  /** Ends `serve` soon; the socket still sends (replies of requests already received). */
  stop(): void;
  /** Releases the socket. */
  close(): void;
}

export interface DatagramIo {
  /** Binds a socket; throws with the cause when it cannot. */
  bind(addr: DatagramBindAddress, busyPollUs: number): DatagramSocket;
  /**
   * Whether a process still receives on the unix socket at `path`: an empty
   * datagram is refused by a dead socket (ECONNREFUSED: "gone") and queued or
   * refused for a full queue by a live one ("live"). Throws when it cannot tell.
   */
  probeUnix(path: string): Promise<"gone" | "live">;
}
