// The daemon's listeners and their lifecycle: which ones the config enables,
// starting them (a listener that cannot start is reported with its cause;
// the daemon refuses to run without it unless it is optional), changing
// the set to match a new config (a reload: only listeners whose settings
// changed are restarted, one at a time, and a failure puts back what was
// there), and the graceful stop: stop accepting, let requests already
// received finish within the shutdown timeout, remove the FIFO and socket
// files the daemon created.

import type { Config } from "../config/schema.ts";
import { parseDatagramAddress } from "../config/schema.ts";
import { configToken } from "../config/token.ts";
import type { MiInstance } from "../mi/instance.ts";
import { DatagramListener } from "../transports/datagram.ts";
import { FifoListener } from "../transports/fifo.ts";
import { webFaces } from "../web/mount.ts";
import { HttpListener } from "../transports/http.ts";
import type { Listener } from "../transports/listener.ts";
import { datagramIo, effectiveIo, fifoIo, type IoPath } from "../transports/io_path.ts";
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

/** A listener and a fingerprint of the settings it was built from. */
export interface PlannedListener {
  readonly listener: Listener;
  /** Equal for two configs exactly when the listener would behave the same. */
  readonly settings: string;
}

/** The `mi` keys a listener reads when it starts (the rest apply live). */
function miSettings(config: Config) {
  return { max_request_bytes: config.mi.max_request_bytes, busy_poll_us: config.mi.busy_poll_us };
}

/**
 * The token in the HTTP listener's settings: a rotated token file makes them
 * differ, so a reload picks the new token up. An unreadable file differs
 * too, and the restart then reports why. The settings stay in memory, beside
 * the config that holds an inline token anyway; they are never logged.
 */
function tokenSetting(http: Config["http"]): string {
  try {
    return `token: ${configToken(http)}`;
  } catch (e) {
    return `unreadable: ${errText(e)}`;
  }
}

/** Every listener the config enables, in start order, with its settings. */
export function plannedListeners(mi: MiInstance, config: Config): PlannedListener[] {
  const out: PlannedListener[] = [];
  const ms = miSettings(config);
  if (config.fifo.enabled) {
    out.push({
      listener: new FifoListener(
        mi,
        config.fifo,
        config.mi.busy_poll_us,
        fifoIo(effectiveIo(config.fifo.io as IoPath, mi.attendant.log)),
      ),
      settings: JSON.stringify({ fifo: config.fifo, mi: ms }),
    });
  }
  if (config.datagram.enabled) {
    const { listen: _, ...shared } = config.datagram;
    for (const entry of config.datagram.listen) {
      // The schema validated every address already.
      const addr = parseDatagramAddress(entry.address)!;
      out.push({
        listener: new DatagramListener(
          mi,
          config.datagram,
          addr,
          entry.commands,
          config.mi.busy_poll_us,
          datagramIo(effectiveIo(config.datagram.io as IoPath, mi.attendant.log)),
        ),
        settings: JSON.stringify({ datagram: shared, entry, mi: ms }),
      });
    }
  }
  if (config.http.enabled) {
    out.push({
      listener: new HttpListener(mi, config.http, webFaces(mi.registry, config.http)),
      settings: JSON.stringify({ http: config.http, token: tokenSetting(config.http), mi: ms }),
    });
  }
  return out;
}

/** Every listener the config enables, in start order. */
export function listenersFrom(mi: MiInstance, config: Config): Listener[] {
  return plannedListeners(mi, config).map((p) => p.listener);
}

/** What a reload changes: by listener name. */
export interface ListenerChanges {
  /** New names, and unchanged optional listeners that are not running (tried again). */
  start: PlannedListener[];
  /** Same name, other settings: stopped, then the new one started. */
  replace: { old: PlannedListener; next: PlannedListener }[];
  /** Names the new config no longer has. */
  stop: PlannedListener[];
  /** Unchanged and running: not touched. */
  keep: PlannedListener[];
  /** Every name of the new config, in its order. */
  order: string[];
}

