/**
 * @module
 * SqlEngine: read-only SQL over a {@link PageSource} snapshot, in wa-sqlite.
 *
 * - A small pool of wasm instances ("slots", default 2), each used by one
 *   call at a time; the second is only loaded when two calls run at once.
 *   It pays when calls wait on storage: in bench/engine-pool.workerd.ts, 12
 *   concurrent queries on 4 databases with a latency per cold page ran
 *   1.84–1.99× faster on 2 instances than on 1; CPU-bound calls gain nothing
 *   (1.04×: the isolate has one thread). An instance costs 16.6 MiB idle and
 *   at most about its heap limit plus 5 MiB.
 * - Calls wait for a slot in a fair lock (src/sync/fair-lock.ts): FIFO, each
 *   waiter bounded by its own deadline (SQL_TIMEOUT), at most `maxQueued`
 *   waiters (ENGINE_BUSY). No promise is shared between calls, so a
 *   cancelled request never wedges the ones behind it; a holder that stalls
 *   past its deadline plus a grace period (its request was cancelled
 *   mid-await) loses its slot, and its instance is discarded.
 * - Instances are created inside the lock by the first holder of a slot, so
 *   {@link SqlEngine.createLazy} is synchronous and no creation promise is
 *   ever shared.
 * - Guards per call: a VM-step budget (SQL_CPU_LIMIT; needs no clock), the
 *   deadline (SQL_TIMEOUT), rows and result bytes; per instance: a SQLite
 *   heap limit (SQL_MEMORY_LIMIT). wasm memory never shrinks, so
 *   `resetBytes` is the budget of the whole pool: an instance past its share
 *   (resetBytes / instances) is replaced after its call.
 * - Read-only three times over: SQLITE_OPEN_READONLY, an authorizer
 *   allowlist, and sqlite3_stmt_readonly(); the VFS refuses writes as well.
 * - Errors: a PageSource error is rethrown as is; everything else is a
 *   {@link SqlError} with a stable code. A wasm trap discards the instance:
 *   SQL_TOO_COMPLEX for a stack overflow (the statement's fault, never worth
 *   a retry), else SQL_ENGINE_RESET; the next call gets a fresh instance.
 */

import { Grant, FairLock } from "../sync/fair-lock.ts";
import { assertPageSourceShape, type PageSource } from "../vfs/page-source.ts";
import { chooseBuild, type SqliteBuild, type SqliteWasmProvider } from "../vfs/sqlite-module.ts";
import { SqlError } from "./errors.ts";
import { newExecContext } from "./exec-guards.ts";
import { EngineInstance } from "./instance.ts";
import type { ExecLimits, ExecResult, StatementInput } from "./types.ts";

export { SqlError, type SqlErrorCode } from "./errors.ts";
export type { ExecLimits, ExecResult, ExecStats, SqlParam, SqlValue, StatementInput, StatementResult } from "./types.ts";

const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_MAX_QUEUED = 32;
const DEFAULT_INSTANCES = 2;
/** Default SQLite heap per instance: with the default reset size, engine + caches + index fit 128 MB. */
export const DEFAULT_HEAP_LIMIT_BYTES = 24 * 1024 * 1024;
export const DEFAULT_RESET_BYTES = 48 * 1024 * 1024;
/** How long past its deadline a holder may keep its slot before it is presumed dead (longer than any storage read may take). */
const DEFAULT_STALL_GRACE_MS = 10_000;
/** Deadline of the warm-up in {@link SqlEngine.create}. */
const WARM_UP_MS = 60_000;
const MAX_DB_NAME_LENGTH = 256;

export interface SqlEngineOptions {
  /** Force a wa-sqlite build (tests); default: JSPI when available, else Asyncify. */
  build?: SqliteBuild;
  /** Open connections kept per instance (LRU); they share a quarter of the heap as page cache. */
  maxConnections?: number;
  /** Where wa-sqlite's loader and wasm come from; default: the workerd provider (the CLI passes a Node one). */
  wasm?: SqliteWasmProvider;
  /** SQLite hard heap limit per instance, bytes (SQL_MEMORY_LIMIT beyond). Default 24 MiB. */
  heapLimitBytes?: number;
  /** wasm memory budget of all instances, bytes: one past its share (resetBytes / instances) is replaced after its call. Default 48 MiB. */
  resetBytes?: number;
  /** wasm instances (each a slot of the lock), loaded on first use. Default 2. */
  instances?: number;
  /** Grace past a holder's deadline before its slot is taken back, ms. Default 10 s. */
  stallGraceMs?: number;
}

function validateDbName(dbName: string): void {
  if (typeof dbName !== "string" || dbName.length === 0 || dbName.length > MAX_DB_NAME_LENGTH) {
    throw new RangeError(`database name must be a string of 1..${MAX_DB_NAME_LENGTH} characters`);
  }
  // ":memory:" and "" bypass the VFS; "file:" would be URI syntax; NUL truncates in C.
  if (dbName === ":memory:" || dbName.startsWith("file:") || dbName.includes("\0")) {
    throw new RangeError(`invalid database name ${JSON.stringify(dbName)}`);
  }
}

