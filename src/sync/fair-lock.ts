/**
 * @module
 * A fair lock over a few interchangeable slots (the engine's wasm
 * instances), safe against requests that never come back.
 *
 * workerd ties promises to the request that created them, and measured on
 * this workerd (test/workers/engine-requests.test.ts covers the engine end to
 * end): resolving a promise that *another* request created fails ("Cannot
 * perform I/O on behalf of a different request") and that request hangs;
 * clearing another request's timer breaks its promise ("Promise will never
 * complete"). Awaiting a promise that another, live request creates and
 * resolves itself does work, continuing in the awaiting request. So:
 * - a hand-over is plain data: the releaser writes the next grant into the
 *   oldest waiter's ticket, then resolves the `released` promise *it* created
 *   when it took the slot;
 * - a waiter sleeps on a race of the holders' `released` promises and a
 *   timer of its own (its deadline, the next stale time, or a short backoff
 *   while a fresh grant is not picked up yet), and on waking reads its ticket.
 *   Everything a waiter resolves or clears is its own.
 *
 * Invariants:
 * - a slot is held by at most one live grant; `#holds[slot]` is that grant
 *   (or null when the slot is free and nobody waits);
 * - only the current grant of a slot can release it: a released or
 *   abandoned grant's `release()` hands nothing over;
 * - a grant past its `staleAt` — the holder's own deadline plus a grace; for
 *   a grant not picked up yet, the hand-over time plus PICKUP_GRACE_MS — is
 *   presumed dead (its request was cancelled mid-await). The first waiter or
 *   newcomer to notice marks it abandoned, tells the owner through
 *   `onAbandon(slot)` (which discards whatever the dead holder may have left
 *   mid-stack) and hands the slot on as a release would;
 * - the queue is bounded: a newcomer finding `maxQueued` waiters is refused
 *   at once.
 */

/** How long a handed-over grant may wait to be picked up before it is presumed dead, ms. */
const PICKUP_GRACE_MS = 1_000;
/** Longest sleep between checks while a fresh grant has not been picked up, ms. */
const MAX_BACKOFF_MS = 50;

/** The right to use one slot until {@link Grant.release}. */
export class Grant {
  readonly slot: number;
  /** When this grant may be presumed dead (ms since the epoch). */
  staleAt: number;
  #done = false;
  #abandoned = false;
  /** Created and resolved by the holder only (in its own request). */
  #released: Promise<void> | null = null;
  #resolveReleased: (() => void) | null = null;
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

  /** Resolves when the holder releases; null until the holder picked the grant up. */
  get released(): Promise<void> | null {
    return this.#released;
  }

  /** The holder takes the grant: from now on waiters can sleep on its release. Called in the holder's request. */
  pickUp(staleAt: number): void {
    this.staleAt = staleAt;
    this.#released = new Promise<void>((resolve) => {
      this.#resolveReleased = resolve;
    });
  }

  /** Gives the slot to the next waiter and wakes the waiters. Idempotent; after abandonment it hands nothing over. */
  release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#onRelease(this);
    this.#resolveReleased?.();
  }

  /** Called by the lock only, from another request: nothing of this grant's may be resolved there. */
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

interface Ticket {
  grant: Grant | null;
}

export class FairLock {
  readonly #holds: (Grant | null)[];
  /** Waiters, oldest first. */
  readonly #queue: Ticket[] = [];
  readonly #onAbandon: (slot: number) => void;

  /**
   * @param slots how many holders may hold at once (each gets its own slot)
   * @param onAbandon called (synchronously) when a stalled grant's slot is taken back
   */
  constructor(slots: number, onAbandon: (slot: number) => void) {
    this.#holds = Array.from({ length: Math.max(1, slots) }, () => null);
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
      grant.pickUp(options.staleAt);
      return grant;
    }
    if (this.#queue.length >= options.maxQueued) throw options.onBusy();
    const ticket: Ticket = { grant: null };
    this.#queue.push(ticket);
    try {
      for (let backoff = 1; ; ) {
        // Defensive: a free slot while this ticket is the oldest (slots are normally only freed with nobody waiting).
        const free = this.#queue[0] === ticket ? this.#holds.indexOf(null) : -1;
        if (free >= 0) {
          this.#queue.shift();
          ticket.grant = this.#newGrant(free, options.staleAt);
          this.#holds[free] = ticket.grant;
        }
        if (ticket.grant) {
          ticket.grant.pickUp(options.staleAt);
          return ticket.grant;
        }
        const now = Date.now();
        if (now >= options.deadline) throw options.onTimeout();
        this.#reclaimStale(now);
        if (ticket.grant) continue;
        const pending = this.#holds.some((h) => h !== null && h.released === null);
        const wakeAt = Math.min(options.deadline, this.#nextStaleAt(), pending ? now + backoff : Number.POSITIVE_INFINITY);
        backoff = pending ? Math.min(MAX_BACKOFF_MS, backoff * 2) : 1;
        await this.#sleep(wakeAt - now);
      }
    } finally {
      const i = this.#queue.indexOf(ticket);
      if (i >= 0) this.#queue.splice(i, 1);
      // Granted but given up on (the deadline passed in the same turn): pass it on.
      if (ticket.grant && ticket.grant.released === null) ticket.grant.release();
    }
  }

  /** Until a holder releases or `ms` pass, on this caller's own timer. */
  async #sleep(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const own = new Promise<void>((resolve) => {
      // An unbounded wait has no timer: a release (or nothing) ends it.
      if (Number.isFinite(ms)) timer = setTimeout(resolve, Math.min(2 ** 31 - 1, Math.max(0, ms)));
    });
    const releases = this.#holds.flatMap((h) => (h?.released ? [h.released] : []));
    try {
      await Promise.race([own, ...releases]);
    } finally {
      clearTimeout(timer);
    }
  }

  #newGrant(slot: number, staleAt: number): Grant {
    return new Grant(slot, staleAt, (g) => this.#release(g));
  }

  #release(grant: Grant): void {
    if (this.#holds[grant.slot] === grant) this.#handOver(grant.slot);
  }

  /** Gives `slot` to the oldest waiter (plain data: it reads its ticket when it wakes), or frees it. */
  #handOver(slot: number): void {
    const next = this.#queue.shift();
    if (!next) {
      this.#holds[slot] = null;
      return;
    }
    const grant = this.#newGrant(slot, Date.now() + PICKUP_GRACE_MS);
    next.grant = grant;
    this.#holds[slot] = grant;
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
