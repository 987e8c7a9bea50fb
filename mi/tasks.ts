// The daemon's task table: what `ps` and `log_level` show. sipmi is one
// process; its tasks are the attendant (main loop) and one per listener.
// Each task has its own logger so `log_level LEVEL PID` can raise one
// task's level; tasks that share a PID (the main thread) change together.

import type { Log, Logger } from "../sys/log.ts";

export interface Task {
  readonly id: number;
  readonly pid: number;
  readonly type: string;
  readonly log: Logger;
}

export class Tasks {
  readonly #log: Log;
  readonly #tasks: Task[] = [];
  #nextId = 0;

  constructor(log: Log) {
    this.#log = log;
  }

  /** Adds a task; `pid` defaults to this process. */
  add(type: string, pid = Deno.pid): Task {
    const t: Task = { id: this.#nextId++, pid, type, log: this.#log.logger(type) };
    this.#tasks.push(t);
    return t;
  }

  remove(task: Task): void {
    const i = this.#tasks.indexOf(task);
    if (i >= 0) this.#tasks.splice(i, 1);
  }

  list(): readonly Task[] {
    return this.#tasks;
  }

  get log(): Log {
    return this.#log;
  }
}
