// Counts work in progress and wakes whoever waits for it to end: the core's
// asynchronous commands (for `mi.max_concurrent` and the shutdown drain), a
// datagram listener's replies still to be sent, the HTTP requests being
// answered, the FIFO requests waiting for their clients. One implementation
// for all of them, so a graceful stop means the same thing everywhere
// (docs/architecture.md, "Stopping").

export class InFlight {
  #n = 0;
  #idle: (() => void)[] = [];

  /** How much work is in progress now. */
  get count(): number {
    return this.#n;
  }

  /** One more piece of work started; call `end` once it is over. */
  begin(): void {
    this.#n++;
  }

  /** One piece of work ended. Bound, so it can be handed to `finally` as it is. */
  readonly end = (): void => {
    if (--this.#n === 0 && this.#idle.length > 0) {
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
  };

  /** Counts `p` until it settles; returns a promise that settles with it and never rejects. */
  track(p: Promise<unknown>): Promise<void> {
    this.#n++;
    return p.then(this.end, this.end);
  }

  /**
   * Resolves once nothing is in progress, or when `timeoutMs` pass, with how
   * much is still in progress then (0 when it went idle).
   */
  idle(timeoutMs = Infinity): Promise<number> {
    if (this.#n === 0) return Promise.resolve(0);
    if (timeoutMs <= 0) return Promise.resolve(this.#n);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        resolve(this.#n);
      };
      this.#idle.push(done);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          this.#idle = this.#idle.filter((f) => f !== done);
          resolve(this.#n);
        }, timeoutMs);
      }
    });
  }
}
