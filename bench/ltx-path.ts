/**
 * ltx-edge's query path below HTTP, assembled the way the Worker assembles it
 * (src/query/service.ts: the isolate's caches sized from LIMITS, the page
 * fetcher over an index with the Cache API tier, the engine with the
 * Worker's heap and reset budgets), so the engine-level benchmark in workerd
 * measures whatever src/ holds — with the wa-sqlite build forced, which the
 * Worker itself never does. Kept in one file: if src/ changes how these
 * pieces fit, this is the one place the benchmark follows it.
 */
import { DEFAULT_LIMITS } from "../src/api/limits.ts";
import { type FetchStats, IndexPageSource, IsolateCaches, type PageLocator, newFetchStats } from "../src/pages/page-fetcher.ts";
export { subrequests } from "../src/pages/page-fetcher.ts";
import type { ObjectStore } from "../src/replica/types.ts";
import { type ExecLimits, SqlEngine } from "../src/sql/engine.ts";
import type { PageSource } from "../src/vfs/page-source.ts";
import type { SqliteBuild } from "../src/vfs/sqlite-module.ts";

/** The isolate caches a fresh isolate starts with (default LIMITS). */
export function freshIsolateCaches(): IsolateCaches {
  const bytes = DEFAULT_LIMITS.isolateCacheBytes;
  return IsolateCaches.fromBudget(bytes);
}

/** An engine with the Worker's budgets and fast lane, its main lane on a forced build. */
export function workerEngine(build: Exclude<SqliteBuild, "sync">, fastLane = true): Promise<SqlEngine> {
  return SqlEngine.create({ build, fastLane, heapLimitBytes: DEFAULT_LIMITS.sqliteHeapBytes, resetBytes: DEFAULT_LIMITS.engineResetBytes });
}

/** The Worker's per-query limits (default LIMITS). */
export function workerExecLimits(): ExecLimits {
  return {
    maxRows: DEFAULT_LIMITS.maxRows,
    maxResultBytes: DEFAULT_LIMITS.maxResponseBytes,
    timeoutMs: DEFAULT_LIMITS.queryTimeoutMs,
    maxVmSteps: DEFAULT_LIMITS.maxVmSteps,
    maxQueued: DEFAULT_LIMITS.maxQueuedQueries,
  };
}

export interface QueryPath {
  source: IndexPageSource;
  stats: FetchStats;
}

/**
 * One query's page source, as the Worker builds it; `db` names the cache
 * namespace (Cache API keys and isolate keys); `budget` overrides LIMITS'
 * max_storage_requests (the query's subrequest budget).
 */
export function workerPageSource(
  locator: PageLocator,
  o: { db: string; store: ObjectStore; caches: IsolateCaches; edgeCache: Cache | null; waitUntil: (p: Promise<unknown>) => void; budget?: number },
): QueryPath {
  const stats = newFetchStats();
  const source = new IndexPageSource(locator, {
    db: o.db,
    store: o.store,
    caches: o.caches,
    edgeCache: o.edgeCache,
    maxStorageRequests: o.budget ?? DEFAULT_LIMITS.maxStorageRequests,
    stats,
    waitUntil: o.waitUntil,
  });
  return { source, stats };
}

/**
 * A PageSource that times another: readPage calls, and the wall time from
 * each call until its page is there (summed). Whatever the engine spends
 * beyond that is SQLite, the VFS glue and the suspensions around each read.
 */
export class TimedSource implements PageSource {
  calls = 0;
  ms = 0;
  readonly #inner: PageSource;

  constructor(inner: PageSource) {
    this.#inner = inner;
  }

  get pageSize(): number {
    return this.#inner.pageSize;
  }

  get pageCount(): number {
    return this.#inner.pageCount;
  }

  get txid(): number {
    return this.#inner.txid;
  }

  /** The inner source's synchronous answer, timed as a page read (what the fast lane calls). */
  pageIfReady(pgno: number): Uint8Array | null {
    if (!this.#inner.pageIfReady) return null;
    this.calls++;
    const t0 = performance.now();
    const page = this.#inner.pageIfReady(pgno);
    this.ms += performance.now() - t0;
    return page;
  }

  readPage(pgno: number): ReturnType<PageSource["readPage"]> {
    this.calls++;
    const t0 = performance.now();
    const r = this.#inner.readPage(pgno);
    // Settled pages (if the contract ever allows a plain return) are timed as they are.
    if (!(r instanceof Promise)) {
      this.ms += performance.now() - t0;
      return r;
    }
    return r.then((page) => {
      this.ms += performance.now() - t0;
      return page;
    });
  }
}
