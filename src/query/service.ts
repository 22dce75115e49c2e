/**
 * @module
 * Runs queries for the HTTP API and Hrana: picks the index snapshot a request
 * reads (live, waited-for, or time travel), runs every statement of the
 * request on it in the isolate's SQL engine, and heals once when a file
 * vanished mid-query.
 *
 * What an isolate keeps between requests is plain data (indexes, caches, the
 * engine object), never a promise another request would have to continue —
 * see live-index.ts and src/sync/. Every per-database structure is bounded.
 */
import { recordFailure, recordQuery } from "../observe/context.ts";
import type { DatabaseConfig } from "../config/databases.ts";
import { openStore } from "../config/open-replica.ts";
import { type HeldIndex, type IndexRpc, unwrap } from "../durable/client.ts";
import type { DbState, Freshness, RpcResult } from "../durable/protocol.ts";
import type { IndexPosition } from "../page-index/page-index.ts";
import type { Env } from "../env.ts";
import { CodedError } from "../errors.ts";
import { ApiError } from "../api/errors.ts";
import type { Limits } from "../api/limits.ts";
import type { ReadTarget } from "../api/query-request.ts";
import { formatTxid } from "../ltx/txid.ts";
import { type FetchStats, IndexPageSource, IsolateCaches, newFetchStats, subrequests } from "../pages/page-fetcher.ts";
import { ChunkCache, RootLocator } from "./chunk-cache.ts";
import { TimeoutStore } from "../replica/timeout-store.ts";
import type { ObjectStore } from "../replica/types.ts";
import { SqlEngine } from "../sql/engine.ts";
import type { StatementInput, StatementResult } from "../sql/types.ts";
import { guardRpc, LiveIndexes, type LiveEntry, RPC_TIMEOUT_MS } from "./live-index.ts";
import { TimeTravelIndexes } from "./time-travel.ts";

/** Live indexes kept per isolate (bytes; the largest databases are evicted first by recency). */
const LIVE_INDEX_BYTES = 4 * 1024 * 1024;
/** Databases whose live index an isolate keeps at most. */
const LIVE_DATABASES = 1000;
/** Object stores kept per isolate (one per database; small, but bounded). */
const STORES_KEPT = 256;

/** The isolate's view of the replica: the DO's state, or "unreachable" when the DO could not be asked. */
export type ReplicaState = DbState | "unreachable";

/** Fault injection for tests only (faults real local R2 or a real DO cannot produce). */
export const testHooks: {
  wrapStore: ((s: ObjectStore, db: string) => ObjectStore) | null;
  wrapRpc: ((rpc: DatabaseRpc, db: string) => DatabaseRpc) | null;
} = { wrapStore: null, wrapRpc: null };

/** What the service calls on a database's Durable Object. */
export interface DatabaseRpc extends IndexRpc {
  waitFor(name: string, minTxid: number, timeoutMs: number): Promise<RpcResult<IndexPosition>>;
  refresh(name: string): Promise<RpcResult<Freshness>>;
  reportMissing(name: string, key: string): Promise<RpcResult<IndexPosition>>;
}

/** Everything one isolate keeps between requests. */
class IsolateState {
  engine: SqlEngine | null = null;
  caches: IsolateCaches | null = null;
  chunks: ChunkCache | null = null;
  readonly live = new LiveIndexes(LIVE_INDEX_BYTES, LIVE_DATABASES);
  readonly timeTravel = new TimeTravelIndexes();
  readonly stores = new Map<string, ObjectStore>();
}

const isolate = new IsolateState();

/** The isolate's engine: a plain object, created synchronously; its wasm instances load inside its lock. */
function engine(limits: Limits): SqlEngine {
  // The fast lane answers warm queries on the synchronous build; the main lane (JSPI or Asyncify) waits on storage.
  isolate.engine ??= SqlEngine.createLazy({ fastLane: true, heapLimitBytes: limits.sqliteHeapBytes, resetBytes: limits.engineResetBytes });
  return isolate.engine;
}

function caches_(limits: Limits): IsolateCaches {
  // As with the chunks: a changed budget starts new caches (immutable bytes; only warmth is lost).
  if (isolate.caches?.budget !== limits.isolateCacheBytes) isolate.caches = IsolateCaches.fromBudget(limits.isolateCacheBytes);
  return isolate.caches;
}

