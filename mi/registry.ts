// Modules declare MI commands here: name, help text, recipes, whether the
// command changes anything, and the handler. The core looks commands up by
// exact, case-sensitive name (as OpenSIPS 3.x does).
//
// Most modules are static: registered once when the MI instance is built.
// A module whose command set changes while the daemon runs (the upstream
// relay, which learns its commands from the SIP router) sets them with
// `setModule` instead, as often as it likes. The registry keeps the rule
// that makes that safe: a static command always wins a name, and of two
// changing modules the one set first does; a command that loses its name is
// hidden, and the registry logs it once.

import type { MiRequest } from "./jsonrpc.ts";
import type { Params, Recipe } from "./params.ts";
import type { Counter, StatsRegistry } from "./stats.ts";
import type { Logger } from "../sys/log.ts";

/** What the core tells a handler about the request; never the transport's internals. */
export interface RequestContext {
  /** `fifo`, `udp`, `unix`, `http`, `script`, `cli`, ... */
  readonly transport: string;
  /** The listener's own name, e.g. `udp:127.0.0.1:8898`. */
  readonly listener?: string;
  /**
   * Who sent this request, as the transport knows it: `127.0.0.1:40312` (UDP,
   * HTTP), a client's socket path (unix datagram), the reply FIFO name. Worked
   * out only when read, so read it only when needed (an audit line).
   */
  readonly peer?: string;
  /** Who authenticated, when the transport authenticates. */
  readonly identity?: string;
}

/**
 * `req` is the request as decoded (method, raw params, id text): only a
 * command that takes any params (`anyParams`) needs it.
 */
export type Handler = (params: Params, ctx: RequestContext, req: MiRequest) => unknown;

export interface CommandSpec {
  readonly name: string;
  /** One line, returned verbatim by `help`. */
  readonly help: string;
  /** The parameter lists it accepts; may be empty only with `anyParams`. */
  readonly recipes: readonly Recipe[];
  /**
   * Changes host or daemon state, so read-only listeners refuse it. A
   * function decides per call (`log_level` only reads without params).
   */
  readonly mutating?: boolean | ((params: Params) => boolean);
  /** Refuses positional params (OpenSIPS MI_NAMED_PARAMS_ONLY). */
  readonly namedOnly?: boolean;
  /**
   * The core does not match params to recipes: the handler gets no Params
   * and reads `req.params` itself (a relayed command, whose recipes only its
   * upstream knows).
   */
  readonly anyParams?: boolean;
  /**
   * Where `help CMD` and `which CMD` find the help text and the recipes when
   * they live elsewhere (a relayed command's upstream); they may reject with
   * an MiError that says why they cannot tell.
   */
  readonly describe?: {
    help(): Promise<string>;
    recipes(): Promise<Recipe[]>;
  };
  /** Returns the result, or throws MiError for a command-level error. */
  readonly handler: Handler;
}

export interface MiModule {
  readonly name: string;
  readonly commands: readonly CommandSpec[];
}

export interface Command extends CommandSpec {
  readonly module: string;
  readonly calls: Counter;
  readonly errors: Counter;
}

/**
 * Asked when a name is not found: may the commands have changed? Returns a
 * promise that settles once they may have (the caller looks again), or
 * undefined when nothing can change for this name.
 */
export type Resolver = (name: string) => Promise<unknown> | undefined;

const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

/** True when `name` may name an MI command. */
export function isCommandName(name: string): boolean {
  return COMMAND_NAME.test(name);
}

export class Registry {
  /** Every command that has its name, static ones first, then changing ones. */
  readonly #visible = new Map<string, Command>();
  readonly #static = new Map<string, Command>();
  /** Changing modules in the order they were first set: earlier wins a name. */
  readonly #dynamic = new Map<string, Map<string, Command>>();
  readonly #modules = new Map<string, Command[]>();
  /** `name module` of the commands hidden now, so each is logged once. */
  #hidden = new Set<string>();
  readonly #stats: StatsRegistry;
  readonly #log: Logger | undefined;
  #resolver: Resolver | undefined;

  constructor(stats: StatsRegistry, log?: Logger) {
    this.#stats = stats;
    this.#log = log;
  }

