// The Deno I/O path of the datagram listener: Deno.listenDatagram (UDP, and
// "unixpacket", which is a unix SOCK_DGRAM socket), no raw pointers. Facts it
// works around (docs/architecture.md, "Two I/O paths"):
//
// - a unix DatagramConn cannot send while a receive is pending on it ("Socket
//   already in use"), so unix replies go out through a second socket that
//   never receives, bound in a private temp directory (its path is the
//   reply's source address; clients do not look at it);
// - a send to a unix client whose receive queue is full waits forever, and
//   holds the socket: any other send fails with "Socket already in use"
//   meanwhile. So sends go out one at a time; one that takes longer than
//   UNIX_SEND_TIMEOUT_MS marks its client full (its replies then fail at
//   once, as EAGAIN does on the FFI path, for a backoff that doubles while
//   it stays full) and the reply socket is replaced by a new one: a client
//   that never reads costs the others a few short stalls, not a dead socket.
//   The stuck send itself never ends (closing its socket does not end it)
//   and keeps a descriptor while the client does not read;
// - a send to a client that went away throws (ENOENT, ECONNREFUSED): a
//   failed send, never the end of the loop;
// - receive cannot report truncation: the buffer is one byte longer than
//   the limit, so a datagram that fills it is over the limit.

import { errText } from "../sys/log.ts";
import type { DatagramBindAddress, DatagramIo, DatagramSocket } from "./datagram_io.ts";
import type { WarnThrottle } from "./listener.ts";

/** The longest a UDP reply's send may take before it counts as failed (UDP never waits for the client). */
const SEND_TIMEOUT_MS = 1000;
/** A unix send only waits when the client's queue is full; this long means it is. */
const UNIX_SEND_TIMEOUT_MS = 100;
/**
 * How long a unix client found full gets failed sends without a try; doubled
 * each time the same client is found full again, up to FULL_BACKOFF_MAX_MS.
 */
const FULL_BACKOFF_MS = 1000;
const FULL_BACKOFF_MAX_MS = 10 * 60 * 1000;
/** Clients remembered as full at most (the oldest are forgotten first). */
const MAX_FULL_CLIENTS = 1024;
/** Sends waiting in line; more fail at once (the listener is flooded). */
const MAX_QUEUED_SENDS = 1024;

/** A send failure with the errno name the listener classifies by. */
class SendError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** The errno name of an error thrown by a Deno network call. */
function denoErrorCode(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") return code;
  if (e instanceof Deno.errors.NotFound) return "ENOENT";
  if (e instanceof Deno.errors.ConnectionRefused) return "ECONNREFUSED";
  if (e instanceof Deno.errors.WouldBlock) return "EAGAIN";
  return "";
}

function addrText(a: Deno.Addr): string {
  if (a.transport === "udp" || a.transport === "tcp") {
    return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
  }
  return (a as Deno.UnixAddr).path ?? "";
}

/** Resolves to the outcome of `p`, or rejects with ETIMEDOUT after `ms`. */
function timed<T>(p: Promise<T>, ms: number, onLate: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let late = false;
    const t = setTimeout(() => {
      late = true;
      onLate();
      reject(new SendError("ETIMEDOUT", `the send did not finish within ${ms} ms`));
    }, ms);
    p.then((v) => {
      clearTimeout(t);
      if (!late) resolve(v);
    }, (e) => {
      clearTimeout(t);
      if (!late) reject(e);
    });
  });
}

/** A unix datagram socket that only sends, at a path in a private temp directory. */
class ReplySocket {
  readonly conn: Deno.DatagramConn;
  readonly #dir: string;
  constructor() {
    this.#dir = Deno.makeTempDirSync({ prefix: "sipmi_dgram_" });
    try {
      this.conn = Deno.listenDatagram({ transport: "unixpacket", path: `${this.#dir}/reply` });
    } catch (e) {
      Deno.removeSync(this.#dir, { recursive: true });
      throw e;
    }
  }
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
    try {
      Deno.removeSync(this.#dir, { recursive: true });
    } catch {
      // Removed already.
    }
  }
}

class DenoSocket implements DatagramSocket {
  readonly #conn: Deno.DatagramConn;
  readonly #unix: boolean;
  #reply: ReplySocket | undefined;
  #stopping = false;
  /** Ends the receive being waited for (a new promise per receive: nothing accumulates). */
  #wake: (() => void) | undefined;
  #from: Deno.Addr | undefined;
  /** The end of the line of sends: each waits for the one before it. */
  #tail: Promise<unknown> = Promise.resolve();
  #queued = 0;
  /** Unix clients found with a full queue, and until when their replies fail at once. */
  readonly #full = new Map<string, { until: number; backoff: number }>();

