// Connection limits and timeouts for the HTTP listener, from the kernel's
// side: Deno.serve 2.9 has no option for either (docs/architecture.md,
// "Deno facts relied on"), and nothing closes an idle or a dribbling
// connection by itself, so a few hundred of them exhaust the descriptors.
//
// Twice a second (ten times when near the limit) the guard lists the
// process's own connections on the listener's port with their TCP_INFO
// (sys/own_sockets.ts) and shuts down (never closes: Deno owns the
// descriptor and closes it at the end of the stream):
//
// - a connection idle longer than `http.idle_timeout_ms`: nothing received
//   or sent for that long, and no request of it in the handler;
// - a request whose headers do not complete within `http.header_timeout_ms`:
//   the client sent bytes that reached no handler and got no answer (one
//   header byte a second keeps the kernel's "last received" fresh, so the
//   guard times it from when it first saw the request pending);
// - a request whose body does not arrive within `http.body_timeout_ms`
//   (the handler is still reading it);
// - above `http.max_connections`, the connections that do the least: those
//   that never got an answer first, then the longest idle; never one whose
//   request is being answered.
//
// The handler registers each request it is answering (`enter`/`leave`, a
// set insertion and removal: the hot path pays nothing else). The guard
// matches them to connections by peer address, which it reads only for the
// requests in progress at scan time. A request whose connection is gone is
// marked `gone`, so a batch stops running for a client that left.
//
// Every descriptor decision is taken within one synchronous scan: Deno
// closes a connection's descriptor only on this thread, between tasks, so
// the descriptor shut down is the one just examined.

import { shutdownSocket, TCP_CLOSE_WAIT } from "../sys/libc.ts";
import { type TcpConnection, tcpConnectionsOn } from "../sys/own_sockets.ts";
import type { Counter, Gauge } from "../mi/stats.ts";

export interface GuardLimits {
  maxConnections: number;
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
}

/** A request in the handler, as the guard sees it. */
export interface InHandler {
  readonly info: Deno.ServeHandlerInfo | undefined;
  /** Still reading its body. */
  reading: boolean;
  /** Its connection is gone: whatever is left of its work is not worth doing. */
  gone: boolean;
  /** The peer address, read by the guard when it first needs it. */
  peer?: string;
  /** When the guard first saw it reading its body. */
  readingSince?: number;
}

export interface GuardCounters {
  idleClosed: Counter;
  headerTimeouts: Counter;
  bodyTimeouts: Counter;
  overLimit: Counter;
  /** Connections open at the last scan. */
  connections: Gauge;
}

/** Connections the guard tracks across scans. */
interface Tracked {
  /** When a scan first saw a request of it pending (not in the handler, not answered). */
  pendingSince: number;
  /** tcpi_bytes_sent at the last scan: a change means it is being answered. */
  bytesSent: number;
}

const SCAN_MS = 500;
const SCAN_BUSY_MS = 100;

export class ConnectionGuard {
  /** Requests in the handler. */
  readonly active = new Set<InHandler>();
  readonly #port: number;
  readonly #limits: GuardLimits;
  readonly #counters: GuardCounters;
  readonly #warn: (kind: string, msg: string) => void;
  #tracked = new Map<string, Tracked>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #count = 0;

  constructor(
    port: number,
    limits: GuardLimits,
    counters: GuardCounters,
    warn: (kind: string, msg: string) => void,
  ) {
    this.#port = port;
    this.#limits = limits;
    this.#counters = counters;
    this.#warn = warn;
  }

  /** Connections open at the last scan. */
  get connections(): number {
    return this.#count;
  }

