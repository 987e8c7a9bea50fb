// Modules declare MI commands here: name, help text, recipes, whether the
// command changes anything, and the handler. The core looks commands up by
// exact, case-sensitive name (as OpenSIPS 3.x does).

import type { Params, Recipe } from "./params.ts";
import type { Counter, StatsRegistry } from "./stats.ts";

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

export type Handler = (params: Params, ctx: RequestContext) => unknown;

export interface CommandSpec {
  readonly name: string;
  /** One line, returned verbatim by `help`. */
  readonly help: string;
  readonly recipes: readonly Recipe[];
  /**
   * Changes host or daemon state, so read-only listeners refuse it. A
   * function decides per call (`log_level` only reads without params).
   */
  readonly mutating?: boolean | ((params: Params) => boolean);
  /** Refuses positional params (OpenSIPS MI_NAMED_PARAMS_ONLY). */
  readonly namedOnly?: boolean;
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

const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_.:-]*$/;

export class Registry {
  readonly #commands = new Map<string, Command>();
  readonly #modules = new Map<string, Command[]>();
  readonly #stats: StatsRegistry;

  constructor(stats: StatsRegistry) {
    this.#stats = stats;
  }

  register(module: MiModule): void {
    for (const spec of module.commands) {
      if (!COMMAND_NAME.test(spec.name)) throw new Error(`bad MI command name '${spec.name}'`);
      if (this.#commands.has(spec.name)) {
        throw new Error(`MI command '${spec.name}' is registered twice`);
      }
      if (spec.recipes.length === 0) throw new Error(`MI command '${spec.name}' has no recipe`);
    }
    const list = this.#modules.get(module.name) ?? [];
    for (const spec of module.commands) {
      const statName = spec.name.replace(/[^A-Za-z0-9_]/g, "_");
      const cmd: Command = {
        ...spec,
        module: module.name,
        calls: this.#stats.counter("mi", `cmd_${statName}`),
        errors: this.#stats.counter("mi", `cmd_${statName}_errors`),
      };
      this.#commands.set(spec.name, cmd);
      list.push(cmd);
    }
    this.#modules.set(module.name, list);
  }

  get(name: string): Command | undefined {
    return this.#commands.get(name);
  }

  /** Every command name in registration order. */
  names(): string[] {
    return [...this.#commands.keys()];
  }

  modules(): string[] {
    return [...this.#modules.keys()];
  }

  commandsOf(module: string): readonly Command[] {
    return this.#modules.get(module) ?? [];
  }
}
