/**
 * @module
 * What a request did, gathered where it happens and logged once at its end.
 *
 * The transports (JSON API, Hrana, D1) all run queries through the query
 * service; the service records each query's outcome into the current
 * request's record via AsyncLocalStorage, so no transport has to thread a
 * logger through. Outside a request (tests calling the service directly, the
 * CLI) there is no record and nothing is kept.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** Counters and facts of one request (snake_case: they are logged as is). */
export interface RequestRecord {
  db?: string;
  txid?: number;
  served_from?: string;
  replica_state?: string;
  queries: number;
  statements: number;
  rows: number;
  exec_ms: number;
  storage_requests: number;
  bytes_fetched: number;
  cache_hits: number;
  isolate_hits: number;
  cache_misses: number;
  index_requests: number;
  retried: number;
  /** Queries the engine's fast lane answered (every page in memory; see meta.engine_lane). */
  fast_lane: number;
  /** Code of the last query that failed (Hrana and D1 answer such failures inside a 200). */
  error_code?: string;
  error_message?: string;
}

export function newRecord(): RequestRecord {
  return { queries: 0, statements: 0, rows: 0, exec_ms: 0, storage_requests: 0, bytes_fetched: 0, cache_hits: 0, isolate_hits: 0, cache_misses: 0, index_requests: 0, retried: 0, fast_lane: 0 };
}

const current = new AsyncLocalStorage<RequestRecord>();

/** Runs `fn` with `record` as the current request's record. */
export function withRecord<T>(record: RequestRecord, fn: () => T): T {
  return current.run(record, fn);
}

/** The current request's record, if any. */
export function currentRecord(): RequestRecord | undefined {
  return current.getStore();
}

/** What one query of the service reports (a subset of its outcome). */
export interface QueryReport {
  db: string;
  txid: number;
  servedFrom: string;
  replicaState: string;
  statements: number;
  rows: number;
  execMs: number;
  storageRequests: number;
  bytesFetched: number;
  cacheHits: number;
  isolateHits: number;
  cacheMisses: number;
  indexRequests: number;
  retried: boolean;
  /** The engine lane that answered (ExecStats.lane). */
  lane: "fast" | "main" | "fallback";
}

/** Adds one query to the current request's record (a no-op outside a request). */
export function recordQuery(q: QueryReport): void {
  const r = current.getStore();
  if (!r) return;
  r.db = q.db;
  r.txid = q.txid;
  r.served_from = q.servedFrom;
  r.replica_state = q.replicaState;
  r.queries++;
  r.statements += q.statements;
  r.rows += q.rows;
  r.exec_ms += q.execMs;
  r.storage_requests += q.storageRequests;
  r.bytes_fetched += q.bytesFetched;
  r.cache_hits += q.cacheHits;
  r.isolate_hits += q.isolateHits;
  r.cache_misses += q.cacheMisses;
  r.index_requests += q.indexRequests;
  if (q.retried) r.retried++;
  if (q.lane === "fast") r.fast_lane++;
}

/** Notes a failed query in the current request's record (a no-op outside a request). */
export function recordFailure(db: string, error: unknown): void {
  const r = current.getStore();
  if (!r) return;
  r.db = db;
  const code = typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : "INTERNAL";
  r.error_code = code;
  r.error_message = error instanceof Error ? error.message : String(error);
}
