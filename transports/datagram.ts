// The datagram transport (OpenSIPS mi_datagram): one JSON-RPC request per
// UDP or unix SOCK_DGRAM datagram, the reply sent back to the sender.
//
// - The receive buffer is larger than any request we accept, so a datagram
//   over the limit is seen whole (or at least seen to be over) and answered
//   with the core's oversize error instead of being parsed cut short.
// - A reply that does not fit in one datagram is replaced by the JSON error
//   of MI-PROTOCOL.md §4, with the request's id.
// - Replies are sent without awaiting them: the loop goes back to receive
//   at once, and a client that vanished (its socket file gone, ECONNREFUSED)
//   or stopped reading only costs a failed send, counted and logged.
// - Unix replies leave through a separate unbound socket (sys/libc.ts), as
//   in OpenSIPS, with a send that never waits: Deno's DatagramConn refuses
//   a second unix send while one is in progress and waits on a full queue.
// - Synchronous commands are answered without any promise of our own; only
//   the receive and the UDP send are asynchronous (Deno's API).

import type { Config, DatagramAddress, PolicyConfig } from "../config/schema.ts";
import { errorReply, INTERNAL_ERROR } from "../mi/jsonrpc.ts";
import type { Endpoint } from "../mi/core.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { Counter } from "../mi/stats.ts";
import type { Task } from "../mi/tasks.ts";
import {
  closeFd,
  SysError,
  unixDatagramSend,
  unixDatagramSocket,
  unixSocketAddress,
} from "../sys/libc.ts";
import { applyOwner, resolveOwner } from "./file_owner.ts";
import {
  errText,
  type Listener,
  ListenerError,
  toPolicy,
  WarnThrottle,
  within,
} from "./listener.ts";

export type DatagramConfig = Config["datagram"];

/** The largest UDP payload over IPv4; requests and replies are limited to it on every datagram socket. */
export const DATAGRAM_MAX = 65507;
/** Big enough to see a unix datagram over the limit whole (the kernel allows ~200 KiB). */
const RECV_BUFFER = 256 * 1024;
/** Replies handed to the kernel but not yet sent; beyond this, replies are dropped. */
const MAX_PENDING_SENDS = 1024;
/** sockaddr_un of recent unix clients (a client sends many requests from one path). */
const ADDRESS_CACHE = 256;

const encoder = new TextEncoder();