/** What a reload did. `after` finishes the changes deferred past the MI reply. */
export interface AppliedChanges {
  started: string[];
  restarted: string[];
  stopped: string[];
  unchanged: string[];
  /** Optional listeners that did not start (the reload went on without them). */
  notStarted: string[];
  /** Listener changes left for after the reply (the requesting listener). */
  deferred: string[];
  /** Runs the deferred changes; resolves to their error texts (none: all done). */
  after: () => Promise<string[]>;
}

/** A reload that could not be applied; what it had changed was put back. */
export class ReloadError extends Error {
  readonly causes: string[];
  constructor(causes: string[]) {
    super(causes.join("; "));
    this.name = "ReloadError";
    this.causes = causes;
  }
}

const isPlanned = (x: Listener | PlannedListener): x is PlannedListener =>
  "listener" in x && "settings" in x;

type Swap = { old: PlannedListener; next: PlannedListener };

export class Daemon {
  readonly #mi: MiInstance;
  #entries: PlannedListener[];
  readonly #running = new Set<Listener>();

  constructor(mi: MiInstance, listeners: readonly (Listener | PlannedListener)[]) {
    this.#mi = mi;
    this.#entries = listeners.map((l) => isPlanned(l) ? l : { listener: l, settings: "" });
  }

  get listeners(): readonly Listener[] {
    return this.#entries.map((e) => e.listener);
  }

