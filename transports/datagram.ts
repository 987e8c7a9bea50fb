// The datagram transport (OpenSIPS mi_datagram): one JSON-RPC request per
// UDP or unix SOCK_DGRAM datagram, the reply sent back to the sender
// (docs/protocol.md, "Datagram"). This file is what both I/O paths share
// (datagram_io.ts: FFI bursts or Deno.listenDatagram, `datagram.io`):
//
// - A datagram over the limit is answered with the core's oversize error,
//   never parsed cut short. UDP requests and replies are limited to 65,507
//   bytes; unix datagrams only by `mi.max_request_bytes`, and a reply is
//   sent whole when it fits the socket's send buffer.
// - A reply too large to send is replaced by a JSON error with the request's
//   id that says which transport to use instead; when even that does not
//   fit (the id itself is huge), by the same error with `"id": null` and a
//   data text that says so. An error always fits its transport.
// - A unix client that removed its socket is gone: a batch of its stops.
// - Sends never hold the listener up: a client that vanished (its socket
//   file gone, ECONNREFUSED) or stopped reading (EAGAIN) costs a failed
//   send, counted and logged.

import type { Config, DatagramAddress, PolicyConfig } from "../config/schema.ts";
import { errorReply, INTERNAL_ERROR } from "../mi/jsonrpc.ts";
import { type ClientState, type Endpoint, type PeerText, reusingPeerText } from "../mi/core.ts";
import { InFlight } from "../mi/in_flight.ts";
import type { MiInstance } from "../mi/instance.ts";
import type { Counter } from "../mi/stats.ts";
import type { DatagramIo, DatagramSocket, PeerAddress } from "./datagram_io.ts";
import { datagramIo, type IoPath } from "./io_path.ts";
import { applyOwner, resolveOwner } from "./file_owner.ts";
import {
  type Deadline,
  type EndpointSpec,
  ListenerBase,
  ListenerError,
  type Serving,
  within,
} from "./listener.ts";
import { UDP_MAX_PAYLOAD } from "./os.ts";
import { errText } from "../sys/log.ts";

export type DatagramConfig = Config["datagram"];

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

/** The open socket of a running listener. */
interface Socket {
  io: DatagramSocket;
  loop: Promise<void>;
}