/** `udp:127.0.0.1:8898`, `udp:[::1]:8898`, `unix:/tmp/sipmi.sock`. */
export function datagramName(a: DatagramAddress): string {
  if (a.kind === "unix") return `unix:${a.path}`;
  return `udp:${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

/**
 * The id text at the end of a reply the core produced (`,"id":ID}` is always
 * last), to answer an oversize reply with the same id; "null" for batches.
 */
export function replyIdText(reply: string): string {
  if (reply.charCodeAt(0) !== 0x7b) return "null";
  const i = reply.lastIndexOf(',"id":');
  return i < 0 ? "null" : reply.slice(i + 6, -1);
}

export class DatagramListener implements Listener {
  readonly name: string;
  readonly type: string;
  readonly optional: boolean;
  readonly #mi: MiInstance;
  readonly #cfg: DatagramConfig;
  readonly #addr: DatagramAddress;
  readonly #policy: PolicyConfig;
  readonly #transport: "udp" | "unix";
  #task: Task | undefined;
  #ep: Endpoint | undefined;
  #conn: Deno.DatagramConn | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #sends = 0; // replies handed to send() and not yet sent
  #busy = 0; // async replies and sends not yet finished
  #idle: (() => void)[] = [];
  #socketId: { dev: number; ino: number } | undefined;
  #tx: number | undefined; // unix: the unbound socket replies go out of
  readonly #addresses = new Map<string, Uint8Array<ArrayBuffer>>();
  #warn: WarnThrottle | undefined;
  readonly #sendErrors: Counter;
  readonly #tooLarge: Counter;

  constructor(mi: MiInstance, cfg: DatagramConfig, addr: DatagramAddress, policy?: PolicyConfig) {
    this.#mi = mi;
    this.#cfg = cfg;
    this.#addr = addr;
    this.#policy = policy ?? cfg.commands;
    this.name = datagramName(addr);
    this.type = `MI Datagram ${this.name}`;
    this.optional = cfg.optional;
    this.#transport = addr.kind;
    this.#sendErrors = mi.stats.counter("mi", `${addr.kind}_send_errors`);
    this.#tooLarge = mi.stats.counter("mi", `${addr.kind}_replies_too_large`);
  }

  start(): Promise<void> {
    if (this.#task) return Promise.resolve();
    try {
      this.#conn = this.#addr.kind === "udp"
        ? this.#bindUdp(this.#addr)
        : this.#bindUnix(this.#addr.path);
    } catch (e) {
      return Promise.reject(
        e instanceof ListenerError ? e : new ListenerError(this.name, errText(e)),
      );
    }
    this.#stopping = false;
    this.#task = this.#mi.tasks.add(this.type);
    this.#warn = new WarnThrottle(this.#task.log);
    this.#ep = this.#mi.core.endpoint({
      transport: this.#transport,
      listener: this.name,
      policy: toPolicy(this.#policy),
      log: this.#task.log,
      limits: { maxRequestBytes: Math.min(this.#mi.core.limits.maxRequestBytes, DATAGRAM_MAX) },
      limitName: this.#mi.core.limits.maxRequestBytes < DATAGRAM_MAX
        ? "mi.max_request_bytes"
        : "the datagram limit",
    });
    this.#loop = this.#receive(this.#conn, this.#ep);
    this.#task.log.info(`listening on ${this.name}`);
    return Promise.resolve();
  }

  async stop(timeoutMs: number): Promise<void> {
    if (!this.#task || !this.#conn) return;
    const deadline = Date.now() + timeoutMs;
    // New datagrams are no longer served; replies to requests already
    // received still go out through the socket, so it closes last.
    this.#stopping = true;
    if (this.#addr.kind === "unix") this.#removeSocket(this.#addr.path);
    await within(this.#whenIdle(), deadline - Date.now());
    this.#conn.close();
    if (this.#tx !== undefined) closeFd(this.#tx);
    this.#tx = undefined;
    this.#addresses.clear();
    await within(this.#loop!, 100);
    this.#mi.tasks.remove(this.#task);
    this.#task.log.info(`stopped listening on ${this.name}`);
    this.#task = undefined;
    this.#conn = undefined;
    this.#ep = undefined;
  }

  #bindUdp(a: { host: string; port: number }): Deno.DatagramConn {
    try {
      return Deno.listenDatagram({ transport: "udp", hostname: a.host, port: a.port });
    } catch (e) {
      throw new ListenerError(this.name, `cannot bind: ${errText(e)}`);
    }
  }

  #bindUnix(path: string): Deno.DatagramConn {
    this.#clearStaleSocket(path);
    let owner;
    try {
      owner = resolveOwner(this.#cfg.mode, this.#cfg.user, this.#cfg.group);
    } catch (e) {
      throw new ListenerError(this.name, errText(e));
    }
    let conn: Deno.DatagramConn;
    try {
      conn = Deno.listenDatagram({ transport: "unixpacket", path });
    } catch (e) {
      throw new ListenerError(this.name, `cannot bind: ${errText(e)}`);
    }
    try {
      applyOwner(path, owner);
      const st = Deno.lstatSync(path);
      this.#socketId = { dev: st.dev, ino: st.ino ?? 0 };
      this.#tx = unixDatagramSocket();
    } catch (e) {
      conn.close();
      this.#removeSocket(path);
      throw new ListenerError(this.name, `cannot set mode/owner of ${path}: ${errText(e)}`);
    }
    return conn;
  }

  /**
   * A socket file left by a daemon that died is removed; one that a process
   * still serves, or a file that is not a socket, is an error.
   */
  #clearStaleSocket(path: string): void {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(path);
    } catch {
      return;
    }
    if (!st.isSocket) {
      throw new ListenerError(this.name, `${path} exists and is not a socket; not replacing it`);
    }
    const fd = unixDatagramSocket();
    try {
      // An empty datagram: ignored by sipmi and OpenSIPS, refused by a dead
      // socket. Non-blocking: a live receiver with a full queue says EAGAIN.
      unixDatagramSend(fd, path, new Uint8Array(0));
    } catch (e) {
      if (e instanceof SysError && e.code === "ECONNREFUSED") {
        Deno.removeSync(path);
        return;
      }
      if (!(e instanceof SysError && e.code === "EAGAIN")) {
        throw new ListenerError(this.name, `cannot check ${path}: ${errText(e)}`);
      }
    } finally {
      closeFd(fd);
    }
    throw new ListenerError(this.name, `${path} is in use: another process receives on it`);
  }

  #removeSocket(path: string): void {
    try {
      const st = Deno.lstatSync(path);
      const id = this.#socketId;
      if (!id || (st.dev === id.dev && st.ino === id.ino)) Deno.removeSync(path);
    } catch {
      // Already gone.
    }
  }

  async #receive(conn: Deno.DatagramConn, ep: Endpoint): Promise<void> {
    const buf = new Uint8Array(RECV_BUFFER);
    let failures = 0;
    while (true) {
      let data: Uint8Array, from: Deno.Addr;
      try {
        [data, from] = await conn.receive(buf);
        failures = 0;
      } catch (e) {
        if (this.#stopping || e instanceof Deno.errors.BadResource) return;
        // ICMP errors of earlier sends can surface here; never let them end the loop.
        this.#warn?.warn("receive", `receive failed: ${errText(e)}`);
        if (++failures > 100) await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.#stopping || data.length === 0) continue;
      // handleBytes decodes at once, so the buffer can be reused.
      const r = data.length > ep.maxRequestBytes ? ep.oversize(data.length) : ep.handleBytes(data);
      if (r === null) continue;
      if (typeof r === "string") this.#send(conn, ep, r, from);
      else {
        this.#busy++;
        r.then((v) => {
          if (v !== null) this.#send(conn, ep, v, from);
        }).catch((e) => this.#task?.log.error(`datagram request failed: ${errText(e)}`))
          .finally(this.#done);
      }
    }
  }

  #send(conn: Deno.DatagramConn, ep: Endpoint, reply: string, to: Deno.Addr): void {
    if (to.transport === "unixpacket" && !to.path) {
      // An unbound unix client has no address to answer to.
      this.#sendErrors.inc();
      this.#warn?.warn("unbound", "cannot reply to a unix client that did not bind its socket");
      return;
    }
    let bytes = encoder.encode(reply);
    if (bytes.length > DATAGRAM_MAX) {
      this.#tooLarge.inc();
      ep.errors.inc();
      const data = `reply of ${bytes.length} bytes exceeds the datagram limit of ${DATAGRAM_MAX}` +
        " bytes; use the FIFO or HTTP transport";
      bytes = encoder.encode(
        errorReply(INTERNAL_ERROR, "Internal error", data, replyIdText(reply)),
      );
    }
    if (to.transport === "unixpacket") return this.#sendUnix(to.path, bytes);
    if (this.#sends >= MAX_PENDING_SENDS) {
      this.#sendErrors.inc();
      this.#warn?.warn("backlog", `reply dropped: ${MAX_PENDING_SENDS} replies wait to be sent`);
      return;
    }
    this.#sends++;
    this.#busy++;
    conn.send(bytes, to).then(this.#sent, (e) => {
      this.#sendErrors.inc();
      this.#warn?.warn("send", `reply to ${peer(to)} not sent: ${errText(e)}`);
      this.#sent();
    });
  }

  /**
   * Unix replies go out of a separate unbound socket, as in OpenSIPS:
   * Deno's DatagramConn fails a send while another is in progress, and
   * waits when the client's queue is full; this send never waits.
   */
  #sendUnix(path: string, bytes: Uint8Array<ArrayBuffer>): void {
    if (this.#tx === undefined) return;
    let addr = this.#addresses.get(path);
    if (addr === undefined) {
      if (this.#addresses.size >= ADDRESS_CACHE) this.#addresses.clear();
      this.#addresses.set(path, addr = unixSocketAddress(path));
    }
    try {
      unixDatagramSend(this.#tx, addr, bytes);
    } catch (e) {
      this.#sendErrors.inc();
      const why = e instanceof SysError && e.code === "EAGAIN"
        ? "its receive queue is full"
        : e instanceof SysError && (e.code === "ENOENT" || e.code === "ECONNREFUSED")
        ? "it went away"
        : errText(e);
      this.#warn?.warn("send", `reply to ${path} not sent: ${why}`);
    }
  }

  readonly #sent = (): void => {
    this.#sends--;
    this.#done();
  };

  readonly #done = (): void => {
    if (--this.#busy === 0 && this.#idle.length > 0) {
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
  };

  #whenIdle(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}

function peer(a: Deno.Addr): string {
  if (a.transport === "udp" || a.transport === "tcp") return `${a.hostname}:${a.port}`;
  return "path" in a ? a.path || "(unbound)" : a.transport;
}
