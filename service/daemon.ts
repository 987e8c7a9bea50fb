// The daemon's listeners and their lifecycle: which ones the config enables,
// starting them (a listener that cannot start is reported with its cause;
// the daemon refuses to run without it unless it is optional), restarting
// one at a time (a config reload), and the graceful stop: stop accepting,
// let requests already received finish within the shutdown timeout, remove
// the FIFO and socket files the daemon created.

import type { Config } from "../config/schema.ts";
import { parseDatagramAddress } from "../config/schema.ts";
import type { MiInstance } from "../mi/instance.ts";
import { DatagramListener } from "../transports/datagram.ts";
import { FifoListener } from "../transports/fifo.ts";
import { HttpListener } from "../transports/http.ts";
import type { Listener } from "../transports/listener.ts";
import { errText } from "../sys/log.ts";

/** Required listeners that could not start; the daemon must not run. */
export class StartError extends Error {
  readonly causes: string[];
  constructor(causes: string[]) {
    super(`cannot start: ${causes.join("; ")}`);
    this.name = "StartError";
    this.causes = causes;
  }
}

/** Every listener the config enables, in start order. */
export function listenersFrom(mi: MiInstance, config: Config): Listener[] {
  const out: Listener[] = [];
  if (config.fifo.enabled) out.push(new FifoListener(mi, config.fifo, config.mi.busy_poll_us));
  if (config.datagram.enabled) {
    for (const entry of config.datagram.listen) {
      // The schema validated every address already.
      const addr = parseDatagramAddress(entry.address)!;
      out.push(
        new DatagramListener(mi, config.datagram, addr, entry.commands, config.mi.busy_poll_us),
      );
    }
  }
  if (config.http.enabled) out.push(new HttpListener(mi, config.http));
  return out;
}

export class Daemon {
  readonly #mi: MiInstance;
  readonly #listeners: Listener[];
  readonly #running = new Set<Listener>();

  constructor(mi: MiInstance, listeners: Listener[]) {
    this.#mi = mi;
    this.#listeners = listeners;
  }

  get listeners(): readonly Listener[] {
    return this.#listeners;
  }

  /** Names of the listeners that are serving. */
  get running(): string[] {
    return this.#listeners.filter((l) => this.#running.has(l)).map((l) => l.name);
  }

  /**
   * Starts every listener. An optional one that fails is logged and left
   * out; if a required one fails, those already started are stopped again
   * (their files removed) and StartError lists every cause.
   */
  async start(): Promise<void> {
    const log = this.#mi.attendant.log;
    const causes: string[] = [];
    for (const l of this.#listeners) {
      try {
        await l.start();
        this.#running.add(l);
      } catch (e) {
        if (l.optional) log.warn(`optional listener not started: ${errText(e)}`);
        else causes.push(errText(e));
      }
    }
    if (causes.length > 0) {
      await this.stop(1000);
      throw new StartError(causes);
    }
    if (this.#running.size === 0) log.warn("no listener is running: the config enables none");
  }

  /** Stops and starts one listener (a reload); the others keep serving. */
  async restart(name: string, timeoutMs: number): Promise<void> {
    const l = this.#listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no listener named ${name}`);
    await l.stop(timeoutMs);
    this.#running.delete(l);
    await l.start();
    this.#running.add(l);
  }

  /** The graceful stop, bounded by `timeoutMs` in total. */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.#listeners.filter((l) => this.#running.has(l));
    await Promise.all(running.map((l) => l.stop(timeoutMs)));
    for (const l of running) this.#running.delete(l);
    const left = await this.#mi.core.drain(Math.max(0, deadline - Date.now()));
    if (left > 0) {
      this.#mi.attendant.log.warn(`${left} commands still running at the shutdown timeout`);
    }
  }
}
