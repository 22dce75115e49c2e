/**
 * @module
 * Waiting for work another request does, without any promise crossing
 * from one request to another.
 *
 * workerd ties every promise to the request (IoContext) that created it.
 * Awaiting a promise another request created stalls forever once that
 * request is cancelled (its continuations are dropped), and resolving a
 * promise another request created is refused outright in some runtimes
 * ("Cannot perform I/O on behalf of a different request", seen in
 * vitest-pool-workers). So requests share only plain data here: a waiter
 * owns a slot and its own promise and timers, and polls its slot; whoever
 * finishes the work writes the result into the slot. The poll starts at
 * 1 ms and backs off to {@link MAX_POLL_MS}, so a hand-over costs at most a
 * few milliseconds. If the worker never finishes (its request was cancelled
 * mid-way), every waiter still ends at its own deadline.
 *
 * Invariants:
 * - a slot is settled exactly once: by a hand-over, a failure, or its deadline;
 * - a settled slot is no longer queued, so a hand-over only ever reaches a
 *   live waiter (`wakeOne` returns false when there is none).
 */

/** Longest pause between two looks at a slot. */
export const MAX_POLL_MS = 8;

type Slot<T> = { state: "waiting" } | { state: "woken"; value: T } | { state: "failed"; error: unknown };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class WaitQueue<T> {
  readonly #waiters: { slot: Slot<T> }[] = [];

  /** Waiters not yet settled. */
  get length(): number {
    return this.#waiters.length;
  }

  /**
   * Waits for a hand-over until `deadline` (ms since the epoch; Infinity for
   * none). At the deadline the promise rejects with `onTimeout()`.
   */
  async wait(deadline: number, onTimeout: () => unknown): Promise<T> {
    const w: { slot: Slot<T> } = { slot: { state: "waiting" } };
    this.#waiters.push(w);
    let pause = 1;
    for (;;) {
      const s = w.slot;
      if (s.state === "woken") return s.value;
      if (s.state === "failed") throw s.error;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#remove(w);
        throw onTimeout();
      }
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }

  /** Hands `value` to the oldest waiter. False when nobody waits. */
  wakeOne(value: T): boolean {
    const w = this.#waiters.shift();
    if (!w) return false;
    w.slot = { state: "woken", value };
    return true;
  }

  /** Hands `value` to every waiter; returns how many. */
  wakeAll(value: T): number {
    let n = 0;
    while (this.wakeOne(value)) n++;
    return n;
  }

  /** Fails every waiter with `error`; returns how many. */
  failAll(error: unknown): number {
    let n = 0;
    for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) {
      w.slot = { state: "failed", error };
      n++;
    }
    return n;
  }

  #remove(w: { slot: Slot<T> }): void {
    const i = this.#waiters.indexOf(w);
    if (i >= 0) this.#waiters.splice(i, 1);
  }
}
