// The datagram transport (OpenSIPS mi_datagram): one JSON-RPC request per
// UDP or unix SOCK_DGRAM datagram, the reply sent back to the sender.
//
// - The listener owns its socket (sys/libc.ts): it waits for readiness in a
//   pool thread, then receives and answers synchronously until the queue is
//   empty, so a burst costs one wake-up, not two async operations per
//   datagram. After a burst it keeps checking for `mi.busy_poll_us` before
//   sleeping again, and it yields to the event loop after 2 ms of
//   continuous work so the other listeners are served.
// - recvfrom with MSG_TRUNC reports a datagram's real length, so one over
//   the limit is answered with the core's oversize error, never parsed cut
//   short.
// - A reply that does not fit in one datagram is replaced by the JSON error
//   of MI-PROTOCOL.md §4, with the request's id.
// - Sends never wait: a client that vanished (its socket file gone,
//   ECONNREFUSED) or stopped reading (EAGAIN) costs a failed send, counted
//   and logged.

import type { Config, DatagramAddress, PolicyConfig } from "../config/schema.ts";
import { errorReply, INTERNAL_ERROR } from "../mi/jsonrpc.ts";
import type { Endpoint } from "../mi/core.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { Counter } from "../mi/stats.ts";
import type { Task } from "../mi/tasks.ts";
import {
  closeFd,
  datagramBind,
  datagramReceive,
  datagramSend,
  drainWake,
  pollReadable,
  pollSet,
  SOCKADDR_MAX,
  sockaddrText,
  SysError,
  unixDatagramSend,
  unixDatagramSocket,
  wake,
  wakePipe,
} from "../sys/libc.ts";
import { applyOwner, resolveOwner } from "./file_owner.ts";
import { type Listener, ListenerError, toPolicy, WarnThrottle, within } from "./listener.ts";
import { errText } from "../sys/log.ts";

export type DatagramConfig = Config["datagram"];

