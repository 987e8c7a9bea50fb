// A config reload (SIGHUP, the `reload` MI command, `sipmi service reload`):
// read the file again; if it is bad, log its errors and keep running on the
// old one. Otherwise restart only the listeners whose settings changed, one
// at a time, while the others keep serving; apply what can change live
// (log level, request limits); name the keys that need a restart. Reloads
// run one after another, never two at once.

import { ConfigError, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { MiInstance } from "../mi/instance.ts";
import { errText } from "../sys/log.ts";
import type { Relay, UpstreamState } from "../upstream/relay.ts";
import type { Auditor } from "./audit.ts";
import { type Daemon, plannedListeners, ReloadError } from "./daemon.ts";

export interface ReloadResult {
  ok: boolean;
  /** What asked: `SIGHUP`, `MI http`, ... */
  trigger: string;
  /** When it finished (ISO 8601). */
  at: string;
  /** The file read, or null for the embedded defaults. */
  config: string | null;
  started: string[];
  restarted: string[];
  stopped: string[];
  unchanged: string[];
  /** Keys applied without a restart. */
  applied: string[];
  /** Keys that take effect at the next start of the daemon. */
  needs_restart: string[];
  /** Listener changes made right after the MI reply (the requesting listener). */
  after_reply: string[];
  /** Why it failed (config errors, a listener that cannot start). */
  errors: string[];
  /** Each upstream after its command list was fetched again (an unreachable one is no failure). */
  upstreams: UpstreamState[];
}

/** Config keys (dotted, arrays indexed) whose values differ. */
export function changedKeys(a: unknown, b: unknown, prefix = ""): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => changedKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    return a.flatMap((v, i) => changedKeys(v, b[i], `${prefix}[${i}]`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/**
 * Keys only read when the daemon starts. The tuning worker takes the default
 * profile, the verify interval and enforcement live; its root, state
 * directory and SIP router settings need a restart.
 */
const RESTART_ONLY = /^(tuning\.(root|state_dir|sip)|startup(\[|$)|startup_failure$)/;
/** Keys of the listeners: reported through the listeners restarted. */
const LISTENER_KEYS = /^(fifo|datagram|http)\./;

export interface ReloaderOptions {
  mi: MiInstance;
  daemon: Daemon;
  /** The serve command's --config (undefined: the default path). */
  configPath: string | undefined;
  config: Config;
  source: string | null;
  auditor: Auditor;
  /** Takes the new `upstream` list and fetches every list again. */
  relay: Relay;
  /** Applies the keys that change live outside the core (statistics ages, tuning settings). */
  applyLive?: (config: Config) => Promise<void>;
  /** Told when a reload begins and when it has ended (deferred part included). */
  onBegin?: () => void;
  onEnd?: (r: ReloadResult) => void;
}

export class Reloader {
  readonly #o: ReloaderOptions;
  #config: Config;
  #source: string | null;
  #last: ReloadResult | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: ReloaderOptions) {
    this.#o = o;
    this.#config = o.config;
    this.#source = o.source;
  }

  /** The config in force. */
  get config(): Config {
    return this.#config;
  }

  get source(): string | null {
    return this.#source;
  }

  get last(): ReloadResult | undefined {
    return this.#last;
  }

  /** Resolves once no reload is running or queued. */
  idle(): Promise<void> {
    return this.#queue.then(() => {}, () => {});
  }

  /**
   * Reloads once the reloads before it are done. `reply` resolves with the
   * result as it stands when the MI reply can go out; `done` once the
   * changes deferred past that reply are made too.
   */
  reload(
    trigger: string,
    defer?: string,
  ): { reply: Promise<ReloadResult>; done: Promise<ReloadResult> } {
    const reply = Promise.withResolvers<ReloadResult>();
    const done = this.#queue.then(() => this.#run(trigger, defer, reply.resolve));
    this.#queue = done.catch(() => {});
    done.catch((e) => reply.reject(e));
    return { reply: reply.promise, done };
  }

  async #run(
    trigger: string,
    defer: string | undefined,
    replyWith: (r: ReloadResult) => void,
  ): Promise<ReloadResult> {
    const { mi, daemon, log } = { ...this.#o, log: this.#o.mi.attendant.log };
    this.#o.onBegin?.();
    const r: ReloadResult = {
      ok: false,
      trigger,
      at: "",
      config: this.#source,
      started: [],
      restarted: [],
      stopped: [],
      unchanged: [],
      applied: [],
      needs_restart: [],
      after_reply: [],
      errors: [],
      upstreams: [],
    };
    const finish = (): ReloadResult => {
      r.at = new Date().toISOString();
      this.#last = r;
      this.#o.onEnd?.(r);
      return r;
    };
    log.notice(`reload (${trigger}): reading ${this.#o.configPath ?? "the config"}`);

    let next: { config: Config; source: string | null };
    try {
      next = await loadConfig(this.#o.configPath);
    } catch (e) {
      r.errors = e instanceof ConfigError ? e.problems : [errText(e)];
      for (const p of r.errors) log.error(`reload: ${p}`);
      log.error("reload: bad configuration; the running one stays");
      replyWith(r);
      return finish();
    }
    const old = this.#config;
    const keys = changedKeys(old, next.config);
    r.config = next.source;
    r.needs_restart = keys.filter((k) => RESTART_ONLY.test(k));
    r.applied = keys.filter((k) => !RESTART_ONLY.test(k) && !LISTENER_KEYS.test(k));

    // Limits first: listeners that start now read the request size limit.
    const oldLimits = mi.core.limits;
    mi.core.limits = {
      maxRequestBytes: next.config.mi.max_request_bytes,
      maxDepth: next.config.mi.max_depth,
      maxBatch: next.config.mi.max_batch,
      maxConcurrent: next.config.mi.max_concurrent,
      maxRunningBatches: next.config.mi.max_running_batches,
    };
    const timeout = next.config.service.shutdown_timeout_ms;
    let applied;
    try {
      applied = await daemon.apply(
        daemon.changes(plannedListeners(mi, next.config)),
        timeout,
        defer,
      );
    } catch (e) {
      mi.core.limits = oldLimits;
      r.errors = e instanceof ReloadError ? e.causes : [errText(e)];
      r.applied = [];
      r.needs_restart = [];
      for (const p of r.errors) log.error(`reload: ${p}`);
      log.error("reload: not applied; the running configuration stays");
      replyWith(r);
      return finish();
    }
    if (next.config.log_level !== old.log_level) {
      // As the log_level command does for the global level.
      mi.log.level = next.config.log_level;
      for (const t of mi.tasks.list()) t.log.own = null;
    }
    this.#config = next.config;
    this.#source = next.source;
    this.#o.auditor.configure(next.config);
    let live: string | undefined;
    try {
      await this.#o.applyLive?.(next.config);
    } catch (e) {
      live = `tuning settings not applied: ${errText(e)}`;
      log.error(`reload: ${live}`);
    }
    // Upstreams: the new list, and every command list fetched again.
    this.#o.relay.configure(next.config.upstream);
    r.upstreams = await this.#o.relay.refreshAll();
    Object.assign(r, {
      ok: true,
      started: applied.started,
      restarted: applied.restarted,
      stopped: applied.stopped,
      unchanged: applied.unchanged,
      after_reply: applied.deferred,
    });
    if (live !== undefined) {
      r.ok = false;
      r.errors.push(live);
    }
    if (applied.notStarted.length > 0) {
      r.errors.push(...applied.notStarted.map((n) => `optional listener ${n} did not start`));
    }
    if (r.needs_restart.length > 0) {
      log.warn(
        `reload: ${r.needs_restart.join(", ")} changed; takes effect when the daemon restarts`,
      );
    }
    replyWith({ ...r });
    const late = await applied.after();
    if (late.length > 0) {
      r.ok = false;
      r.errors.push(...late);
      for (const p of late) log.error(`reload: ${p}`);
    }
    log.notice(
      `reload done: ${
        r.ok ? "ok" : "with errors"
      }; started [${r.started}], restarted [${r.restarted}], ` +
        `after the reply [${r.after_reply}], stopped [${r.stopped}], unchanged [${r.unchanged}]` +
        (r.applied.length > 0 ? `; applied ${r.applied.join(", ")}` : ""),
    );
    return finish();
  }
}
