// The FFI I/O path of the datagram listener: the socket is owned through
// libc (sys/libc.ts) and served in bursts (burst.ts): one wake-up, then
// synchronous receives and replies until the queue stays empty.
// recvfrom with MSG_TRUNC reports a datagram's real length; sends never wait
// (a full receive queue is EAGAIN, a failed send).

import {
  closeFd,
  datagramBind,
  datagramReceive,
  datagramSend,
  drainWake,
  pollSet,
  SOCKADDR_MAX,
  sockaddrText,
  socketSendBuffer,
  SysError,
  unixDatagramSend,
  unixDatagramSocket,
  wake,
  wakePipe,
} from "../sys/libc.ts";
import { errText } from "../sys/log.ts";
import { serveBursts } from "./burst.ts";
import type { DatagramBindAddress, DatagramIo, DatagramSocket } from "./datagram_io.ts";

interface FfiAddress {
  sa: Uint8Array<ArrayBuffer>;
  len: number;
}

class FfiSocket implements DatagramSocket {
  readonly #fd: number;
  readonly #wake: { read: number; write: number };
  readonly #busyPollUs: number;
  #stopping = false;
  readonly #from = new Uint8Array(SOCKADDR_MAX);
  readonly #fromLen = new Uint32Array(1);
  /** The current sender, the same object every time: read during `got` only. */
  readonly #current: FfiAddress;

  constructor(fd: number, busyPollUs: number) {
    this.#fd = fd;
    this.#busyPollUs = busyPollUs;
    try {
      this.#wake = wakePipe();
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    const fromLen = this.#fromLen;
    this.#current = {
      sa: this.#from,
      get len() {
        return fromLen[0];
      },
    };
  }

  async serve(buf: Uint8Array<ArrayBuffer>, got: (n: number) => void, warn: {
    warn(kind: string, msg: string): void;
  }): Promise<void> {
    const fd = this.#fd, wakeFd = this.#wake.read;
    const src = {
      pollSet: pollSet([fd, wakeFd]),
      readOnce: () => {
        let n: number;
        try {
          n = datagramReceive(fd, buf, this.#from, this.#fromLen);
        } catch (e) {
          // ICMP errors of earlier sends can surface on receive; never let them end the loop.
          warn.warn("receive", `receive failed: ${errText(e)}`);
          return -1;
        }
        if (n < 0) return -1;
        got(n);
        return 1;
      },
      done: () => this.#stopping,
      waitMs: () => -1,
      waited: () => drainWake(wakeFd),
    };
    while (!this.#stopping) {
      try {
        await serveBursts(src, this.#busyPollUs);
      } catch (e) {
        warn.warn("poll", `waiting for datagrams failed: ${errText(e)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  from(): FfiAddress {
    return this.#current;
  }

  keep(a: unknown): FfiAddress {
    const f = a as FfiAddress;
    return { sa: f.sa.slice(0, f.len), len: f.len };
  }

  text(a: unknown): string {
    const f = a as FfiAddress;
    return sockaddrText(f.sa, f.len);
  }

  send(bytes: Uint8Array<ArrayBuffer>, to: unknown): void {
    const f = to as FfiAddress;
    datagramSend(this.#fd, bytes, f.sa, f.len);
  }

  errorCode(e: unknown): string {
    return e instanceof SysError ? e.code : "";
  }

  sendBuffer(): number {
    return socketSendBuffer(this.#fd);
  }

  stop(): void {
    this.#stopping = true;
    wake(this.#wake.write);
  }

  close(): void {
    closeFd(this.#fd);
    closeFd(this.#wake.read);
    closeFd(this.#wake.write);
  }
}

export const ffiDatagramIo: DatagramIo = {
  bind(addr: DatagramBindAddress, busyPollUs: number): DatagramSocket {
    return new FfiSocket(datagramBind(addr), busyPollUs);
  },

  probeUnix(path: string): Promise<"gone" | "live"> {
    const fd = unixDatagramSocket();
    try {
      // An empty datagram: ignored by sipmi and OpenSIPS, refused by a dead
      // socket. Non-blocking: a live receiver with a full queue says EAGAIN.
      unixDatagramSend(fd, path, new Uint8Array(0));
      return Promise.resolve("live");
    } catch (e) {
      if (e instanceof SysError && e.code === "ECONNREFUSED") return Promise.resolve("gone");
      if (e instanceof SysError && e.code === "EAGAIN") return Promise.resolve("live");
      return Promise.reject(e);
    } finally {
      closeFd(fd);
    }
  },
};
