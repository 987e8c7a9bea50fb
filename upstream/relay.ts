// The upstream relay: a module of the MI core whose commands are the ones
// the SIP router's MI servers have and sipmi does not (docs/upstream.md).
// Each upstream's command list is fetched at start, on a reload, when a name
// nobody has is called (at most every few seconds), and by
// `upstream_refresh`; between fetches it is kept. Every command is a normal
// MI command for the core: listener policies, read-only listeners, limits,
// statistics and the audit trail apply as to sipmi's own.

import type { UpstreamConfig } from "../config/schema.ts";
import type { CommandSpec, MiModule, Registry } from "../mi/registry.ts";
import { isCommandName } from "../mi/registry.ts";
import type { StatsRegistry } from "../mi/stats.ts";
import { errText, type Logger } from "../sys/log.ts";
import { Upstream } from "./upstream.ts";

/** After a name nobody has was called, an upstream's list is fetched again if it is this old. */
const MISS_REFETCH_MS = 10_000;
/** An upstream never fetched is tried again on a miss after this long. */
const MISS_RETRY_MS = 1_000;
/** Retrying an upstream whose list was never fetched: from 1 s, doubling to 30 s. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** What `upstream_list` and a reload say of one upstream. */
export interface UpstreamState {
  name: string;
  via: string;
  kind: string;
  prefix: string;
  /** Commands relayed (after the config's `commands` and name clashes). */
  commands: number;
  reachable: boolean;
  /** When the list was last fetched (ISO 8601), or null. */
  fetched: string | null;
  in_flight: number;
  error?: string;
  warning?: string;
}

export class Relay {
  readonly #registry: Registry;
  readonly #stats: StatsRegistry;
  readonly #log: Logger;
  #upstreams: Upstream[] = [];
  readonly #refreshing = new Map<Upstream, Promise<void>>();
  readonly #retry = new Map<string, { timer: ReturnType<typeof setTimeout>; delay: number }>();
  #running = false;

  constructor(registry: Registry, stats: StatsRegistry, log: Logger) {
    this.#registry = registry;
    this.#stats = stats;
    this.#log = log;
    registry.resolver = (name) => this.#resolve(name);
  }

  get upstreams(): readonly Upstream[] {
    return this.#upstreams;
  }

