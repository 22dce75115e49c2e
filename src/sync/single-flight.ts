/**
 * @module
 * One run of some work at a time (one index sync per database, say), shared
 * by everybody who needs its result — without a shared promise.
 *
 * The first caller runs the work in its own request; later callers wait in a
 * {@link WaitQueue} (their own promise, their own deadline) and are handed
 * the result. A run that has gone on longer than `staleMs` is presumed
 * abandoned (its request was cancelled at an await and will never finish):
 * the next caller starts a fresh run instead of waiting for it, and a waiter
 * whose run went stale while it waited starts one itself.
 */
import { WaitQueue } from "./wait-queue.ts";

export class SingleFlight<T> {
  readonly #waiters = new WaitQueue<{ ok: true; value: T } | { ok: false; error: unknown }>();
  readonly #staleMs: number;
  #running: { id: number; startedAt: number } | null = null;
  #seq = 0;

  constructor(staleMs: number) {
    this.#staleMs = staleMs;
  }

  /** True while a run that is not yet presumed abandoned is in progress. */
  get busy(): boolean {
    return this.#running !== null && Date.now() - this.#running.startedAt < this.#staleMs;
  }

  /**
   * The result of the run in progress, or of a new run of `fn` when none is
   * (or the one in progress is stale). Waiting ends at `deadline` (ms since
   * the epoch) with `onTimeout()`.
   */
  async run(fn: () => Promise<T>, deadline: number, onTimeout: () => unknown): Promise<T> {
    for (;;) {
      const r = this.#running;
      if (r === null || Date.now() - r.startedAt >= this.#staleMs) return this.#lead(fn);
      // Wait for that run, but not past the point where it counts as abandoned.
      const giveUpAt = Math.min(deadline, r.startedAt + this.#staleMs);
      let got: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
      try {
        got = await this.#waiters.wait(giveUpAt, () => null);
      } catch {
        if (Date.now() >= deadline) throw onTimeout();
        continue; // the run went stale: lead one ourselves
      }
      if (got.ok) return got.value;
      throw got.error;
    }
  }

  async #lead(fn: () => Promise<T>): Promise<T> {
    const id = ++this.#seq;
    this.#running = { id, startedAt: Date.now() };
    try {
      const value = await fn();
      this.#waiters.wakeAll({ ok: true, value });
      return value;
    } catch (error) {
      // Delivered as a value: a rejected wait means "timed out", which makes the waiter lead.
      this.#waiters.wakeAll({ ok: false, error });
      throw error;
    } finally {
      // A newer run (started because this one looked abandoned) keeps its slot.
      if (this.#running?.id === id) this.#running = null;
    }
  }
}
