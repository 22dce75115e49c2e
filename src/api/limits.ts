/**
 * @module
 * Guards on every request, configurable with the `LIMITS` variable (JSON or
 * object); a request may lower (never raise) some of them per query with a
 * `limits` field.
 */
import { CodedError } from "../errors.ts";
export interface Limits {
  /** Largest request body, bytes. */
  maxBodyBytes: number;
  /** Longest SQL text of one statement, bytes. */
  maxSqlBytes: number;
  /** Most parameters of one statement. */
  maxParams: number;
  /** Most statements in one batch. */
  maxStatements: number;
  /** Most rows in one response (all statements). */
  maxRows: number;
  /** Largest response body (approximate JSON size of all rows), bytes. */
  maxResponseBytes: number;
  /** Time budget of one query or batch once it runs, ms (a runaway query is interrupted). */
  queryTimeoutMs: number;
  /** Storage (R2/S3) requests one query or batch may make. */
  maxStorageRequests: number;
  /** Longest wait for `min_txid`, ms. */
  maxWaitMs: number;
  /** How stale the isolate's copy of the index may get before it asks the DO for a delta, ms. */
  maxStalenessMs: number;
  /** Isolate page cache (decoded pages and raw LTX segments, one budget), bytes. */
  isolateCacheBytes: number;
  /** Index chunks kept per isolate (all databases), bytes. */
  indexCacheBytes: number;
  /**
   * SQLite VM steps (progress-handler ticks × their interval) one query or
   * batch may take; 0 derives it from `queryTimeoutMs`. The guard that holds
   * when the clock does not move (production Workers freeze `Date.now()`
   * during CPU work).
   */
  maxVmSteps: number;
  /** Hard heap limit of each SQLite instance (page cache, sorts, temp b-trees), bytes. */
  sqliteHeapBytes: number;
  /** A SQLite instance whose wasm memory grew past this is replaced after its query (wasm memory never shrinks), bytes. */
  engineResetBytes: number;
  /** Queries allowed to wait for the engine of an isolate; more get 503 ENGINE_BUSY with Retry-After. */
  maxQueuedQueries: number;
  /** Longest a single storage (R2/S3) request may take, ms. */
  storageTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 1024 * 1024,
  maxSqlBytes: 100_000,
  maxParams: 100,
  maxStatements: 50,
  maxRows: 10_000,
  maxResponseBytes: 8 * 1024 * 1024,
  queryTimeoutMs: 10_000,
  maxStorageRequests: 500,
  maxWaitMs: 10_000,
  maxStalenessMs: 1000,
  isolateCacheBytes: 36 * 1024 * 1024,
  indexCacheBytes: 8 * 1024 * 1024,
  maxVmSteps: 0,
  sqliteHeapBytes: 24 * 1024 * 1024,
  engineResetBytes: 48 * 1024 * 1024,
  maxQueuedQueries: 32,
  storageTimeoutMs: 5_000,
};

const KEYS: Record<string, keyof Limits> = {
  max_body_bytes: "maxBodyBytes",
  max_sql_bytes: "maxSqlBytes",
  max_params: "maxParams",
  max_statements: "maxStatements",
  max_rows: "maxRows",
  max_response_bytes: "maxResponseBytes",
  query_timeout_ms: "queryTimeoutMs",
  max_storage_requests: "maxStorageRequests",
  max_wait_ms: "maxWaitMs",
  max_staleness_ms: "maxStalenessMs",
  isolate_cache_bytes: "isolateCacheBytes",
  index_cache_bytes: "indexCacheBytes",
  max_vm_steps: "maxVmSteps",
  sqlite_heap_bytes: "sqliteHeapBytes",
  engine_reset_bytes: "engineResetBytes",
  max_queued_queries: "maxQueuedQueries",
  storage_timeout_ms: "storageTimeoutMs",
};

/** Parses `LIMITS` (snake_case keys, positive numbers). Unknown keys are an error. */
export function parseLimits(raw: unknown): Limits {
  let v: unknown = raw;
  if (typeof raw === "string") v = raw.trim() === "" ? {} : JSON.parse(raw);
  const out: Limits = { ...DEFAULT_LIMITS };
  if (v === undefined || v === null) return out;
  if (typeof v !== "object" || Array.isArray(v)) throw new Error("LIMITS must be an object");
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    const key = KEYS[k];
    if (!key) throw new Error(`LIMITS: unknown key ${k}`);
    if (typeof val !== "number" || !Number.isFinite(val) || val < 0) throw new Error(`LIMITS.${k} must be a non-negative number`);
    out[key] = val;
  }
  return out;
}

/** Per-request limits: a request may only lower these. */
export const REQUEST_LIMIT_KEYS = {
  max_rows: "maxRows",
  max_storage_requests: "maxStorageRequests",
  timeout_ms: "queryTimeoutMs",
  max_response_bytes: "maxResponseBytes",
  max_vm_steps: "maxVmSteps",
} as const satisfies Record<string, keyof Limits>;

const parsed = new WeakMap<object, Limits>();

/** The limits of a deployment, parsed once per env object; a bad `LIMITS` is a CONFIG_INVALID error. */
export function limitsFor(env: { LIMITS?: unknown }): Limits {
  let l = parsed.get(env);
  if (!l) {
    try {
      l = parseLimits(env.LIMITS);
    } catch (e) {
      throw new CodedError("CONFIG_INVALID", `LIMITS: ${e instanceof Error ? e.message : String(e)}`);
    }
    parsed.set(env, l);
  }
  return l;
}
