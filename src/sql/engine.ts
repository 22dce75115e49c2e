/**
 * @module
 * SqlEngine: read-only SQL over a {@link PageSource} snapshot, in wa-sqlite.
 *
 * - Fast lane (option `fastLane`): a call first runs on an instance of the
 *   synchronous build over a memory-only VFS. Every page in memory (the
 *   isolate-warm case), it never suspends and runs at the speed of wa-sqlite
 *   over an in-memory database, whatever the suspending build costs. The
 *   first page not in memory ends the attempt (nothing of it is kept:
 *   results are only returned whole) and the call runs again on the main
 *   lane, which awaits storage. A busy fast lane is skipped, never waited
 *   for, so a warm query never queues behind a cold one. The repeat runs
 *   with a fresh step budget: a call's CPU is at most twice its budget.
 * - Main lane: a small pool of wasm instances of a suspending build (JSPI or
 *   Asyncify; "slots", default 2, 1 with a fast lane), each used by one
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

import { FastLaneMiss, LaneUnavailable, SqlError } from "./errors.ts";
import type { PageSource } from "../vfs/page-source.ts";
import { assertPageSourceShape } from "../vfs/page-source.ts";
import { chooseBuild, type SqliteBuild, type SqliteWasmProvider } from "../vfs/sqlite-module.ts";
import { Lane } from "./lane.ts";
import type { ExecLimits, ExecResult, StatementInput } from "./types.ts";

export { SqlError, type SqlErrorCode } from "./errors.ts";
export type { ExecLimits, ExecResult, ExecStats, SqlParam, SqlValue, StatementInput, StatementResult } from "./types.ts";

const DEFAULT_MAX_CONNECTIONS = 4;
const DEFAULT_MAX_QUEUED = 32;
/** Default SQLite heap per instance: with the default reset size, engine + caches + index fit 128 MB. */
export const DEFAULT_HEAP_LIMIT_BYTES = 24 * 1024 * 1024;
export const DEFAULT_RESET_BYTES = 48 * 1024 * 1024;
/** How long past its deadline a holder may keep its slot before it is presumed dead (longer than any storage read may take). */
const DEFAULT_STALL_GRACE_MS = 10_000;
/** Deadline of the warm-up in {@link SqlEngine.create}. */
const WARM_UP_MS = 60_000;
const MAX_DB_NAME_LENGTH = 256;
/** How long the fast lane is left out after its build failed to load, ms (a back-off, not a guard). */
const FAST_LANE_BACKOFF_MS = 60_000;

export interface SqlEngineOptions {
  /** Force the main lane's build (tests); default: JSPI when available, else Asyncify. */
  build?: Exclude<SqliteBuild, "sync">;
  /** Run calls on the synchronous build first (see the module notes). Default off; the Worker turns it on. */
  fastLane?: boolean;
  /** Open connections kept per instance (LRU); they share a quarter of the heap as page cache. */
  maxConnections?: number;
  /** Where wa-sqlite's loader and wasm come from; default: the workerd provider (the CLI passes a Node one). */
  wasm?: SqliteWasmProvider;
  /** SQLite hard heap limit per instance, bytes (SQL_MEMORY_LIMIT beyond). Default 24 MiB. */
  heapLimitBytes?: number;
  /** wasm memory budget of all instances (fast lane included), bytes: one past its share is replaced after its call. Default 48 MiB. */
  resetBytes?: number;
  /** Main-lane wasm instances (each a slot of the lock), loaded on first use. Default 2, or 1 with a fast lane. */
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
  /** The main lane's (suspending) build. */
  readonly build: SqliteBuild;
  readonly #main: Lane;
  readonly #fast: Lane | null;
  #fastHits = 0;
  #fastMisses = 0;
  /** The fast lane is skipped until then (its build failed to load). */
  #fastOffUntil = 0;

