/**
 * A read scattered over a whole database — 1,000 rows in index order, their
 * table rows all over the file — within the default subrequest budget, even
 * when other databases' decoded pages fill the isolate's cache: a query's
 * second miss in a 1 MiB region reads the rest of the region, and the frames
 * after each page read there are decoded ahead, so the query does not come
 * back to storage or the Cache API for pages it has already fetched.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { DEFAULT_LIMITS } from "../../src/api/limits.ts";
import { IndexPageSource, IsolateCaches, subrequests } from "../../src/pages/page-fetcher.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { SqlEngine } from "../../src/sql/engine.ts";
import { backgroundWork, loadPageIndex, putSnapshot } from "../support/page-source.ts";
import { FixtureDb, TestPageSource, asWalPrimary } from "../support/sqlite-db.ts";

const ROWS = 120_000;
const SQL = "SELECT id, amount FROM events WHERE ref >= 'ref-000060000' ORDER BY ref LIMIT 1000";
const LIMITS = { maxRows: 10_000, maxResultBytes: 8 << 20, timeoutMs: 60_000 };
const r2 = new R2Store(env.BUCKET);
let index: PageIndex;
let file: Uint8Array;
let expected: unknown;

beforeAll(async () => {
  const db = await FixtureDb.create(4096);
  // ref is a permutation of id: in ref order, consecutive rows are far apart in the table.
  await db.exec(`
    CREATE TABLE events(id INTEGER PRIMARY KEY, ref TEXT, amount REAL, payload TEXT);
    BEGIN;
    WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ${ROWS})
      INSERT INTO events SELECT x, printf('ref-%09d', (x * 7919) % ${ROWS}), x * 0.5, hex(randomblob(60)) FROM s;
    COMMIT;
    CREATE INDEX events_ref ON events(ref);
  `);
  file = asWalPrimary(db.bytes());
  await db.close();
  const prefix = `scattered-${Date.now().toString(36)}`;
  const pages = Array.from({ length: file.length / 4096 }, (_, i) => file.subarray(i * 4096, (i + 1) * 4096));
  await putSnapshot(r2, prefix, 4096, pages);
  index = await loadPageIndex(r2, prefix);
  const plain = await SqlEngine.create({ build: "asyncify", instances: 1 });
  expected = (await plain.execute("plain", new TestPageSource(file, 1), [{ sql: SQL }], LIMITS)).results[0]?.rows;
}, 180_000);

/** A fresh isolate's caches whose decoded-page tier other databases' pages fill. */
function fullCaches(): IsolateCaches {
  const caches = IsolateCaches.fromBudget(DEFAULT_LIMITS.isolateCacheBytes);
  const filler = new Uint8Array(4096);
  for (let i = 0; i < DEFAULT_LIMITS.isolateCacheBytes / 4096; i++) caches.pages.set(`other\n${i}`, filler.slice());
  expect(caches.pages.byteLength).toBeGreaterThan(DEFAULT_LIMITS.isolateCacheBytes / 2);
  return caches;
}

async function scattered(caches: IsolateCaches, edge: Cache): Promise<IndexPageSource> {
  const bg = backgroundWork();
  const source = new IndexPageSource(index, { db: "scattered", store: r2, caches, edgeCache: edge, maxStorageRequests: DEFAULT_LIMITS.maxStorageRequests, waitUntil: bg.waitUntil });
  const engine = await SqlEngine.create({ build: "asyncify", fastLane: true });
  const r = await engine.execute("scattered", source, [{ sql: SQL }], LIMITS);
  await bg.settled();
  expect(r.results[0]?.rows).toEqual(expected);
  return source;
}

test("1,000 scattered rows over a full isolate cache: within the default budget, bounded by the file's regions", async () => {
  expect(file.length).toBeGreaterThan(15_000_000);
  const s = (await scattered(fullCaches(), await caches_open())).stats;
  const regions = Math.ceil(file.length / (1 << 20));
  // At most two reads per 1 MiB region of the file, and the budget is never the limit.
  expect(s.storageRequests).toBeLessThanOrEqual(2 * regions + 4);
  expect(subrequests(s)).toBeLessThan(DEFAULT_LIMITS.maxStorageRequests);
  expect(s.pagesDecodedAhead).toBeGreaterThan(0);
});

test("the same in a new isolate with the Cache API warm: Cache API lookups and reads stay within the budget", async () => {
  const edge = await caches_open();
  await scattered(fullCaches(), edge);
  const s = (await scattered(fullCaches(), edge)).stats;
  expect(s.cacheHits).toBeGreaterThan(0);
  expect(subrequests(s)).toBeLessThan(DEFAULT_LIMITS.maxStorageRequests);
});

function caches_open(): Promise<Cache> {
  return caches.open(`scattered-${Date.now()}`);
}