function chunks_(limits: Limits): ChunkCache {
  // A new budget (a changed LIMITS) starts a new cache: chunks are immutable, nothing is lost but warmth.
  if (isolate.chunks?.maxBytes !== limits.indexCacheBytes) isolate.chunks = new ChunkCache(limits.indexCacheBytes);
  return isolate.chunks;
}

function storeFor(env: Env, cfg: DatabaseConfig, limits: Limits): ObjectStore {
  let s = isolate.stores.get(cfg.name);
  if (s) {
    isolate.stores.delete(cfg.name);
  } else {
    s = openStore(env, cfg);
  }
  isolate.stores.set(cfg.name, s);
  for (const k of isolate.stores.keys()) {
    if (isolate.stores.size <= STORES_KEPT) break;
    isolate.stores.delete(k);
  }
  // Every storage request of a query is bounded, whatever the store (and whatever a test injected).
  return new TimeoutStore(testHooks.wrapStore ? testHooks.wrapStore(s, cfg.name) : s, limits.storageTimeoutMs);
}

/** A fresh stub per call: a stub is an I/O object of the request that made it. */
function rpcFor(env: Env, name: string): DatabaseRpc {
  const stub: DatabaseRpc = env.DB_INDEX.getByName(name);
  return testHooks.wrapRpc ? testHooks.wrapRpc(stub, name) : stub;
}

/** ms since the DO last confirmed the position this isolate holds (Infinity before any poll). */
function staleness(e: LiveEntry): number {
  const since = e.held?.freshness.sinceLastPollMs ?? null;
  if (since === null) return Number.POSITIVE_INFINITY;
  return since + (Date.now() - e.syncedAt);
}

export interface Snapshot {
  held: HeldIndex;
  servedFrom: "live" | "time_travel";
  indexMs: number;
  /** How old the isolate's copy is (0 right after a sync). */
  isolateAgeMs: number;
  replicaState: ReplicaState;
}

function liveSnapshot(e: LiveEntry, t0: number): Snapshot {
  const held = e.held;
  if (!held) throw new CodedError("INDEX_UNAVAILABLE", `no index of ${e.name} is available`);
  return {
    held,
    servedFrom: "live",
    indexMs: Date.now() - t0,
    isolateAgeMs: Date.now() - e.syncedAt,
    replicaState: e.lastError ? "unreachable" : held.freshness.state,
  };
}

async function snapshotFor(env: Env, name: string, target: ReadTarget, limits: Limits, force: boolean, waitUntil: (p: Promise<unknown>) => void): Promise<Snapshot> {
  const t0 = Date.now();
  const rpc = () => rpcFor(env, name);
  if (target.kind === "txid" || target.kind === "timestamp") {
    const tt = target.kind === "txid" ? { txid: target.txid } : { timestamp: target.timestamp };
    const held = await isolate.timeTravel.get(name, tt, rpc, force);
    return { held, servedFrom: "time_travel", indexMs: Date.now() - t0, isolateAgeMs: 0, replicaState: held.freshness.state };
  }
  const deadline = t0 + RPC_TIMEOUT_MS;
  let e = await isolate.live.current(name, rpc, { maxStalenessMs: limits.maxStalenessMs, deadline, waitUntil });
  if (force) e = await isolate.live.forced(name, rpc(), deadline);
  forgetOtherGenerations(e);
  const minTxid = target.minTxid;
  if (minTxid !== null && (e.held?.root.txid ?? 0) < minTxid) {
    // Read-your-writes: the DO polls until the TXID arrives (or its own wait ends), then we sync.
    const wait = Math.max(0, limits.maxWaitMs - (Date.now() - t0));
    unwrap(await guardRpc(rpc().waitFor(name, minTxid, wait), wait + RPC_TIMEOUT_MS, name));
    e = await isolate.live.forced(name, rpc(), Date.now() + RPC_TIMEOUT_MS);
    if ((e.held?.root.txid ?? 0) < minTxid) throw waitTimeout(minTxid, e);
  }
  const maxStaleness = target.maxStalenessMs ?? null;
  if (maxStaleness !== null) {
    // The caller would rather fail than read old data: refresh once, then refuse if still too old.
    if (staleness(e) > maxStaleness) {
      try {
        unwrap(await guardRpc(rpc().refresh(name), RPC_TIMEOUT_MS, name));
        e = await isolate.live.forced(name, rpc(), Date.now() + RPC_TIMEOUT_MS);
      } catch {
        // Judged below on what we hold.
      }
    }
    const age = staleness(e);
    if (age > maxStaleness) {
      const state = e.lastError ? "unreachable" : (e.held?.freshness.state ?? "starting");
      throw new ApiError(
        "REPLICA_STALE",
        `the replica position (TXID ${formatTxid(e.held?.root.txid ?? 0)}) was last confirmed ${age} ms ago, more than max_staleness_ms ${maxStaleness}; replica state: ${state} (see GET /db/${name})`,
      );
    }
  }
  return liveSnapshot(e, t0);
}