  private constructor(options: SqlEngineOptions) {
    if ((options.build as SqliteBuild | undefined) === "sync") {
      throw new RangeError('the main lane needs a build that can suspend; the "sync" build is the fast lane\'s (fastLane: true)');
    }
    this.build = chooseBuild(options.build);
    const fast = options.fastLane === true;
    const instances = Math.max(1, Math.floor(options.instances ?? (fast ? 1 : 2)));
    const shared = {
      wasm: options.wasm,
      heapLimitBytes: options.heapLimitBytes ?? DEFAULT_HEAP_LIMIT_BYTES,
      maxConnections: Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS),
      // One budget for every instance of both lanes.
      resetBytes: (options.resetBytes ?? DEFAULT_RESET_BYTES) / (instances + (fast ? 1 : 0)),
      stallGraceMs: options.stallGraceMs ?? DEFAULT_STALL_GRACE_MS,
    };
    this.#main = new Lane({ ...shared, build: this.build, instances });
    this.#fast = fast ? new Lane({ ...shared, build: "sync", instances: 1 }) : null;
  }

  /** An engine whose instances are created by their first caller, inside the lock (synchronous: nothing to share). */
  static createLazy(options: SqlEngineOptions = {}): SqlEngine {
    return new SqlEngine(options);
  }

  /** An engine with its first instance(s) loaded, so load errors surface here. */
  static async create(options: SqlEngineOptions = {}): Promise<SqlEngine> {
    const engine = new SqlEngine(options);
    const deadline = Date.now() + WARM_UP_MS;
    await engine.#main.warmUp(deadline);
    await engine.#fast?.warmUp(deadline);
    return engine;
  }

  /** True when calls try the fast lane first. */
  get fastLane(): boolean {
    return this.#fast !== null;
  }

  /** Calls answered by the fast lane / run again on the main lane after a miss there. */
  get fastLaneStats(): { hits: number; misses: number } {
    return { hits: this.#fastHits, misses: this.#fastMisses };
  }

  /** Instances thrown away after a wasm trap (stack overflow included). */
  get resets(): number {
    return this.#main.resets + (this.#fast?.resets ?? 0);
  }

  /** Instances replaced because their wasm memory grew past their share of `resetBytes`. */
  get replacements(): number {
    return this.#main.replacements + (this.#fast?.replacements ?? 0);
  }

  /** Holders presumed dead (stalled past deadline + grace) whose slot was taken back. */
  get abandoned(): number {
    return this.#main.abandoned + (this.#fast?.abandoned ?? 0);
  }

  /** wasm memory of the live instances, bytes. */
  get memoryBytes(): number {
    return this.#main.memoryBytes + (this.#fast?.memoryBytes ?? 0);
  }

  /** Calls holding or waiting for the engine. */
  get queueLength(): number {
    return this.#main.queueLength + (this.#fast?.queueLength ?? 0);
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
    let lane: "main" | "fallback" = "main";
    // Without pageIfReady nothing is ever "in memory": the fast lane could only miss.
    if (this.#fast !== null && source.pageIfReady !== undefined && Date.now() >= this.#fastOffUntil) {
      try {
        const fast = await this.#fast.run(dbName, source, statements, limits, deadline, { maxQueued: 0, skipIfBusy: true });
        if (fast !== null) {
          this.#fastHits++;
          return { results: fast.results, stats: { ...fast.stats, lane: "fast" } };
        }
      } catch (error) {
        // The main lane answers whenever the fast lane cannot: a page not in memory, its build
        // not loading (then it is left out for a while), or a trap in it (its instance is gone).
        if (error instanceof LaneUnavailable) this.#fastOffUntil = Date.now() + FAST_LANE_BACKOFF_MS;
        else if (!(error instanceof FastLaneMiss) && !(error instanceof SqlError && error.code === "SQL_ENGINE_RESET")) throw error;
        this.#fastMisses++;
        lane = "fallback";
      }
    }
    const result = await this.#main.run(dbName, source, statements, limits, deadline, { maxQueued: limits.maxQueued ?? DEFAULT_MAX_QUEUED }).catch((error: unknown) => {
      throw error instanceof LaneUnavailable ? error.cause : error;
    });
    // Only a fast-lane call may skip; the main lane waits or throws.
    if (result === null) throw new Error("main lane returned no result");
    return { results: result.results, stats: { ...result.stats, lane } };
  }
}
