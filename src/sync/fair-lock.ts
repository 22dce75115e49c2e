/**
 * @module
 * A fair lock over a few interchangeable slots (the engine's wasm
 * instances), safe against requests that never come back.
 *
 * Built on {@link WaitQueue}: every waiter owns its promise and its timers
 * (created in its own request), and the releaser hands its slot straight to
 * the oldest live waiter by resolving that waiter's promise with a fresh
 * {@link Grant}. No promise is shared between requests, so a cancelled
 * request can never wedge the ones queued behind it.
 *
 * Invariants:
 * - a slot is held by at most one live grant; `#holds[slot]` is that grant
 *   (or null when the slot is free and nobody waits);
 * - only the current grant of a slot can release it: a released or
 *   abandoned grant's `release()` does nothing;
 * - a grant past its `staleAt` (the holder's own deadline plus a grace
 *   period; for a grant not yet picked up, the hand-over time plus the grace)
 *   is presumed dead — its request was cancelled mid-await. The first waiter
 *   (or newcomer) to notice marks it abandoned, tells the owner through
 *   `onAbandon(slot)` (which discards whatever the dead holder may have left
 *   mid-stack) and hands the slot on as a normal release would;
 * - the queue is bounded: a newcomer finding `maxQueued` waiters is refused
 *   at once.
 */

import { WaitQueue } from "./wait-queue.ts";

/** The right to use one slot until {@link Grant.release}. */
export class Grant {
  readonly slot: number;
  /** When this grant may be presumed dead (ms since the epoch). */
  staleAt: number;
  #done = false;
  #abandoned = false;
  readonly #onRelease: (grant: Grant) => void;

  constructor(slot: number, staleAt: number, onRelease: (grant: Grant) => void) {
    this.slot = slot;
    this.staleAt = staleAt;
    this.#onRelease = onRelease;
  }

  /** True once another caller took the slot over because this grant stalled. */
  get abandoned(): boolean {
    return this.#abandoned;
  }

  /** True while this grant still owns its slot. */
  get live(): boolean {
    return !this.#done;
  }

  /** Gives the slot to the next waiter. Idempotent; a no-op after abandonment. */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onRelease(this);
  }

  /** Called by the lock only. */
  markAbandoned(): void {
    this.#done = true;
    this.#abandoned = true;
  }
}

export interface AcquireOptions {
  /** Give up waiting at this time (ms since the epoch). */
  deadline: number;
  /** Once granted, the grant is presumed dead after this time (ms since the epoch). */
  staleAt: number;
  /** Waiters allowed in the queue; a newcomer beyond them gets `onBusy()`. */
  maxQueued: number;
  /** The rejection when the deadline passes while waiting. */
  onTimeout(): unknown;
  /** The rejection when the queue is full. */
  onBusy(): unknown;
}

export class FairLock {
  readonly #holds: (Grant | null)[];
  readonly #queue = new WaitQueue<Grant>();
  readonly #graceMs: number;
  readonly #onAbandon: (slot: number) => void;

  /**
   * @param slots how many holders may hold at once (each gets its own slot)
   * @param graceMs how long a handed-over grant may take to be picked up before it is presumed dead
   * @param onAbandon called (synchronously) when a stalled grant's slot is taken back
   */
  constructor(slots: number, graceMs: number, onAbandon: (slot: number) => void) {
    this.#holds = Array.from({ length: Math.max(1, slots) }, () => null);
    this.#graceMs = graceMs;
    this.#onAbandon = onAbandon;
  }

  /** Slots in use. */
  get held(): number {
    return this.#holds.filter((h) => h !== null).length;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves with a grant for a free slot; FIFO among waiters. */
  async acquire(options: AcquireOptions): Promise<Grant> {
    this.#reclaimStale(Date.now());
    const free = this.#queue.length === 0 ? this.#holds.indexOf(null) : -1;
    if (free >= 0) {
      const grant = this.#newGrant(free, options.staleAt);
      this.#holds[free] = grant;
      return grant;
    }
    if (this.#queue.length >= options.maxQueued) throw options.onBusy();
    let check: ReturnType<typeof setTimeout> | null = null;
    const arm = (): void => {
      const at = this.#nextStaleAt();
      if (!Number.isFinite(at)) return;
      // This waiter's own timer: a stalled holder is noticed even when nobody releases.
      check = setTimeout(() => {
        check = null;
        this.#reclaimStale(Date.now());
        arm();
      }, Math.max(0, at - Date.now()));
    };
    arm();
    try {
      const grant = await this.#queue.wait(options.deadline, options.onTimeout);
      grant.staleAt = options.staleAt;
      return grant;
    } finally {
      if (check !== null) clearTimeout(check);
    }
  }

  #newGrant(slot: number, staleAt: number): Grant {
    return new Grant(slot, staleAt, (g) => this.#release(g));
  }

  #release(grant: Grant): void {
    if (this.#holds[grant.slot] !== grant) return;
    this.#handOver(grant.slot);
  }

  /** Gives `slot` to the oldest waiter, or frees it. */
  #handOver(slot: number): void {
    // Until the waiter picks it up (and sets its own), the grace bounds how long a dead waiter can keep the slot.
    const next = this.#newGrant(slot, Date.now() + this.#graceMs);
    this.#holds[slot] = next;
    if (!this.#queue.wakeOne(next)) this.#holds[slot] = null;
  }

  #nextStaleAt(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const h of this.#holds) if (h !== null && h.staleAt < at) at = h.staleAt;
    return at;
  }

  #reclaimStale(now: number): void {
    for (const [slot, h] of this.#holds.entries()) {
      if (h === null || now < h.staleAt) continue;
      h.markAbandoned();
      this.#onAbandon(slot);
      this.#handOver(slot);
    }
  }
}