function waitTimeout(minTxid: number, e: LiveEntry): ApiError {
  return new ApiError("WAIT_TIMEOUT", `replica reached ${formatTxid(e.held?.root.txid ?? 0)}, not min_txid ${formatTxid(minTxid)}`);
}

/** A new generation means the replica's history was replaced: old time-travel indexes are void. */
function forgetOtherGenerations(e: LiveEntry): void {
  if (e.held) isolate.timeTravel.forget(e.name, e.held.root.generation);
}

export interface QueryOutcome {
  results: StatementResult[];
  snapshot: Snapshot;
  stats: FetchStats & { vfsReads: number; vmSteps: number };
  execMs: number;
  engine: string;
  /** Which lane of the engine answered (see ExecStats.lane). */
  lane: "fast" | "main" | "fallback";
  freshness: Freshness;
  retried: boolean;
}

/** What {@link runStatements} takes. */
type RunArgs = [env: Env, cfg: DatabaseConfig, statements: StatementInput[], target: ReadTarget, limits: Limits, waitUntil: (p: Promise<unknown>) => void];

/**
 * Runs statements on one index snapshot. A file that vanished (compaction or
 * retention) is reported to the DO, which heals; the query then runs once more
 * on the fresh index.
 */
export async function runStatements(...args: RunArgs): Promise<QueryOutcome> {
  const cfg = args[1];
  try {
    const o = await runOnSnapshot(...args);
    recordQuery({
      db: cfg.name,
      txid: o.snapshot.held.root.txid,
      servedFrom: o.snapshot.servedFrom,
      replicaState: o.snapshot.replicaState,
      statements: o.results.length,
      rows: o.results.reduce((n, r) => n + r.rows.length, 0),
      execMs: o.execMs,
      storageRequests: o.stats.storageRequests,
      bytesFetched: o.stats.bytesFetched,
      cacheHits: o.stats.cacheHits,
      isolateHits: o.stats.isolateHits + o.stats.pageHits,
      cacheMisses: o.stats.cacheMisses,
      indexRequests: o.stats.indexRequests,
      retried: o.retried,
      lane: o.lane,
    });
    return o;
  } catch (e) {
    recordFailure(cfg.name, e);
    throw e;
  }
}