  /** Registers a static module: its commands are there for the life of the instance. */
  register(module: MiModule): void {
    for (const spec of module.commands) {
      checkSpec(spec);
      if (this.#static.has(spec.name)) {
        throw new Error(`MI command '${spec.name}' is registered twice`);
      }
    }
    const list = this.#modules.get(module.name) ?? [];
    for (const spec of module.commands) {
      const cmd = this.#command(spec, module.name, false);
      this.#static.set(spec.name, cmd);
      list.push(cmd);
    }
    this.#modules.set(module.name, list);
    this.#rebuild();
  }

  /**
   * Sets (or replaces) all the commands of a module whose command set
   * changes. A name a static module has stays the static command's, and a
   * name an earlier-set changing module has stays that one's: such commands
   * are hidden and logged. Their statistics are created at their first call.
   */
  setModule(module: MiModule): void {
    if (this.#modules.has(module.name) && !this.#dynamic.has(module.name)) {
      throw new Error(`module '${module.name}' is static`);
    }
    const cmds = new Map<string, Command>();
    for (const spec of module.commands) {
      checkSpec(spec);
      if (cmds.has(spec.name)) throw new Error(`MI command '${spec.name}' is set twice`);
      cmds.set(spec.name, this.#command(spec, module.name, true));
    }
    this.#dynamic.set(module.name, cmds);
    this.#modules.set(module.name, [...cmds.values()]);
    this.#rebuild();
  }

  /** Removes a changing module and its commands. */
  removeModule(name: string): void {
    if (!this.#dynamic.delete(name)) return;
    this.#modules.delete(name);
    this.#rebuild();
  }

  /** Set by a module whose commands change: asked when a name is not found. */
  set resolver(r: Resolver | undefined) {
    this.#resolver = r;
  }

  get(name: string): Command | undefined {
    return this.#visible.get(name);
  }

  /**
   * The command of that name; when there is none but a changing module may
   * learn it (see Resolver), a promise of the command after it has looked.
   */
  lookup(name: string): Command | Promise<Command | undefined> | undefined {
    const cmd = this.#visible.get(name);
    if (cmd !== undefined || this.#resolver === undefined) return cmd;
    const later = this.#resolver(name);
    if (later === undefined) return undefined;
    return later.then(() => this.#visible.get(name), () => this.#visible.get(name));
  }

  /** Every command name: static ones in registration order, then the changing modules'. */
  names(): string[] {
    return [...this.#visible.keys()];
  }

  modules(): string[] {
    return [...this.#modules.keys()];
  }

  commandsOf(module: string): readonly Command[] {
    return this.#modules.get(module) ?? [];
  }

  /** Static commands count from the start; a changing module's at their first call. */
  #command(spec: CommandSpec, module: string, lazy: boolean): Command {
    const statName = spec.name.replace(/[^A-Za-z0-9_]/g, "_");
    const stats = this.#stats;
    if (!lazy) {
      return {
        ...spec,
        module,
        calls: stats.counter("mi", `cmd_${statName}`),
        errors: stats.counter("mi", `cmd_${statName}_errors`),
      };
    }
    // A changing module can have hundreds of commands (OpenSIPS has about
    // 300) of which a few are called: their counters appear at first use.
    // (A counter registered again is the same counter: a replaced command keeps counting.)
    let calls: Counter | undefined, errors: Counter | undefined;
    return {
      ...spec,
      module,
      get calls() {
        return calls ??= stats.counter("mi", `cmd_${statName}`);
      },
      get errors() {
        return errors ??= stats.counter("mi", `cmd_${statName}_errors`);
      },
    };
  }

  #rebuild(): void {
    this.#visible.clear();
    for (const [name, cmd] of this.#static) this.#visible.set(name, cmd);
    const hidden = new Set<string>();
    const lost: string[] = [];
    for (const [module, cmds] of this.#dynamic) {
      for (const [name, cmd] of cmds) {
        const holder = this.#visible.get(name);
        if (holder === undefined) {
          this.#visible.set(name, cmd);
          continue;
        }
        const key = `${name} ${module}`;
        hidden.add(key);
        if (!this.#hidden.has(key)) lost.push(`'${name}' of ${module} (${holder.module} has it)`);
      }
    }
    this.#hidden = hidden;
    if (lost.length > 0) {
      this.#log?.warn(
        `MI commands hidden by a command of the same name, which keeps it: ${lost.join(", ")}`,
      );
    }
  }
}

function checkSpec(spec: CommandSpec): void {
  if (!COMMAND_NAME.test(spec.name)) throw new Error(`bad MI command name '${spec.name}'`);
  if (spec.recipes.length === 0 && !spec.anyParams) {
    throw new Error(`MI command '${spec.name}' has no recipe`);
  }
}
