// Turns on the one event loop for work that runs long, and slots for it.
//
// A batch runs its
// members for at most SLICE_MS, then waits here for its next turn. Turns
// are taken one per macrotask, in arrival order, so between two slices the
// event loop polls I/O (every listener gets its datagrams, FIFO bytes and
// HTTP requests answered) and every other waiting batch gets a slice before
// the same one runs again (docs/architecture.md, "Fair turns").
//
// Work that ends within one slice (every single request, small batches)
// never comes here: the hot path pays one clock read per batch member.

/** Continuous work a batch may do before it lets others have a turn, in ms. */
export const SLICE_MS = 4;

export class Turns {
  readonly #queue: ((() => void) | undefined)[] = [];
  #head = 0;
  #scheduled = false;

  /** Batches waiting for a turn. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /** Resolves at this work's next turn. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.#queue.push(resolve);
      if (!this.#scheduled) this.#schedule();
    });
  }

  #schedule(): void {
    this.#scheduled = true;
    // A timer, not a microtask: the event loop polls I/O before it runs.
    setTimeout(this.#run, 0);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    const resolve = this.#queue[this.#head];
    // The slot must not keep the waiting batch (its requests and replies) alive.
    this.#queue[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    if (this.waiting > 0) this.#schedule();
    resolve?.();
  };
}

/**
 * A bounded number of batches run at once (`mi.max_running_batches`); the
 * others wait in arrival order. Each running batch builds its replies in
 * memory, so this bounds what a flood of batches can hold.
 */
export class Slots {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves once this batch may run; `max` is read now (a reload may change it). */
  acquire(max: number): Promise<void> | undefined {
    if (this.#running < max && this.#waiting.length === 0) {
      this.#running++;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** A batch ended: the next waiting one runs in its slot. */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#running--;
  }
}