  get limits(): GuardLimits {
    return this.#limits;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const tick = () => {
      this.scan(performance.now());
      const busy = this.#count * 4 > this.#limits.maxConnections * 3;
      this.#timer = setTimeout(tick, busy ? SCAN_BUSY_MS : SCAN_MS);
      Deno.unrefTimer(this.#timer);
    };
    this.#timer = setTimeout(tick, SCAN_MS);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One pass over the listener's connections; `now` in performance.now() ms. */
  scan(now: number): void {
    const conns = tcpConnectionsOn(this.#port);
    // Out of descriptors: the listing itself needs one. The listener's own
    // recovery (a new server after EMFILE) frees them; try again next time.
    if (conns === undefined) return;
    const byPeer = this.#requestsByPeer();
    const next = new Map<string, Tracked>();
    const candidates: { c: TcpConnection; rank: number }[] = [];
    let open = 0;
    for (const c of conns) {
      c.peer = canonicalPeer(c.peer);
      const key = `${c.fd} ${c.peer}`;
      const t = this.#tracked.get(key) ?? { pendingSince: -1, bytesSent: c.bytesSent };
      const reqs = byPeer.get(c.peer);
      byPeer.delete(c.peer);
      const verdict = this.#judge(c, t, reqs, now);
      t.bytesSent = c.bytesSent;
      if (verdict !== undefined) {
        if (shutdownSocket(c.fd)) this.#closed(verdict, c);
        if (reqs) { for (const r of reqs) r.gone = true; }
        continue;
      }
      if (c.state === TCP_CLOSE_WAIT && reqs) { for (const r of reqs) r.gone = true; }
      next.set(key, t);
      open++;
      // Not being answered: a candidate when over the limit, the least useful first.
      if (!reqs) {
        const idle = Math.min(c.lastReceivedMs, c.lastSentMs);
        candidates.push({ c, rank: (c.bytesSent === 0 ? 1e12 : 0) + idle });
      }
    }
    // Requests whose connection is no longer there.
    for (const reqs of byPeer.values()) for (const r of reqs) r.gone = true;
    this.#tracked = next;
    const excess = open - this.#limits.maxConnections;
    if (excess > 0) {
      candidates.sort((a, b) => b.rank - a.rank);
      let shut = 0;
      for (const { c } of candidates.slice(0, excess)) {
        if (!shutdownSocket(c.fd)) continue;
        this.#tracked.delete(`${c.fd} ${c.peer}`);
        this.#counters.overLimit.inc();
        shut++;
      }
      open -= shut;
      this.#warn(
        "limit",
        `more than ${this.#limits.maxConnections} HTTP connections (http.max_connections): closed ${shut}, idle ones first`,
      );
    }
    this.#count = open;
    this.#counters.connections.set(open);
  }

  /** Why a connection must go now, or undefined. */
  #judge(
    c: TcpConnection,
    t: Tracked,
    reqs: InHandler[] | undefined,
    now: number,
  ): "idle" | "header" | "body" | undefined {
    const l = this.#limits;
    if (reqs) {
      t.pendingSince = -1;
      for (const r of reqs) {
        if (!r.reading) continue;
        r.readingSince ??= now;
        if (now - r.readingSince > l.bodyTimeoutMs) return "body";
      }
      return undefined;
    }
    // The client spoke after our last answer (or was never answered) and no
    // handler has its request: its headers are still arriving.
    const awaiting = c.bytesReceived > 0 &&
      (c.bytesSent === 0 || c.lastReceivedMs < c.lastSentMs);
    const answered = c.bytesSent !== t.bytesSent;
    if (awaiting && !answered && c.state !== TCP_CLOSE_WAIT) {
      if (t.pendingSince < 0) t.pendingSince = now;
      else if (now - t.pendingSince > l.headerTimeoutMs) return "header";
      return undefined;
    }
    t.pendingSince = -1;
    if (Math.min(c.lastReceivedMs, c.lastSentMs) > l.idleTimeoutMs) return "idle";
    return undefined;
  }

  #closed(why: "idle" | "header" | "body", c: TcpConnection): void {
    const l = this.#limits;
    switch (why) {
      case "idle":
        this.#counters.idleClosed.inc();
        return; // the normal end of a keep-alive connection: not worth a warning
      case "header":
        this.#counters.headerTimeouts.inc();
        return this.#warn(
          "header",
          `closed ${c.peer}: request headers not complete within ${l.headerTimeoutMs} ms (http.header_timeout_ms)`,
        );
      case "body":
        this.#counters.bodyTimeouts.inc();
        return this.#warn(
          "body",
          `closed ${c.peer}: request body not complete within ${l.bodyTimeoutMs} ms (http.body_timeout_ms)`,
        );
    }
  }

  /** The requests in the handler by peer address; ones whose request already closed are gone. */
  #requestsByPeer(): Map<string, InHandler[]> {
    const out = new Map<string, InHandler[]>();
    for (const r of this.active) {
      if (r.peer === undefined) {
        if (r.info === undefined) continue;
        try {
          r.peer = canonicalPeer(peerText(r.info.remoteAddr as Deno.NetAddr));
        } catch {
          r.gone = true; // "Request closed": Deno dropped it
          continue;
        }
      }
      const list = out.get(r.peer);
      if (list) list.push(r);
      else out.set(r.peer, [r]);
    }
    return out;
  }
}

/** `127.0.0.1:40312`, `[::1]:40312`: the client's address, for RequestContext.peer. */
export function peerText(a: Deno.NetAddr): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/**
 * One spelling of an IPv6 peer (RFC 5952, as URL writes it), so the
 * kernel's address and Deno's compare equal; IPv4 has only one already.
 */
function canonicalPeer(peer: string): string {
  if (!peer.startsWith("[")) return peer;
  const colon = peer.lastIndexOf(":");
  try {
    return `${new URL(`http://${peer.slice(0, colon)}/`).hostname}${peer.slice(colon)}`;
  } catch {
    return peer;
  }
}
