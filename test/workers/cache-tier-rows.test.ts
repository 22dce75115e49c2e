/**
 * The Cache API tier (docs/limits.md: segments "are cached in the isolate
 * and in the Cache API (per colo); a warm repeat makes no storage request at
 * all"): the small fixture's manifest queries are run cold (real local R2,
 * the Cache API filled in the background), then in a new isolate state (empty
 * isolate caches, new SQLite connection) with the Cache API warm. Same rows as
 * cold and as the manifest, cache hits > 0, no storage request.
 */
import { env } from "cloudflare:workers";
import { afterEach, expect, test } from "vitest";
import { syncIndex } from "../support/do-index.ts";
import { IndexPageSource, IsolateCaches, newFetchStats } from "../../src/pages/page-fetcher.ts";
import type { PageLocator } from "../../src/pages/page-fetcher.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { SqlEngine } from "../../src/sql/engine.ts";
import type { DoStub } from "../support/durable.ts";
import { backgroundWork, rangeLog } from "../support/page-source.ts";
import { seedReplica } from "../support/seed.ts";
import { expectRows, typedManifest, typedQueriesAt, typedRows } from "../support/typed-rows.ts";

const LIMITS = { maxRows: 10_000, maxResultBytes: 50_000_000, timeoutMs: 60_000 };

const stubs: DoStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

test("a new isolate state with the Cache API warm reads the cold rows with cache hits and no storage request", async () => {
  const name = `cache-tier-${Date.now().toString(36)}`;
  await seedReplica(new R2Store(env.BUCKET), "small", name);
  const { m, typed } = await typedManifest("small");
  const queries = typedQueriesAt(m, typed, m.final_txid);
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);
  const { index } = await syncIndex(stub, name, null);
  expect(index.txid).toBe(m.final_txid_int);
  const engine = await SqlEngine.create();

  /** One query run as a fresh isolate would: its own isolate caches and SQLite connection; storage reads counted. */
  async function run(label: string, idx: PageLocator, waitUntil?: (p: Promise<unknown>) => void) {
    const log = rangeLog(new R2Store(env.BUCKET));
    const stats = newFetchStats();
    const source = new IndexPageSource(idx, {
      db: name,
      store: log.store,
      caches: new IsolateCaches(8 * 1024 * 1024, 2 * 1024 * 1024),
      edgeCache: caches.default,
      maxStorageRequests: 500,
      stats,
      ...(waitUntil ? { waitUntil } : {}),
    });
    const r = await engine.execute(`${name}#${label}`, source, queries.map((q) => ({ sql: q.sql })), LIMITS);
    await source.settle();
    return { results: r.results, stats, storageReads: log.reads.length };
  }

  const bg = backgroundWork();
  const cold = await run("cold", index, bg.waitUntil);
  expect(cold.stats.storageRequests).toBeGreaterThan(0);
  expect(cold.storageReads).toBe(cold.stats.storageRequests);
  expect(cold.stats.cacheHits).toBe(0);
  queries.forEach((q, i) => {
    expect(cold.results[i]?.columns, q.sql).toEqual(q.columns);
    expectRows(typedRows(cold.results[i]?.rows), q.rows, q.sql);
  });
  await bg.settled();

  const warm = await run("warm", index);
  expect(warm.stats.cacheHits).toBeGreaterThan(0);
  expect(warm.stats.storageRequests).toBe(0);
  expect(warm.storageReads).toBe(0);
  expect(warm.stats.cacheMisses).toBe(0);
  expect(warm.results.map((r) => r.columns)).toEqual(cold.results.map((r) => r.columns));
  expect(warm.results.map((r) => r.rows)).toEqual(cold.results.map((r) => r.rows));
});
