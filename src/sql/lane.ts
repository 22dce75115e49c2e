/**
 * @module
 * Lane: a pool of wa-sqlite instances of one build behind a fair lock
 * (src/sync/fair-lock.ts). The engine has a lane of a suspending build
 * (JSPI or Asyncify) for reads that wait on storage, and may have a fast lane
 * of the synchronous build for reads served from memory (src/sql/engine.ts).
 *
 * Invariants (who may touch what):
 * - a slot's instance is used by the live grant of that slot only; instances
 *   are created inside the lock by the first holder of a slot, so nothing
 *   about their creation is shared between requests;
 * - only the holder that used an instance may drop it after its call
 *   ({@link Lane.#afterCall}); the lock's onAbandon drops the instance of a
 *   holder presumed dead (it may be suspended mid-stack);
 * - wasm memory never shrinks: an instance past `resetBytes` is replaced
 *   after its call, a trapped one at once.
 */

import { Grant, FairLock } from "../sync/fair-lock.ts";
import type { PageSource } from "../vfs/page-source.ts";
import type { SqliteBuild, SqliteWasmProvider } from "../vfs/sqlite-module.ts";
import { LaneUnavailable, SqlError } from "./errors.ts";
import { newExecContext } from "./exec-guards.ts";
import { EngineInstance } from "./instance.ts";
import type { ExecLimits, ExecResult, StatementInput } from "./types.ts";

export interface LaneOptions {
  build: SqliteBuild;
  wasm: SqliteWasmProvider | undefined;
  heapLimitBytes: number;
  maxConnections: number;
  /** Instances (slots of the lock), each loaded on first use. */
  instances: number;
  /** wasm memory an instance may keep after a call, bytes. */
  resetBytes: number;
  /** Grace past a holder's deadline before its slot is taken back, ms. */
  stallGraceMs: number;
}

/** Thrown by {@link Lane.run} with `onBusy: "skip"` when every instance is in use. */
const BUSY = Symbol("lane busy");

export class Lane {
  readonly build: SqliteBuild;
  readonly #options: LaneOptions;
  readonly #lock: FairLock;
  /** The instance of each slot; null until its first holder creates it, or after it was discarded. */
  readonly #slots: (EngineInstance | null)[];
  /** The grant using each slot's instance right now (set by the holder, cleared by it if still its own). */
  readonly #users: (Grant | null)[];
  #generation = 0;
  #resets = 0;
  #replacements = 0;
  #abandoned = 0;

  constructor(options: LaneOptions) {
    this.build = options.build;
    this.#options = options;
    const slots = Math.max(1, Math.floor(options.instances));
    this.#slots = Array.from({ length: slots }, () => null);
    this.#users = Array.from({ length: slots }, () => null);
    this.#lock = new FairLock(slots, (slot) => this.#onAbandon(slot));
  }

  /** Instances thrown away after a wasm trap. */
  get resets(): number {
    return this.#resets;
  }

  /** Instances replaced because their wasm memory grew past `resetBytes`. */
  get replacements(): number {
    return this.#replacements;
  }

  /** Holders presumed dead whose slot was taken back. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** wasm memory of the live instances, bytes. */
  get memoryBytes(): number {
    return this.#slots.reduce((n, inst) => n + (inst?.memoryBytes ?? 0), 0);
  }

  /** Calls holding or waiting for an instance. */
  get queueLength(): number {
    return this.#lock.held + this.#lock.waiting;
  }

  /** Loads the first instance, so load errors surface early. */
  async warmUp(deadline: number): Promise<void> {
    const grant = await this.#acquire(deadline, 0);
    try {
      await this.#instanceFor(grant);
    } finally {
      grant.release();
    }
  }

  /**
   * Runs the statements on an instance of this lane. `maxQueued` bounds the
   * waiters (ENGINE_BUSY beyond); with `skipIfBusy` a call finding every
   * instance in use returns null at once instead of waiting.
   */
  async run(
    dbName: string,
    source: PageSource,
    statements: StatementInput[],
    limits: ExecLimits,
    deadline: number,
    queue: { maxQueued: number; skipIfBusy?: boolean },
  ): Promise<ExecResult | null> {
    let grant: Grant;
    try {
      grant = await this.#acquire(deadline, queue.skipIfBusy ? 0 : queue.maxQueued, queue.skipIfBusy);
    } catch (error) {
      if (error === BUSY) return null;
      throw error;
    }
    try {
      let inst: EngineInstance;
      try {
        inst = await this.#instanceFor(grant);
      } catch (error) {
        throw error instanceof SqlError ? error : new LaneUnavailable(this.build, error);
      }
      this.#users[grant.slot] = grant;
      try {
        return await inst.run(dbName, source, statements, newExecContext(limits, deadline, this.#options.heapLimitBytes));
      } finally {
        if (this.#users[grant.slot] === grant) this.#users[grant.slot] = null;
        this.#afterCall(grant.slot, inst);
      }
    } finally {
      grant.release();
    }
  }

  #acquire(deadline: number, maxQueued: number, skipIfBusy = false): Promise<Grant> {
    return this.#lock.acquire({
      deadline,
      staleAt: deadline + this.#options.stallGraceMs,
      maxQueued,
      onTimeout: () => new SqlError("SQL_TIMEOUT", "query timed out waiting for the engine (other queries held it until the deadline)"),
      onBusy: () =>
        skipIfBusy ? BUSY : new SqlError("ENGINE_BUSY", `the engine is busy: ${maxQueued} queries are already waiting; retry shortly`),
    });
  }

  /** The slot's instance, created by this holder if there is none. */
  async #instanceFor(grant: Grant): Promise<EngineInstance> {
    const existing = this.#slots[grant.slot];
    if (existing) return existing;
    const { build, wasm, heapLimitBytes, maxConnections } = this.#options;
    const inst = await EngineInstance.create({ build, wasm, heapLimitBytes, maxConnections }, ++this.#generation);
    // A holder that stalled while loading lost its slot: its instance must not replace the new holder's.
    if (!grant.live) throw new SqlError("SQL_TIMEOUT", "query timed out while the engine was loading");
    this.#slots[grant.slot] = inst;
    return inst;
  }

  /** After a call: drop a trapped instance, or one whose memory grew too big. Only ever the caller's own. */
  #afterCall(slot: number, inst: EngineInstance): void {
    if (this.#slots[slot] !== inst) return;
    if (inst.broken !== null) {
      this.#slots[slot] = null;
      this.#resets++;
    } else if (inst.memoryBytes > this.#options.resetBytes) {
      this.#slots[slot] = null;
      this.#replacements++;
    }
  }

  /** The lock took a stalled holder's slot back: its instance may be suspended mid-stack, so it goes. */
  #onAbandon(slot: number): void {
    if (this.#users[slot] === null) return;
    this.#users[slot] = null;
    this.#slots[slot] = null;
    this.#abandoned++;
  }
}