function validateLimits(limits: ExecLimits): void {
  for (const key of ["maxRows", "maxResultBytes", "timeoutMs"] as const) {
    const v = limits[key];
    if (typeof v !== "number" || !(v >= 0)) throw new RangeError(`limits.${key} must be a non-negative number`);
  }
  for (const key of ["maxVmSteps", "maxQueued"] as const) {
    const v = limits[key];
    if (v !== undefined && (typeof v !== "number" || !(v >= 0))) throw new RangeError(`limits.${key} must be a non-negative number`);
  }
  if (limits.deadline !== undefined && (typeof limits.deadline !== "number" || Number.isNaN(limits.deadline))) {
    throw new RangeError("limits.deadline must be a time in ms since the epoch");
  }
}

export class SqlEngine {
  readonly build: SqliteBuild;
  readonly #wasm: SqliteWasmProvider | undefined;
  readonly #maxConnections: number;
  readonly #heapLimitBytes: number;
  /** Per instance: the pool's budget divided by its size. */
  readonly #resetBytes: number;
  readonly #graceMs: number;
  readonly #lock: FairLock;
  /** The instance of each slot; null until its first holder creates it, or after it was discarded. */
  readonly #slots: (EngineInstance | null)[];
  /** The grant using each slot's instance right now (set by the holder, cleared by it if still its own). */
  readonly #users: (Grant | null)[];
  #generation = 0;
  #resets = 0;
  #replacements = 0;
  #abandoned = 0;

  private constructor(options: SqlEngineOptions) {
    this.build = chooseBuild(options.build);
    this.#wasm = options.wasm;
    this.#maxConnections = Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.#heapLimitBytes = options.heapLimitBytes ?? DEFAULT_HEAP_LIMIT_BYTES;
    const slots = Math.max(1, Math.floor(options.instances ?? DEFAULT_INSTANCES));
    this.#resetBytes = (options.resetBytes ?? DEFAULT_RESET_BYTES) / slots;
    this.#graceMs = options.stallGraceMs ?? DEFAULT_STALL_GRACE_MS;
    this.#slots = Array.from({ length: slots }, () => null);
    this.#users = Array.from({ length: slots }, () => null);
    this.#lock = new FairLock(slots, (slot) => this.#onAbandon(slot));
  }

  /** An engine whose instances are created by their first caller, inside the lock (synchronous: nothing to share). */
  static createLazy(options: SqlEngineOptions = {}): SqlEngine {
    return new SqlEngine(options);
  }

  /** An engine with its first instance loaded, so load errors surface here. */
  static async create(options: SqlEngineOptions = {}): Promise<SqlEngine> {
    const engine = new SqlEngine(options);
    const deadline = Date.now() + WARM_UP_MS;
    const grant = await engine.#acquire(deadline, 0);
    try {
      await engine.#instanceFor(grant);
    } finally {
      grant.release();
    }
    return engine;
  }

  /** Instances thrown away after a wasm trap (stack overflow included). */
  get resets(): number {
    return this.#resets;
  }

  /** Instances replaced because their wasm memory grew past `resetBytes`. */
  get replacements(): number {
    return this.#replacements;
  }

  /** Holders presumed dead (stalled past deadline + grace) whose slot was taken back. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** wasm memory of the live instances, bytes. */
  get memoryBytes(): number {
    return this.#slots.reduce((n, inst) => n + (inst?.memoryBytes ?? 0), 0);
  }

  /** Calls holding or waiting for the engine. */
  get queueLength(): number {
    return this.#lock.held + this.#lock.waiting;
  }

  /** Runs every statement against the same PageSource (one snapshot), serialized with other calls on its instance. */
  async execute(dbName: string, source: PageSource, statements: StatementInput[], limits: ExecLimits): Promise<ExecResult> {
    validateDbName(dbName);
    assertPageSourceShape(source);
    validateLimits(limits);
    if (!Array.isArray(statements) || statements.some((s) => typeof s?.sql !== "string")) {
      throw new TypeError("statements must be an array of { sql: string, params? }");
    }
    const deadline = limits.deadline ?? Date.now() + limits.timeoutMs;
    const grant = await this.#acquire(deadline, limits.maxQueued ?? DEFAULT_MAX_QUEUED);
    try {
      const inst = await this.#instanceFor(grant);
      this.#users[grant.slot] = grant;
      try {
        return await inst.run(dbName, source, statements, newExecContext(limits, deadline, this.#heapLimitBytes));
      } finally {
        if (this.#users[grant.slot] === grant) this.#users[grant.slot] = null;
        this.#afterCall(grant.slot, inst);
      }
    } finally {
      grant.release();
    }
  }

  #acquire(deadline: number, maxQueued: number): Promise<Grant> {
    return this.#lock.acquire({
      deadline,
      staleAt: deadline + this.#graceMs,
      maxQueued,
      onTimeout: () => new SqlError("SQL_TIMEOUT", "query timed out waiting for the engine (other queries held it until the deadline)"),
      onBusy: () => new SqlError("ENGINE_BUSY", `the engine is busy: ${maxQueued} queries are already waiting; retry shortly`),
    });
  }

  /** The slot's instance, created by this holder if there is none. */
  async #instanceFor(grant: Grant): Promise<EngineInstance> {
    const existing = this.#slots[grant.slot];
    if (existing) return existing;
    const inst = await EngineInstance.create(
      { build: this.build, wasm: this.#wasm, heapLimitBytes: this.#heapLimitBytes, maxConnections: this.#maxConnections },
      ++this.#generation,
    );
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
    } else if (inst.memoryBytes > this.#resetBytes) {
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
