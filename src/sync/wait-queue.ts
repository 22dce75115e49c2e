/**
 * @module
 * Waiting for work another request does, without ever continuing a promise
 * that another request created.
 *
 * workerd ties every promise to the request (IoContext) that created it. If
 * request A creates a promise and request B awaits it, B is only woken while
 * A is alive: when A is cancelled (the client went away) or finishes, the
 * continuation is dropped and B waits forever. So nothing shared between
 * requests may be a promise. Instead each waiter creates its *own* promise
 * (in its own request), keeps its own timer, and registers its resolver
 * here; whoever finishes the work hands the result over by calling that
 * resolver — workerd schedules the continuation back into the waiter's own
 * request. If the worker never finishes (its request was cancelled mid-way),
 * every waiter still ends at its own deadline.
 *
 * Caveat, measured on workerd 2026-04-26 (test/workers/engine-requests.test.ts
 * fails with a lock built on this class): calling a waiter's resolver from
 * *another* request throws "Cannot perform I/O on behalf of a different
 * request" there, and the waiter's request hangs; clearing the waiter's timer
 * from another request breaks its promise ("Promise will never complete").
 * Hand-overs between requests therefore only work inside one request (or
 * one Durable Object). The engine's lock (fair-lock.ts) hands over plain data
 * and lets each waiter wake on its own timer or on a promise the releaser
 * itself created and resolves.
 *
 * Invariants:
 * - a waiter is settled exactly once: by a hand-over, a failure, or its timer;
 * - a settled waiter is no longer in the queue, so a hand-over only ever
 *   reaches a live waiter (`wakeOne` returns false when there is none).
 */

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout> | null;
}

export class WaitQueue<T> {
  readonly #waiters: Waiter<T>[] = [];

  /** Waiters not yet settled. */
  get length(): number {
    return this.#waiters.length;
  }

  /**
   * Waits for a hand-over until `deadline` (ms since the epoch; Infinity for
   * none). At the deadline the promise rejects with `onTimeout()`.
   */
  wait(deadline: number, onTimeout: () => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject, timer: null };
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        reject(onTimeout());
        return;
      }
      if (Number.isFinite(remaining)) {
        waiter.timer = setTimeout(() => {
          if (this.#remove(waiter)) reject(onTimeout());
        }, remaining);
      }
      this.#waiters.push(waiter);
    });
  }

  /** Hands `value` to the oldest waiter. False when nobody waits. */
  wakeOne(value: T): boolean {
    const w = this.#waiters.shift();
    if (!w) return false;
    if (w.timer !== null) clearTimeout(w.timer);
    w.resolve(value);
    return true;
  }

  /** Hands `value` to every waiter; returns how many. */
  wakeAll(value: T): number {
    let n = 0;
    while (this.wakeOne(value)) n++;
    return n;
  }

  /** Rejects every waiter with `error`; returns how many. */
  failAll(error: unknown): number {
    let n = 0;
    for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(error);
      n++;
    }
    return n;
  }

  #remove(w: Waiter<T>): boolean {
    const i = this.#waiters.indexOf(w);
    if (i < 0) return false;
    this.#waiters.splice(i, 1);
    return true;
  }
}