  /**
   * Takes the config's `upstream` list (at start, and on a reload). An
   * upstream whose settings are unchanged keeps its command list; a changed
   * one starts afresh under the same name; a removed one's commands go.
   * Does not fetch: see refreshAll.
   */
  configure(configs: readonly UpstreamConfig[]): void {
    const old = new Map(this.#upstreams.map((u) => [u.name, u]));
    const next: Upstream[] = [];
    configs.forEach((c, i) => {
      const prev = old.get(c.name);
      if (prev && JSON.stringify(prev.config) === JSON.stringify(c) && prev.index === i) {
        next.push(prev);
        return;
      }
      prev?.close();
      const u = new Upstream(c, i, this.#stats);
      if (prev?.commands) {
        // Same name, other settings: the old list stands until the fetch.
        u.commands = prev.commands;
      }
      next.push(u);
      this.#registerStats(u.name);
    });
    const names = new Set(next.map((u) => u.name));
    for (const u of this.#upstreams) {
      if (!names.has(u.name)) {
        u.close();
        this.#registry.removeModule(moduleName(u));
        this.#stopRetry(u.name);
      }
    }
    this.#upstreams = next;
    for (const u of next) this.#publish(u);
  }

  /** Fetches every upstream's list (in parallel, each within its timeout) and starts retrying the failures. */
  async start(): Promise<UpstreamState[]> {
    this.#running = true;
    return await this.refreshAll();
  }

  stop(): void {
    this.#running = false;
    for (const u of this.#upstreams) u.close();
    for (const name of [...this.#retry.keys()]) this.#stopRetry(name);
  }

  /** Fetches every upstream's command list again. */
  async refreshAll(): Promise<UpstreamState[]> {
    await Promise.all(this.#upstreams.map((u) => this.refresh(u)));
    return this.states();
  }

  /** Fetches one upstream's list (one fetch at a time per upstream; callers share it). */
  refresh(u: Upstream): Promise<void> {
    let p = this.#refreshing.get(u);
    if (p) return p;
    p = this.#fetch(u).finally(() => this.#refreshing.delete(u));
    this.#refreshing.set(u, p);
    return p;
  }

  states(): UpstreamState[] {
    return this.#upstreams.map((u) => ({
      name: u.name,
      via: u.where,
      kind: u.config.kind,
      prefix: u.config.prefix,
      commands:
        this.#registry.commandsOf(moduleName(u)).filter((c) => this.#registry.get(c.name) === c)
          .length,
      reachable: u.lastError === undefined && u.fetchedAt > 0,
      fetched: u.fetchedAt > 0 ? new Date(u.fetchedAt).toISOString() : null,
      in_flight: u.inFlight,
      ...(u.lastError === undefined ? {} : { error: u.lastError }),
      ...(u.dirWarning === undefined ? {} : { warning: u.dirWarning }),
    }));
  }

  async #fetch(u: Upstream): Promise<void> {
    u.recheckDir();
    const hadList = u.commands !== undefined;
    try {
      const names = await u.fetchCommands();
      u.lastLogged = undefined;
      this.#stopRetry(u.name);
      if (u.dirWarning) this.#log.warn(`upstream ${u.name}: ${u.dirWarning}`);
      // In-process runs (`sipmi mi --local`) fetch on demand: no news there.
      const line = `upstream ${u.name} (${u.where}): ${names.length} commands`;
      if (this.#running) this.#log.info(line);
      else this.#log.debug(line);
    } catch (e) {
      // Retries of an upstream that stays down say the same: once is enough.
      const cause = u.lastError ?? errText(e);
      const line = `upstream ${u.name} (${u.where}): cannot fetch its commands: ${cause}` +
        (hadList ? "; the last list stays" : "");
      if (cause !== u.lastLogged) this.#log.warn(line);
      else this.#log.debug(line);
      u.lastLogged = cause;
      if (!hadList) this.#startRetry(u);
    }
    // The upstream may have been replaced by a reload meanwhile.
    if (this.#upstreams.includes(u)) this.#publish(u);
  }

  /** Sets the upstream's commands in the registry. */
  #publish(u: Upstream): void {
    const specs: CommandSpec[] = [];
    const bad: string[] = [];
    // A list that names a command twice (nothing stops a server doing so) relays it once.
    for (const name of new Set(u.commands ?? [])) {
      if (!u.relays(name)) continue;
      const local = u.localName(name);
      if (!isCommandName(local)) {
        bad.push(name);
        continue;
      }
      specs.push(relayedCommand(u, name, local));
    }
    if (bad.length > 0) {
      this.#log.warn(
        `upstream ${u.name}: commands not relayed, their names are not MI command names: ${
          bad.slice(0, 20).join(", ")
        }`,
      );
    }
    const module: MiModule = { name: moduleName(u), commands: specs };
    this.#registry.setModule(module);
  }

  /**
   * A name nobody has was called: an upstream that may own it and whose
   * list is old (or missing) is asked again. Nothing to ask: undefined, and
   * the caller answers "Method not found" at once.
   */
  #resolve(name: string): Promise<unknown> | undefined {
    const now = Date.now();
    const due = this.#upstreams.filter((u) => {
      if (u.config.prefix && !name.startsWith(`${u.config.prefix}.`)) return false;
      if (this.#refreshing.has(u)) return true;
      const age = now - (u.commands === undefined ? u.triedAt : Math.max(u.fetchedAt, u.triedAt));
      return age >= (u.commands === undefined ? MISS_RETRY_MS : MISS_REFETCH_MS);
    });
    if (due.length === 0) return undefined;
    return Promise.all(due.map((u) => this.refresh(u)));
  }

  #startRetry(u: Upstream): void {
    if (!this.#running || this.#retry.has(u.name)) return;
    const schedule = (delay: number) => {
      const timer = setTimeout(async () => {
        const current = this.#upstreams.find((x) => x.name === u.name);
        if (!current || !this.#running) return this.#retry.delete(u.name);
        await this.refresh(current);
        if (current.commands !== undefined) return this.#stopRetry(u.name);
        schedule(Math.min(delay * 2, RETRY_MAX_MS));
      }, delay);
      Deno.unrefTimer(timer);
      this.#retry.set(u.name, { timer, delay });
    };
    schedule(RETRY_MIN_MS);
  }

  #stopRetry(name: string): void {
    const r = this.#retry.get(name);
    if (r) clearTimeout(r.timer);
    this.#retry.delete(name);
  }

  /** Computed statistics read the upstream of that name now (a reload replaces the object). */
  #registerStats(name: string): void {
    const current = () => this.#upstreams.find((u) => u.name === name);
    this.#stats.computed("upstream", `${name}_in_flight`, () => current()?.inFlight ?? 0);
    this.#stats.computed("upstream", `${name}_latency_us_avg`, () => {
      const c = current()?.counters;
      return c && c.replies.v > 0 ? Math.round(c.latencyUs.v / c.replies.v) : 0;
    });
    this.#stats.computed(
      "upstream",
      `${name}_commands`,
      () => this.states().find((s) => s.name === name)?.commands ?? 0,
    );
  }
}

function moduleName(u: Upstream): string {
  return `upstream:${u.name}`;
}

/** One of the upstream's commands as an MI command of sipmi's. */
function relayedCommand(u: Upstream, name: string, local: string): CommandSpec {
  return {
    name: local,
    help: "",
    recipes: [],
    anyParams: true,
    mutating: u.isMutating(name),
    describe: { help: () => u.help(name), recipes: () => u.recipes(name) },
    handler: (_p, _ctx, req) => u.call(name, req.params, req.idText),
  };
}
