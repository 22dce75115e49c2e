/**
 * @module
 * A FIFO promise mutex. wa-sqlite is not re-entrant (Asyncify and JSPI both
 * keep the C stack in shared linear memory), so every open/prepare/step/close
 * on one module instance must run under one of these.
 */

export class PromiseMutex {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  /** Number of callers holding or waiting for the lock. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Runs `fn` after every previously queued `fn` has settled (FIFO). A failure
   * of one holder never blocks the next.
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => {
        this.#pending--;
      },
      () => {
        this.#pending--;
      },
    );
    return result;
  }
}