  constructor(addr: DatagramBindAddress) {
    this.#unix = addr.kind === "unix";
    this.#conn = addr.kind === "udp"
      ? Deno.listenDatagram({ transport: "udp", hostname: addr.host, port: addr.port })
      : Deno.listenDatagram({ transport: "unixpacket", path: addr.path });
    if (this.#unix) {
      try {
        this.#reply = new ReplySocket();
      } catch (e) {
        this.#conn.close();
        throw e;
      }
    }
  }

  async serve(
    buf: Uint8Array<ArrayBuffer>,
    got: (n: number) => void,
    warn: WarnThrottle,
  ): Promise<void> {
    while (!this.#stopping) {
      let r: [Uint8Array, Deno.Addr] | undefined;
      try {
        r = await new Promise<[Uint8Array, Deno.Addr] | undefined>((resolve, reject) => {
          this.#wake = () => resolve(undefined);
          this.#conn.receive(buf).then(resolve, reject);
        });
      } catch (e) {
        if (this.#stopping) break;
        warn.warn("receive", `receive failed: ${errText(e)}`);
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      // A datagram that arrives after the stop is left unread, as on the FFI path.
      if (r === undefined || this.#stopping) break;
      this.#from = r[1];
      got(r[0].length);
    }
  }

  from(): Deno.Addr {
    return this.#from!;
  }

  keep(a: unknown): Deno.Addr {
    return a as Deno.Addr; // a new object per receive
  }

  text(a: unknown): string {
    return addrText(a as Deno.Addr);
  }

  send(bytes: Uint8Array<ArrayBuffer>, to: unknown): Promise<void> {
    if (this.#queued >= MAX_QUEUED_SENDS) {
      return Promise.reject(
        new SendError("EAGAIN", `more than ${MAX_QUEUED_SENDS} replies wait to be sent`),
      );
    }
    this.#queued++;
    const sent = this.#tail.then(() => this.#sendNow(bytes, to as Deno.Addr));
    this.#tail = sent.catch(() => {}).finally(() => this.#queued--);
    return sent;
  }

  #sendNow(bytes: Uint8Array<ArrayBuffer>, to: Deno.Addr): Promise<void> {
    if (!this.#unix) return timed(this.#conn.send(bytes, to).then(() => {}), SEND_TIMEOUT_MS, noop);
    const reply = this.#reply;
    if (!reply) return Promise.reject(new SendError("EBADF", "the listener stopped"));
    const path = (to as Deno.UnixAddr).path ?? "";
    const full = this.#full.get(path);
    if (full !== undefined && performance.now() < full.until) {
      return Promise.reject(new SendError("EAGAIN", "its receive queue is full"));
    }
    const sent = reply.conn.send(bytes, to).then(() => {
      this.#full.delete(path); // it reads again
    });
    return timed(sent, UNIX_SEND_TIMEOUT_MS, () => {
      this.#markFull(path);
      // The stuck send holds the socket: a new one for everybody else.
      if (this.#reply === reply) {
        reply.close();
        try {
          this.#reply = new ReplySocket();
        } catch {
          this.#reply = undefined; // the next sends fail, counted
        }
      }
    });
  }

  /**
   * The send stuck on a full client is never ended, not even by closing its
   * socket: each costs a descriptor until the client reads. The backoff,
   * doubled per repeat, keeps that to a few for a client that never reads.
   */
  #markFull(path: string): void {
    const before = this.#full.get(path);
    this.#full.delete(path);
    if (this.#full.size >= MAX_FULL_CLIENTS) {
      this.#full.delete(this.#full.keys().next().value!);
    }
    const backoff = before ? Math.min(before.backoff * 2, FULL_BACKOFF_MAX_MS) : FULL_BACKOFF_MS;
    this.#full.set(path, { until: performance.now() + backoff, backoff });
  }

  errorCode(e: unknown): string {
    return denoErrorCode(e);
  }

  sendBuffer(): number {
    // Deno cannot ask for SO_SNDBUF: Linux's default (net.core.wmem_default).
    return 212992;
  }

  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    this.#reply?.close();
    this.#reply = undefined;
  }
}

function noop(): void {}

export const denoDatagramIo: DatagramIo = {
  bind(addr: DatagramBindAddress): DatagramSocket {
    return new DenoSocket(addr);
  },

  async probeUnix(path: string): Promise<"gone" | "live"> {
    const probe = new ReplySocket();
    try {
      // An empty datagram, as on the FFI path; a live receiver with a full
      // queue never takes it, so a send still waiting means "live".
      const sent = probe.conn.send(new Uint8Array(0), { transport: "unixpacket", path });
      await timed(sent, 200, noop);
      return "live";
    } catch (e) {
      const code = denoErrorCode(e);
      if (code === "ECONNREFUSED") return "gone";
      if (code === "ETIMEDOUT") return "live";
      throw e;
    } finally {
      probe.close();
    }
  },
};