/** The largest UDP payload over IPv4; requests and replies are limited to it on every datagram socket. */
export const DATAGRAM_MAX = 65507;
/** Requests are at most DATAGRAM_MAX bytes; MSG_TRUNC tells the length of longer ones. */
const RECV_BUFFER = DATAGRAM_MAX + 1;
/** Continuous work before the loop yields to the event loop (FIFO and HTTP wait meanwhile). */
const MAX_BURST_MS = 2;

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
  #fd: number | undefined;
  #wake: { read: number; write: number } | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #busy = 0; // async replies not yet sent
  #idle: (() => void)[] = [];
  #socketId: { dev: number; ino: number } | undefined;
  #warn: WarnThrottle | undefined;
  readonly #sendErrors: Counter;
  readonly #tooLarge: Counter;
  readonly #buf = new Uint8Array(RECV_BUFFER);
  readonly #from = new Uint8Array(SOCKADDR_MAX);
  readonly #fromLen = new Uint32Array(1);
  readonly #busyPollUs: number;

  constructor(
    mi: MiInstance,
    cfg: DatagramConfig,
    addr: DatagramAddress,
    policy?: PolicyConfig,
    busyPollUs = 0,
  ) {
    this.#busyPollUs = busyPollUs;
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
      this.#fd = this.#addr.kind === "udp"
        ? this.#bindUdp(this.#addr)
        : this.#bindUnix(this.#addr.path);
      this.#wake = wakePipe();
    } catch (e) {
      if (this.#fd !== undefined) closeFd(this.#fd);
      this.#fd = undefined;
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
    this.#loop = this.#receive(this.#fd, this.#wake.read, this.#ep);
    this.#task.log.info(`listening on ${this.name}`);
    return Promise.resolve();
  }

  async stop(timeoutMs: number): Promise<void> {
    if (!this.#task || this.#fd === undefined || !this.#wake) return;
    const deadline = Date.now() + timeoutMs;
    // New datagrams are no longer served; replies to requests already
    // received still go out through the socket, so it closes last.
    this.#stopping = true;
    wake(this.#wake.write);
    if (this.#addr.kind === "unix") this.#removeSocket(this.#addr.path);
    await within(this.#loop!, 1000);
    await within(this.#whenIdle(), deadline - Date.now());
    closeFd(this.#fd);
    closeFd(this.#wake.read);
    closeFd(this.#wake.write);
    this.#mi.tasks.remove(this.#task);
    this.#task.log.info(`stopped listening on ${this.name}`);
    this.#task = undefined;
    this.#fd = undefined;
    this.#wake = undefined;
    this.#ep = undefined;
  }

  #bindUdp(a: { host: string; port: number }): number {
    try {
      return datagramBind({ kind: "udp", host: a.host, port: a.port });
    } catch (e) {
      throw new ListenerError(this.name, `cannot bind: ${errText(e)}`);
    }
  }

  #bindUnix(path: string): number {
    this.#clearStaleSocket(path);
    let owner;
    try {
      owner = resolveOwner(this.#cfg.mode, this.#cfg.user, this.#cfg.group);
    } catch (e) {
      throw new ListenerError(this.name, errText(e));
    }
    let fd: number;
    try {
      fd = datagramBind({ kind: "unix", path });
    } catch (e) {
      throw new ListenerError(this.name, `cannot bind: ${errText(e)}`);
    }
    try {
      applyOwner(path, owner);
      const st = Deno.lstatSync(path);
      this.#socketId = { dev: st.dev, ino: st.ino ?? 0 };
    } catch (e) {
      closeFd(fd);
      this.#removeSocket(path);
      throw new ListenerError(this.name, `cannot set mode/owner of ${path}: ${errText(e)}`);
    }
    return fd;
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

  async #receive(fd: number, wakeFd: number, ep: Endpoint): Promise<void> {
    const set = pollSet([fd, wakeFd]);
    const spinMs = this.#busyPollUs / 1000;
    while (!this.#stopping) {
      let ready: number;
      try {
        ready = await pollReadable(set, -1);
      } catch (e) {
        this.#warn?.warn("poll", `waiting for datagrams failed: ${errText(e)}`);
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.#stopping) break;
      if (ready < 0) continue; // EINTR
      drainWake(wakeFd);
      try {
        this.#burst(fd, ep, spinMs);
      } catch (e) {
        // ICMP errors of earlier sends can surface on receive; never let them end the loop.
        this.#warn?.warn("receive", `receive failed: ${errText(e)}`);
      }
    }
  }

  /** Serves queued datagrams until the queue stays empty for spinMs, or MAX_BURST_MS pass. */
  #burst(fd: number, ep: Endpoint, spinMs: number): void {
    const buf = this.#buf, from = this.#from, fromLen = this.#fromLen;
    const start = performance.now();
    let idleSince = -1;
    while (!this.#stopping) {
      const n = datagramReceive(fd, buf, from, fromLen);
      if (n < 0) {
        if (spinMs <= 0) return;
        const t = performance.now();
        if (idleSince < 0) idleSince = t;
        else if (t - idleSince >= spinMs || t - start >= MAX_BURST_MS) return;
        continue;
      }
      idleSince = -1;
      if (n > 0) this.#serve(fd, ep, n);
      if (performance.now() - start >= MAX_BURST_MS) return;
    }
  }

  #serve(fd: number, ep: Endpoint, n: number): void {
    // handleBytes decodes at once, so the buffer is free again when it returns.
    const r = n > ep.maxRequestBytes ? ep.oversize(n) : ep.handleBytes(this.#buf.subarray(0, n));
    if (r === null) return;
    const toLen = this.#fromLen[0];
    if (typeof r === "string") return this.#send(fd, ep, r, this.#from, toLen);
    // The reply comes later: keep a copy of the sender's address.
    const to = this.#from.slice(0, toLen);
    this.#busy++;
    r.then((v) => {
      if (v !== null && this.#fd === fd) this.#send(fd, ep, v, to, toLen);
    }).catch((e) => this.#task?.log.error(`datagram request failed: ${errText(e)}`))
      .finally(this.#done);
  }

  #send(fd: number, ep: Endpoint, reply: string, to: Uint8Array<ArrayBuffer>, toLen: number): void {
    if (this.#transport === "unix" && toLen <= 2) {
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
    try {
      datagramSend(fd, bytes, to, toLen);
    } catch (e) {
      this.#sendErrors.inc();
      const why = e instanceof SysError && e.code === "EAGAIN"
        ? "its receive queue is full"
        : e instanceof SysError && (e.code === "ENOENT" || e.code === "ECONNREFUSED")
        ? "it went away"
        : errText(e);
      this.#warn?.warn(
        "send",
        `reply to ${sockaddrText(to, toLen) || "(unbound)"} not sent: ${why}`,
      );
    }
  }

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