async function runOnSnapshot(...[env, cfg, statements, target, limits, waitUntil]: RunArgs): Promise<QueryOutcome> {
  let retried = false;
  let failed: { error: unknown; held: HeldIndex } | null = null;
  for (let attempt = 0; ; attempt++) {
    const snapshot = await snapshotFor(env, cfg.name, target, limits, attempt > 0, waitUntil);
    if (failed && snapshot.servedFrom === "live" && sameVersion(failed.held, snapshot.held)) {
      // Bad data on the index the DO still stands by: nothing to retry on.
      throw failed.error;
    }
    const stats = newFetchStats();
    const first = snapshot.held.firstChunk;
    if (first) {
      // Chunk 0 came with the root: the isolate's cache keeps it (verified against its id), the holder lets go.
      snapshot.held.firstChunk = undefined;
      await chunks_(limits).offer(first.id, first.bytes);
    }
    const edgeCache = typeof caches !== "undefined" ? caches.default : null;
    const locator = new RootLocator(snapshot.held.root, chunks_(limits), {
      edge: edgeCache,
      fetch: async (ids) => unwrap(await guardRpc(rpcFor(env, cfg.name).chunks(cfg.name, ids), RPC_TIMEOUT_MS, cfg.name)),
      waitUntil,
      stats,
      room: () => subrequests(stats) < limits.maxStorageRequests,
    });
    const source = new IndexPageSource(locator, {
      db: cfg.name,
      store: storeFor(env, cfg, limits),
      caches: caches_(limits),
      edgeCache,
      maxStorageRequests: limits.maxStorageRequests,
      stats,
      waitUntil,
    });
    const t0 = Date.now();
    try {
      const eng = engine(limits);
      // One connection per database and generation: SQLite's page cache must never span two histories.
      const running = eng.execute(`${cfg.name}#${snapshot.held.root.generation}`, source, statements, {
        maxRows: limits.maxRows,
        maxResultBytes: limits.maxResponseBytes,
        timeoutMs: limits.queryTimeoutMs,
        maxVmSteps: limits.maxVmSteps,
        // Waiting for the engine counts: the query's time starts now, not when it gets a turn.
        deadline: t0 + limits.queryTimeoutMs,
        maxQueued: limits.maxQueuedQueries,
      });
      // Read-ahead still in flight when the query ends finishes in the background (it fills the caches).
      waitUntil(running.catch(() => undefined).then(() => source.settle()));
      const r = await running;
      return {
        results: r.results,
        snapshot,
        stats: { ...stats, vfsReads: r.stats.vfsReads, vmSteps: r.stats.vmSteps },
        execMs: Date.now() - t0,
        engine: r.stats.lane === "fast" ? "sync" : eng.build,
        lane: r.stats.lane ?? "main",
        freshness: snapshot.held.freshness,
        retried,
      };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const key = (e as { key?: unknown }).key;
      if (attempt === 0 && code === "INDEX_CHUNK_GONE") {
        // The root this isolate held is older than the DO keeps chunks for: sync it, run again.
        retried = true;
        continue;
      }
      if (attempt === 0 && code === "STORAGE_NOT_FOUND" && typeof key === "string") {
        // A file vanished (or was replaced): the DO heals, then the query runs on the fresh index.
        retried = true;
        unwrap(await guardRpc(rpcFor(env, cfg.name).reportMissing(cfg.name, key), RPC_TIMEOUT_MS, cfg.name));
        continue;
      }
      if (attempt === 0 && typeof code === "string" && code.startsWith("LTX_")) {
        // The replica may have been repaired since this index was built (a time-travel index,
        // or a live copy served stale while it revalidates): fetch the index again, retry once.
        retried = true;
        failed = { error: e, held: snapshot.held };
        continue;
      }
      if (attempt === 0 && code === "SQL_ENGINE_RESET") {
        retried = true;
        continue;
      }
      throw e;
    }
  }
}

function sameVersion(a: HeldIndex, b: HeldIndex): boolean {
  return a.root.lineage === b.root.lineage && a.root.generation === b.root.generation && a.root.version === b.root.version;
}

/** Drops everything the isolate holds for a database (tests, admin). */
export function forgetDatabase(name: string): void {
  isolate.live.forget(name);
  isolate.timeTravel.forget(name);
  isolate.stores.delete(name);
}

/** Isolate figures for the health endpoint. */
export function isolateStats(): Record<string, number> {
  return {
    segmentCacheBytes: isolate.caches?.segments.byteLength ?? 0,
    pageCacheBytes: isolate.caches?.pages.byteLength ?? 0,
    databases: isolate.live.size,
    indexChunks: isolate.chunks?.size ?? 0,
    indexChunkBytes: isolate.chunks?.byteLength ?? 0,
    liveIndexBytes: isolate.live.byteLength,
    engineMemoryBytes: isolate.engine?.memoryBytes ?? 0,
    engineReplacements: isolate.engine?.replacements ?? 0,
    engineResets: isolate.engine?.resets ?? 0,
    engineAbandoned: isolate.engine?.abandoned ?? 0,
    fastLaneHits: isolate.engine?.fastLaneStats.hits ?? 0,
    fastLaneMisses: isolate.engine?.fastLaneStats.misses ?? 0,
    timeTravelIndexBytes: isolate.timeTravel.byteLength,
  };
}
