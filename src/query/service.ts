/**
 * @module
 * Runs queries for the HTTP API: keeps each database's page index per
 * isolate (a delta from the DO at most every `maxStalenessMs`), waits for
 * `min_txid`, loads time-travel indexes, runs every statement of a request
 * on one index snapshot, and heals once when a file vanished mid-query.
 */
import type { DatabaseConfig } from "../config/databases.ts";
import { openStore } from "../config/open-replica.ts";
import { type HeldIndex, loadIndexAt, syncIndex, unwrap } from "../durable/client.ts";
import type { Freshness } from "../durable/protocol.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../http/errors.ts";
import type { Limits } from "../http/limits.ts";
import type { ReadTarget } from "../http/request.ts";
import { formatTxid } from "../ltx/txid.ts";
import { type FetchStats, IndexPageSource, IsolateCaches, newFetchStats } from "../pages/page-fetcher.ts";
import type { ObjectStore } from "../replica/types.ts";
import { SqlEngine } from "../sql/engine.ts";
import type { StatementInput, StatementResult } from "../sql/types.ts";

const TIME_TRAVEL_KEPT = 4;
const TIME_TRAVEL_BYTES = 16 * 1024 * 1024;
/** Time-travel indexes are re-fetched after this, so a replaced history is noticed even without live reads. */
const TIME_TRAVEL_TTL_MS = 60_000;

interface LiveState {
  held: HeldIndex | null;
  syncedAt: number;
  syncing: Promise<HeldIndex> | null;
}

/** Everything one isolate keeps between requests. */
class IsolateState {
  engine: Promise<SqlEngine> | null = null;
  caches: IsolateCaches | null = null;
  readonly live = new Map<string, LiveState>();
  readonly timeTravel = new Map<string, { held: HeldIndex; loadedAt: number }>();
  readonly stores = new Map<string, ObjectStore>();
}

const isolate = new IsolateState();

function engine(): Promise<SqlEngine> {
  if (!isolate.engine) {
    isolate.engine = SqlEngine.create();
    isolate.engine.catch(() => {
      isolate.engine = null;
    });
  }
  return isolate.engine;
}

function caches_(limits: Limits): IsolateCaches {
  if (!isolate.caches) isolate.caches = new IsolateCaches(limits.isolateCacheBytes, Math.max(256 * 1024, limits.isolateCacheBytes / 4));
  return isolate.caches;
}

function storeFor(env: Env, cfg: DatabaseConfig): ObjectStore {
  let s = isolate.stores.get(cfg.name);
  if (!s) {
    s = openStore(env, cfg);
    isolate.stores.set(cfg.name, s);
  }
  return s;
}

function stubFor(env: Env, name: string) {
  return env.DB_INDEX.getByName(name);
}

/** Brings the isolate's index up to date (one sync in flight per database). */
async function syncLive(env: Env, name: string, force: boolean, maxStalenessMs: number): Promise<HeldIndex> {
  let st = isolate.live.get(name);
  if (!st) {
    st = { held: null, syncedAt: 0, syncing: null };
    isolate.live.set(name, st);
  }
  const state = st;
  if (!force && state.held && Date.now() - state.syncedAt <= maxStalenessMs) return state.held;
  // A forced sync must reflect the DO as of now: one already in flight may predate what we wait for.
  if (force && state.syncing) await state.syncing.catch(() => undefined);
  if (!state.syncing) {
    state.syncing = syncIndex(stubFor(env, name), name, state.held)
      .then((held) => {
        // A new generation means the replica's history was replaced: old time-travel indexes are void.
        forgetTimeTravel(name, held.generation);
        state.held = held;
        state.syncedAt = Date.now();
        return held;
      })
      .finally(() => {
        state.syncing = null;
      });
  }
  return state.syncing;
}

/** ms since the DO last confirmed the position this isolate holds (Infinity before any poll). */
function staleness(held: HeldIndex, name: string): number {
  const since = held.freshness.sinceLastPollMs;
  if (since === null) return Number.POSITIVE_INFINITY;
  const st = isolate.live.get(name);
  return since + (st ? Date.now() - st.syncedAt : 0);
}

export interface Snapshot {
  held: HeldIndex;
  servedFrom: "live" | "time_travel";
  indexMs: number;
  /** How old the isolate's copy is (0 right after a sync). */
  isolateAgeMs: number;
}