export class DatagramListener extends ListenerBase {
  readonly #cfg: DatagramConfig;
  readonly #addr: DatagramAddress;
  readonly #policy: PolicyConfig;
  readonly #transport: "udp" | "unix";
  readonly #busyPollUs: number;
  readonly #io: DatagramIo;
  #sock: Socket | undefined;
  #stopping = false;
  /** Replies of asynchronous commands not yet sent. */
  readonly #replies = new InFlight();
  #socketId: { dev: number; ino: number } | undefined;
  readonly #sendErrors: Counter;
  readonly #tooLarge: Counter;
  #buf = new Uint8Array(0);
  /** The sender of the datagram just received, as text. */
  readonly #fromText = () => {
    const sock = this.#sock!.io;
    return sock.text(sock.from());
  };
  /** The sender of the datagram just received; the core asks only when a handler wants it. */
  readonly #peer: PeerText = reusingPeerText(() => this.#fromText() || "(unbound)");
  /**
   * Whether the unix sender of the datagram just received is still there;
   * asked only by a batch, which pins it to the sender's socket path.
   */
  readonly #unixClient: ClientState = {
    gone: false,
    pin: () => unixClientState(this.#fromText()),
  };

  constructor(
    mi: MiInstance,
    cfg: DatagramConfig,
    addr: DatagramAddress,
    policy?: PolicyConfig,
    busyPollUs = 0,
    io: DatagramIo = datagramIo(cfg.io as IoPath),
  ) {
    const name = datagramName(addr);
    super(mi, name, `MI Datagram ${name}`, cfg.optional);
    this.#busyPollUs = busyPollUs;
    this.#io = io;
    this.#cfg = cfg;
    this.#addr = addr;
    this.#policy = policy ?? cfg.commands;
    this.#transport = addr.kind;
    this.#sendErrors = mi.stats.counter("mi", `${addr.kind}_send_errors`);
    this.#tooLarge = mi.stats.counter("mi", `${addr.kind}_replies_too_large`);
  }

  protected endpointSpec(): EndpointSpec {
    const spec = { transport: this.#transport, policy: this.#policy };
    // A unix datagram can be as large as the sender's socket buffer allows.
    if (this.#transport === "unix") return spec;
    const coreMax = this.mi.core.limits.maxRequestBytes;
    return {
      ...spec,
      maxRequestBytes: Math.min(coreMax, UDP_MAX_PAYLOAD),
      limitName: coreMax < UDP_MAX_PAYLOAD ? "mi.max_request_bytes" : "the datagram limit",
    };
  }

  protected async open(s: Serving): Promise<string> {
    const sock = this.#addr.kind === "udp"
      ? this.#bind(this.#addr)
      : await this.#bindUnix(this.#addr.path);
    // One more byte than the limit: a datagram longer than the limit is told apart.
    if (this.#buf.length !== s.ep.maxRequestBytes + 1) {
      this.#buf = new Uint8Array(s.ep.maxRequestBytes + 1);
    }
    const loop = sock.serve(this.#buf, (n) => this.#serve(sock, s, n), s.warn);
    this.#sock = { io: sock, loop };
    return this.name;
  }

  protected async close(d: Deadline, _s: Serving): Promise<void> {
    const sock = this.#sock;
    if (!sock) return;
    // New datagrams are no longer served; replies to requests already
    // received still go out through the socket, so it closes last.
    sock.io.stop();
    if (this.#addr.kind === "unix") this.#removeSocket(this.#addr.path);
    // The loop ends at the wake-up, whatever the deadline.
    await within(sock.loop, 1000);
    await this.#replies.idle(d.left);
    sock.io.close();
    this.#sock = undefined;
  }

  #bind(a: { kind: "udp"; host: string; port: number } | { kind: "unix"; path: string }) {
    try {
      return this.#io.bind(a, this.#busyPollUs);
    } catch (e) {
      throw new ListenerError(this.name, `cannot bind: ${errText(e)}`);
    }
  }

  async #bindUnix(path: string): Promise<DatagramSocket> {
    await this.#clearStaleSocket(path);
    let owner;
    try {
      owner = resolveOwner(this.#cfg.mode, this.#cfg.user, this.#cfg.group);
    } catch (e) {
      throw new ListenerError(this.name, errText(e));
    }
    const sock = this.#bind({ kind: "unix", path });
    try {
      applyOwner(path, owner);
      const st = Deno.lstatSync(path);
      this.#socketId = { dev: st.dev, ino: st.ino ?? 0 };
    } catch (e) {
      sock.close();
      this.#removeSocket(path);
      throw new ListenerError(this.name, `cannot set mode/owner of ${path}: ${errText(e)}`);
    }
    return sock;
  }

  /**
   * A socket file left by a daemon that died is removed; one that a process
   * still serves, or a file that is not a socket, is an error.
   */
  async #clearStaleSocket(path: string): Promise<void> {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(path);
    } catch {
      return;
    }
    if (!st.isSocket) {
      throw new ListenerError(this.name, `${path} exists and is not a socket; not replacing it`);
    }
    let state;
    try {
      state = await this.#io.probeUnix(path);
    } catch (e) {
      throw new ListenerError(this.name, `cannot check ${path}: ${errText(e)}`);
    }
    if (state === "gone") return Deno.removeSync(path);
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

  /** Answers the datagram of `n` bytes just received (an empty one gets no reply, as in OpenSIPS). */
  #serve(sock: DatagramSocket, s: Serving, n: number): void {
    if (n === 0) return;
    const ep = s.ep;
    // handleBytes decodes at once, so the buffer is free again when it returns.
    const r = n > ep.maxRequestBytes ? ep.oversize(n) : ep.handleBytes(
      this.#buf.subarray(0, n),
      this.#peer,
      this.#transport === "unix" ? this.#unixClient : undefined,
    );
    if (r === null) return;
    if (typeof r === "string") return this.#send(sock, s, r, sock.from());
    // The reply comes later: keep a copy of the sender's address.
    const to = sock.keep(sock.from());
    this.#replies.track(
      r.then((v) => {
        if (v !== null && this.#sock?.io === sock) this.#send(sock, s, v, to);
      }).catch((e) => s.task.log.error(`datagram request failed: ${errText(e)}`)),
    );
  }

  #send(sock: DatagramSocket, s: Serving, reply: string, to: PeerAddress): void {
    const ep = s.ep;
    if (this.#transport === "unix" && sock.text(to) === "") {
      // An unbound unix client has no address to answer to.
      this.#sendErrors.inc();
      ep.report("undelivered", reply);
      s.warn.warn("unbound", "cannot reply to a unix client that did not bind its socket");
      return;
    }
    let bytes = encoder.encode(reply);
    if (this.#transport === "udp" && bytes.length > UDP_MAX_PAYLOAD) {
      const limit = `the datagram limit of ${UDP_MAX_PAYLOAD}`;
      bytes = this.#replaced(ep, reply, bytes.length, limit, UDP_MAX_PAYLOAD);
    }
    const size = bytes.length;
    // A unix datagram larger than this socket's send buffer: the error instead.
    const tooLarge = (e: unknown) => {
      if (sock.errorCode(e) !== "EMSGSIZE") throw e;
      const max = sock.sendBuffer();
      const limit = `the send buffer of this socket, ${max}`;
      // The kernel needs some of the buffer for itself: aim well below it.
      return sock.send(this.#replaced(ep, reply, size, limit, max >> 1), to);
    };
    const failed = (e: unknown) => {
      this.#sendErrors.inc();
      ep.report("undelivered", reply);
      const code = sock.errorCode(e);
      const why = code === "EAGAIN"
        ? "its receive queue is full"
        : code === "ETIMEDOUT"
        ? "its receive queue is full (the send did not finish)"
        : code === "ENOENT" || code === "ECONNREFUSED"
        ? "it went away"
        : errText(e);
      s.warn.warn("send", `reply to ${sock.text(to) || "(unbound)"} not sent: ${why}`);
    };
    try {
      let sent: void | Promise<void>;
      try {
        sent = sock.send(bytes, to);
      } catch (e) {
        sent = tooLarge(e);
      }
      if (sent) this.#replies.track(sent.catch(tooLarge).catch(failed));
    } catch (e) {
      failed(e);
    }
  }

  /**
   * The error reply that replaces a reply too large to send (`limit` names
   * the limit): with the request's id when that fits in `max` bytes, with
   * `"id": null` when the id itself is too large to echo.
   */
  #replaced(
    ep: Endpoint,
    reply: string,
    size: number,
    limit: string,
    max: number,
  ): Uint8Array<ArrayBuffer> {
    this.#tooLarge.inc();
    ep.report("replaced", reply);
    const data = `reply of ${size} bytes exceeds ${limit} bytes; use the FIFO or HTTP transport`;
    const id = replyIdText(reply);
    const withId = encoder.encode(errorReply(INTERNAL_ERROR, "Internal error", data, id));
    if (withId.length <= max) return withId;
    const why = `${data}; the request's id of ${id.length} bytes is too large to echo`;
    return encoder.encode(errorReply(INTERNAL_ERROR, "Internal error", why, "null"));
  }
}

const NEVER_GONE: ClientState = { gone: false };

/**
 * A unix client is gone once its socket file is: nobody can be answered.
 * An unbound or abstract client leaves nothing to look at.
 */
function unixClientState(path: string): ClientState {
  if (path === "" || path.startsWith("@")) return NEVER_GONE;
  return {
    get gone() {
      try {
        return !Deno.lstatSync(path).isSocket;
      } catch {
        return true;
      }
    },
  };
}
