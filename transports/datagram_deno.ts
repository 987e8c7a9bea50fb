// The Deno I/O path of the datagram listener: Deno.listenDatagram (UDP, and
// "unixpacket", which is a unix SOCK_DGRAM socket), no raw pointers. Facts it
// works around (docs/architecture.md, "Two I/O paths"):
//
// - a unix DatagramConn cannot send while a receive is pending on it ("Socket
//   already in use"), so unix replies go out through a second socket that
//   never receives, bound in a private temp directory (its path is the
//   reply's source address; clients do not look at it);
// - a send to a unix client whose queue is full waits forever: each send is
//   given SEND_TIMEOUT_MS, then counted as failed; when too many of them are
//   still stuck, the reply socket is replaced, which ends them;
// - a send to a client that went away throws (ENOENT, ECONNREFUSED): a
//   failed send, never the end of the loop;
// - receive cannot report truncation: the buffer is one byte longer than
//   the limit, so a datagram that fills it is over the limit.

import { errText } from "../sys/log.ts";
import type { DatagramBindAddress, DatagramIo, DatagramSocket } from "./datagram_io.ts";
import type { WarnThrottle } from "./listener.ts";

/** The longest a reply's send may take before it counts as failed. */
const SEND_TIMEOUT_MS = 1000;
/** Sends waiting in line; more fail at once (the listener is flooded). */
const MAX_QUEUED_SENDS = 1024;
/** Timed-out sends still stuck before the unix reply socket is replaced. */
const MAX_STUCK_SENDS = 32;

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
  stuck = 0;
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
    Deno.removeSync(this.#dir, { recursive: true });
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
    let reply = this.#reply;
    if (!reply) return Promise.reject(new SendError("EBADF", "the listener stopped"));
    if (reply.stuck >= MAX_STUCK_SENDS) {
      // Closing the socket ends the sends stuck on it.
      reply.close();
      this.#reply = reply = new ReplySocket();
    }
    const r = reply;
    return timed(r.conn.send(bytes, to).then(() => {}), SEND_TIMEOUT_MS, () => r.stuck++);
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