async function snapshotFor(env: Env, name: string, target: ReadTarget, limits: Limits, force: boolean): Promise<Snapshot> {
  const t0 = Date.now();
  if (target.kind === "txid" || target.kind === "timestamp") {
    const key = `${name}\n${target.kind}\n${target.kind === "txid" ? target.txid : target.timestamp}`;
    const cached = isolate.timeTravel.get(key);
    let held = cached && Date.now() - cached.loadedAt <= TIME_TRAVEL_TTL_MS ? cached.held : undefined;
    if (force || !held) {
      const rpcTarget = target.kind === "txid" ? { txid: target.txid } : { timestamp: target.timestamp };
      // Errors carry the DO's stable codes; the HTTP layer maps them to statuses.
      held = await loadIndexAt(stubFor(env, name), name, rpcTarget);
      isolate.timeTravel.set(key, { held, loadedAt: Date.now() });
      // Bounded by count and by bytes: the isolate has 128 MB for everything.
      const bytes = () => [...isolate.timeTravel.values()].reduce((n, x) => n + x.held.index.byteLength, 0);
      while (isolate.timeTravel.size > TIME_TRAVEL_KEPT || (isolate.timeTravel.size > 1 && bytes() > TIME_TRAVEL_BYTES)) {
        isolate.timeTravel.delete(isolate.timeTravel.keys().next().value as string);
      }
    }
    return { held, servedFrom: "time_travel", indexMs: Date.now() - t0, isolateAgeMs: 0 };
  }
  let held = await syncLive(env, name, force, limits.maxStalenessMs);
  if (target.minTxid !== null && held.index.txid < target.minTxid) {
    unwrap(await stubFor(env, name).waitFor(name, target.minTxid, limits.maxWaitMs));
    held = await syncLive(env, name, true, limits.maxStalenessMs);
    if (held.index.txid < target.minTxid) {
      throw new ApiError("WAIT_TIMEOUT", `replica reached ${formatTxid(held.index.txid)}, not min_txid ${formatTxid(target.minTxid)}`);
    }
  }
  const maxStaleness = target.maxStalenessMs ?? null;
  if (maxStaleness !== null) {
    // The caller would rather fail than read old data: refresh once, then refuse if still too old.
    if (staleness(held, name) > maxStaleness) {
      unwrap(await stubFor(env, name).refresh(name));
      held = await syncLive(env, name, true, limits.maxStalenessMs);
    }
    const age = staleness(held, name);
    if (age > maxStaleness) {
      const f = held.freshness;
      throw new ApiError(
        "REPLICA_STALE",
        `the replica position (TXID ${formatTxid(held.index.txid)}) was last confirmed ${age} ms ago, more than max_staleness_ms ${maxStaleness}; replica state: ${f.state} (see GET /db/${name})`,
      );
    }
  }
  const st = isolate.live.get(name);
  return { held, servedFrom: "live", indexMs: Date.now() - t0, isolateAgeMs: st ? Date.now() - st.syncedAt : 0 };
}

export interface QueryOutcome {
  results: StatementResult[];
  snapshot: Snapshot;
  stats: FetchStats & { vfsReads: number };
  execMs: number;
  engine: string;
  freshness: Freshness;
  retried: boolean;
}

/**
 * Runs statements on one index snapshot. A file that vanished (compaction or
 * retention) is reported to the DO, which heals; the query then runs once more
 * on the fresh index.
 */
export async function runStatements(
  env: Env,
  cfg: DatabaseConfig,
  statements: StatementInput[],
  target: ReadTarget,
  limits: Limits,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<QueryOutcome> {
  const eng = await engine();
  let retried = false;
  for (let attempt = 0; ; attempt++) {
    const snapshot = await snapshotFor(env, cfg.name, target, limits, attempt > 0);
    const stats = newFetchStats();
    const source = new IndexPageSource(snapshot.held.index, {
      db: cfg.name,
      store: storeFor(env, cfg),
      caches: caches_(limits),
      edgeCache: typeof caches !== "undefined" ? caches.default : null,
      maxStorageRequests: limits.maxStorageRequests,
      stats,
      waitUntil,
    });
    const t0 = Date.now();
    try {
      // One connection per database and generation: SQLite's page cache must never span two histories.
      const running = eng.execute(`${cfg.name}#${snapshot.held.generation}`, source, statements, {
        maxRows: limits.maxRows,
        maxResultBytes: limits.maxResponseBytes,
        timeoutMs: limits.queryTimeoutMs,
      });
      // Keep the engine's holder alive even if the client goes away mid-query,
      // so the per-instance queue never waits on an abandoned read.
      waitUntil(running.catch(() => undefined).then(() => source.settle()));
      const r = await running;
      return {
        results: r.results,
        snapshot,
        stats: { ...stats, vfsReads: r.stats.vfsReads },
        execMs: Date.now() - t0,
        engine: eng.build,
        freshness: snapshot.held.freshness,
        retried,
      };
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const key = (e as { key?: unknown }).key;
      if (attempt === 0 && code === "STORAGE_NOT_FOUND" && typeof key === "string") {
        // A file vanished (or was replaced): the DO heals, then the query runs on the fresh index.
        retried = true;
        unwrap(await stubFor(env, cfg.name).reportMissing(cfg.name, key));
        continue;
      }
      if (attempt === 0 && snapshot.servedFrom === "time_travel" && typeof code === "string" && code.startsWith("LTX_")) {
        // The replica may have been repaired since this index was built: fetch it again once.
        retried = true;
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

/** Drops a database's time-travel indexes (those of another generation than `keep`, when given). */
function forgetTimeTravel(name: string, keep?: number): void {
  for (const [k, v] of [...isolate.timeTravel]) {
    if (k.startsWith(`${name}\n`) && v.held.generation !== keep) isolate.timeTravel.delete(k);
  }
}

/** Drops everything the isolate holds for a database (tests, admin). */
export function forgetDatabase(name: string): void {
  isolate.live.delete(name);
  forgetTimeTravel(name);
  isolate.stores.delete(name);
}

/** Isolate cache figures for the health endpoint. */
export function isolateStats(): { segmentCacheBytes: number; pageCacheBytes: number; databases: number } {
  return {
    segmentCacheBytes: isolate.caches?.segments.byteLength ?? 0,
    pageCacheBytes: isolate.caches?.pages.byteLength ?? 0,
    databases: isolate.live.size,
  };
}