  /** Names of the listeners that are serving. */
  get running(): string[] {
    return this.listeners.filter((l) => this.#running.has(l)).map((l) => l.name);
  }

  /**
   * Starts every listener. An optional one that fails is logged and left
   * out; if a required one fails, those already started are stopped again
   * (their files removed) and StartError lists every cause.
   */
  async start(): Promise<void> {
    const log = this.#mi.attendant.log;
    const causes: string[] = [];
    for (const l of this.listeners) {
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

  /** Stops and starts one listener with its settings unchanged; the others keep serving. */
  async restart(name: string, timeoutMs: number): Promise<void> {
    const l = this.listeners.find((x) => x.name === name);
    if (!l) throw new Error(`no listener named ${name}`);
    await l.stop(timeoutMs);
    this.#running.delete(l);
    await l.start();
    this.#running.add(l);
  }

  /** Compares the listeners of a new config with the current ones, by name. */
  changes(next: readonly PlannedListener[]): ListenerChanges {
    const order = next.map((n) => n.listener.name);
    const twice = order.find((n, i) => order.indexOf(n) !== i);
    if (twice !== undefined) throw new ReloadError([`listener ${twice} is configured twice`]);
    const current = new Map(this.#entries.map((e) => [e.listener.name, e]));
    const out: ListenerChanges = { start: [], replace: [], stop: [], keep: [], order };
    for (const n of next) {
      const old = current.get(n.listener.name);
      if (old === undefined) out.start.push(n);
      else if (old.settings !== n.settings) out.replace.push({ old, next: n });
      else if (this.#running.has(old.listener)) out.keep.push(old);
      else out.start.push(old);
    }
    for (const e of this.#entries) if (!order.includes(e.listener.name)) out.stop.push(e);
    return out;
  }

  /**
   * Applies `changes` in an order where nothing is lost until the new
   * listeners are up: new names start first, then changed listeners are
   * replaced one at a time, then removed ones stop. If a required listener
   * cannot start, everything done so far is put back and ReloadError says
   * why. Changes to the listener named `defer` (the one a `reload` request
   * came through) are left to `after()`, so its reply can still go out.
   */
  async apply(
    changes: ListenerChanges,
    timeoutMs: number,
    defer?: string,
  ): Promise<AppliedChanges> {
    const log = this.#mi.attendant.log;
    const started: PlannedListener[] = [];
    const replaced: Swap[] = [];
    const notStarted: string[] = [];
    /** The entry each name ends up with. */
    const result = new Map<string, PlannedListener>();
    const undo = async (cause: string): Promise<never> => {
      const causes = [cause];
      for (const r of replaced.reverse()) {
        const back = await this.#swap(r.next, r.old, timeoutMs);
        if (back !== undefined) {
          causes.push(`${r.old.listener.name} could not be restored: ${back}`);
        }
      }
      for (const s of started) await this.#stopOne(s, timeoutMs);
      throw new ReloadError(causes);
    };

    for (const s of changes.start) {
      result.set(s.listener.name, s);
      try {
        await s.listener.start();
        this.#running.add(s.listener);
        started.push(s);
      } catch (e) {
        if (!s.listener.optional) await undo(errText(e));
        log.warn(`optional listener not started: ${errText(e)}`);
        notStarted.push(s.listener.name);
      }
    }
    const later = changes.replace.filter((r) => r.old.listener.name === defer);
    for (const r of changes.replace) {
      if (later.includes(r)) {
        result.set(r.old.listener.name, r.old);
        continue;
      }
      const cause = await this.#swap(r.old, r.next, timeoutMs);
      if (cause === undefined) {
        replaced.push(r);
        result.set(r.next.listener.name, r.next);
        continue;
      }
      // The new one did not start: the old one serves again.
      const back = await this.#swap(r.next, r.old, timeoutMs);
      if (!r.next.listener.optional || back !== undefined) await undo(cause);
      log.warn(`optional listener not restarted, the old settings stay: ${cause}`);
      notStarted.push(r.next.listener.name);
      result.set(r.old.listener.name, r.old);
    }
    for (const k of changes.keep) result.set(k.listener.name, k);
    const stopLater = changes.stop.filter((s) => s.listener.name === defer);
    const stopNow = changes.stop.filter((s) => s.listener.name !== defer);
    for (const s of stopNow) await this.#stopOne(s, timeoutMs);
    this.#entries = [...changes.order.map((n) => result.get(n)!), ...stopLater];

    const after = async (): Promise<string[]> => {
      const errors: string[] = [];
      for (const r of later) {
        const cause = await this.#swap(r.old, r.next, timeoutMs);
        if (cause === undefined) {
          this.#entries = this.#entries.map((e) => e === r.old ? r.next : e);
          continue;
        }
        errors.push(cause);
        const back = await this.#swap(r.next, r.old, timeoutMs);
        if (back !== undefined) {
          errors.push(`${r.old.listener.name} could not be restored: ${back}`);
        }
      }
      for (const s of stopLater) {
        await this.#stopOne(s, timeoutMs);
        this.#entries = this.#entries.filter((e) => e !== s);
      }
      return errors;
    };

    return {
      started: started.map((s) => s.listener.name),
      restarted: replaced.map((r) => r.next.listener.name),
      stopped: stopNow.map((s) => s.listener.name),
      unchanged: changes.keep.map((k) => k.listener.name),
      notStarted,
      deferred: [
        ...later.map((r) => r.old.listener.name),
        ...stopLater.map((s) => s.listener.name),
      ],
      after,
    };
  }

  async #stopOne(e: PlannedListener, timeoutMs: number): Promise<void> {
    await e.listener.stop(timeoutMs);
    this.#running.delete(e.listener);
  }

  /** Stops `from` and starts `to` in its place; returns the cause when `to` did not start. */
  async #swap(
    from: PlannedListener,
    to: PlannedListener,
    timeoutMs: number,
  ): Promise<string | undefined> {
    await this.#stopOne(from, timeoutMs);
    try {
      await to.listener.start();
      this.#running.add(to.listener);
      return undefined;
    } catch (e) {
      return errText(e);
    }
  }

  /** The graceful stop, bounded by `timeoutMs` in total. */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const running = this.listeners.filter((l) => this.#running.has(l));
    await Promise.all(running.map((l) => l.stop(timeoutMs)));
    for (const l of running) this.#running.delete(l);
    const left = await this.#mi.core.drain(Math.max(0, deadline - Date.now()));
    if (left > 0) {
      this.#mi.attendant.log.warn(`${left} commands still running at the shutdown timeout`);
    }
  }
}
