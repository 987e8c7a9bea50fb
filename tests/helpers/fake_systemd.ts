// Plays systemd's side of sd_notify: a unix datagram socket (a path, or an
// abstract `@name`) that records every message with the time it arrived.

const dec = new TextDecoder();

export interface NotifyMessage {
  /** performance.now() at arrival. */
  at: number;
  fields: Record<string, string>;
  text: string;
}

export class FakeSystemd {
  /** The NOTIFY_SOCKET value to give the daemon. */
  readonly address: string;
  readonly messages: NotifyMessage[] = [];
  readonly #conn: Deno.DatagramConn;
  readonly #loop: Promise<void>;
  #waiters: (() => void)[] = [];

  /** `dir`: a path socket in it; otherwise an abstract name. */
  constructor(dir?: string) {
    this.address = dir
      ? `${dir}/notify`
      : `@sipmi_test_notify_${Deno.pid}_${crypto.randomUUID().slice(0, 8)}`;
    // Deno names the abstract namespace with a leading NUL.
    const path = this.address.startsWith("@") ? `\0${this.address.slice(1)}` : this.address;
    const conn = Deno.listenDatagram({ transport: "unixpacket", path });
    this.#conn = conn;
    this.#loop = (async () => {
      try {
        for await (const [data] of conn) {
          const text = dec.decode(data);
          const fields: Record<string, string> = {};
          for (const line of text.split("\n")) {
            const eq = line.indexOf("=");
            if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
          }
          this.messages.push({ at: performance.now(), fields, text });
          const w = this.#waiters;
          this.#waiters = [];
          for (const f of w) f();
        }
      } catch {
        // Closed.
      }
    })();
  }

  /** Messages carrying `key` (with `value`, when given). */
  with(key: string, value?: string): NotifyMessage[] {
    return this.messages.filter((m) =>
      key in m.fields && (value === undefined || m.fields[key] === value)
    );
  }

  /** Waits until `pred` holds for some message from index `from` on; returns its index. */
  async waitFor(
    pred: (m: NotifyMessage) => boolean,
    what: string,
    opts: { from?: number; ms?: number } = {},
  ): Promise<number> {
    const deadline = Date.now() + (opts.ms ?? 15000);
    for (;;) {
      const i = this.messages.findIndex((m, i) => i >= (opts.from ?? 0) && pred(m));
      if (i >= 0) return i;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no notify message with ${what}; got:\n${
            this.messages.map((m) => m.text).join("\n--\n")
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#conn.close();
    await this.#loop;
  }
}
