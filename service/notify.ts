// sd_notify: the messages a Type=notify service sends to systemd over the
// unix datagram socket named by $NOTIFY_SOCKET (a path, or `@name` in the
// abstract namespace). Sent from an unbound socket through FFI, as
// libsystemd does, from the main process, which is what NotifyAccess=main
// accepts. See docs/service.md.
//
// Sends never wait: a full queue at systemd loses one message (logged), it
// never stalls the event loop that serves MI.

import { closeFd, monotonicUsec, unixDatagramSend, unixDatagramSocket } from "../sys/libc.ts";
import { errText, type Logger } from "../sys/log.ts";

export type NotifyFields = Record<string, string | number | bigint>;

export interface Notifier {
  /** Whether a systemd socket was named; without one every send is a no-op. */
  readonly enabled: boolean;
  /** One datagram of `KEY=VALUE` lines. */
  send(fields: NotifyFields): void;
  close(): void;
}

/** `KEY=VALUE` lines; values are made single-line (STATUS= is free text). */
export function notifyMessage(fields: NotifyFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, " ")}`)
    .join("\n");
}

const encoder = new TextEncoder();

/**
 * The notifier for this process. Reads NOTIFY_SOCKET and removes it from
 * the environment, so a child process (a `systemctl` the tuning side runs)
 * cannot speak for the daemon.
 */
export function notifierFromEnv(log: Logger): Notifier {
  const path = Deno.env.get("NOTIFY_SOCKET") ?? "";
  Deno.env.delete("NOTIFY_SOCKET");
  if (path === "") return { enabled: false, send: () => {}, close: () => {} };
  if (!path.startsWith("/") && !path.startsWith("@")) {
    log.warn(`NOTIFY_SOCKET '${path}' is neither a path nor an @abstract name; not notifying`);
    return { enabled: false, send: () => {}, close: () => {} };
  }
  return new SocketNotifier(path, log);
}

class SocketNotifier implements Notifier {
  readonly enabled = true;
  readonly #path: string;
  readonly #log: Logger;
  #fd: number | undefined;
  #lastError = "";

  constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
  }

  send(fields: NotifyFields): void {
    try {
      this.#fd ??= unixDatagramSocket();
      unixDatagramSend(this.#fd, this.#path, encoder.encode(notifyMessage(fields)), true);
      this.#lastError = "";
    } catch (e) {
      // Said once per kind of failure: a watchdog ping every few seconds
      // must not repeat the same line forever.
      const text = errText(e);
      if (text !== this.#lastError) {
        this.#log.warn(`sd_notify to ${this.#path} failed: ${text}`);
        this.#lastError = text;
      }
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeFd(this.#fd);
    this.#fd = undefined;
  }
}

/** The fields that open a reload: systemd wants the monotonic time with RELOADING=1. */
export function reloadingFields(): NotifyFields {
  return { RELOADING: 1, MONOTONIC_USEC: monotonicUsec() };
}
