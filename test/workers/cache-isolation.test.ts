/**
 * Page caches never serve one database's pages to another (page-fetcher.ts:
 * isolate cache keys include the database "since ETags need not be content
 * hashes"; Cache API keys name the database too). Two databases whose LTX
 * files have the same key and the same ETag but different content: the same
 * prefix in two sources (real local R2 and a real S3 server), behind stores
 * that report one ETag for both (as version-tag ETags can; MD5 ETags cannot,
 * so that alone is injected). Both are queried with real SQLite through one
 * isolate's caches, then through the real Cache API with fresh isolate caches.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, test } from "vitest";
import { IndexPageSource, IsolateCaches, newFetchStats } from "../../src/pages/page-fetcher.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { S3Store } from "../../src/replica/s3.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { SqlEngine, type SqlValue } from "../../src/sql/engine.ts";
import { withFixedEtag } from "../support/fault-store.ts";
import { backgroundWork, loadPageIndex, putSnapshot, seededBytes } from "../support/page-source.ts";
import { FixtureDb, asWalPrimary } from "../support/sqlite-db.ts";

const PAGE = 4096;
const ROWS = 300;
const BLOB = 600;
const SQL = "SELECT id, hex(b) FROM t ORDER BY id";
const LIMITS = { maxRows: 10_000, maxResultBytes: 50_000_000, timeoutMs: 60_000 };
const prefix = `iso-${Date.now().toString(36)}`;

interface Db {
  name: string;
  store: ObjectStore;
  index: PageIndex;
  rows: SqlValue[][];
}

/** A database of ROWS incompressible blobs from `seed`: same layout for every seed, different bytes. */
async function blobDatabase(seed: number): Promise<{ pages: Uint8Array[]; rows: SqlValue[][] }> {
  const db = await FixtureDb.create(PAGE);
  await db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB NOT NULL); BEGIN;");
  const rows: SqlValue[][] = [];
  for (let id = 1; id <= ROWS; id++) {
    const blob = seededBytes(seed * 1_000_003 + id, BLOB);
    await db.run("INSERT INTO t VALUES (?, ?)", [id, blob]);
    rows.push([BigInt(id), [...blob].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase()]);
  }
  await db.exec("COMMIT;");
  const bytes = asWalPrimary(db.bytes());
  await db.close();
  const pages: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += PAGE) pages.push(bytes.slice(o, o + PAGE));
  return { pages, rows };
}

let engine: SqlEngine;
let a: Db;
let b: Db;
let runs = 0;

beforeAll(async () => {
  engine = await SqlEngine.create();
  const r2 = new R2Store(env.BUCKET);
  const s3 = new S3Store({ ...inject("s3"), forcePathStyle: true });
  const [da, db] = [await blobDatabase(1), await blobDatabase(2)];
  const keyA = await putSnapshot(r2, prefix, PAGE, da.pages);
  const keyB = await putSnapshot(s3, prefix, PAGE, db.pages);
  expect(keyB).toBe(keyA);
  const storeA = withFixedEtag(r2, "v1");
  const storeB = withFixedEtag(s3, "v1");
  a = { name: "iso-a", store: storeA, index: await loadPageIndex(storeA, prefix), rows: da.rows };
  b = { name: "iso-b", store: storeB, index: await loadPageIndex(storeB, prefix), rows: db.rows };
});

async function query(d: Db, caches: IsolateCaches, edgeCache: Cache | null, waitUntil?: (p: Promise<unknown>) => void) {
  const stats = newFetchStats();
  const source = new IndexPageSource(d.index, {
    db: d.name,
    store: d.store,
    caches,
    edgeCache,
    maxStorageRequests: 500,
    stats,
    ...(waitUntil ? { waitUntil } : {}),
  });
  // A connection of its own each time: SQLite's page cache must not answer for the tiers under test.
  const r = await engine.execute(`${d.name}#${++runs}`, source, [{ sql: SQL }], LIMITS);
  await source.settle();
  return { rows: r.results[0]?.rows, stats };
}

describe("same key, same ETag, different bytes", () => {
  test("the two files collide on everything a cache key could take from the file", () => {
    const [fa] = a.index.files;
    const [fb] = b.index.files;
    expect(fa?.key).toBe(fb?.key);
    expect(fa?.etag).toBe("v1");
    expect(fb?.etag).toBe("v1");
    // Same page count, and (same layout, different random bytes) many pages at the same offset, so a
    // decoded page cached for one file under (key, ETag, offset) would also be found for the other.
    expect(b.index.commit).toBe(a.index.commit);
    const aligned = Array.from({ length: a.index.commit }, (_, i) => i + 1).filter((p) => a.index.offsetOf(p) === b.index.offsetOf(p));
    expect(aligned.length).toBeGreaterThanOrEqual(10);
    expect(b.rows).not.toEqual(a.rows);
  });

  test("one isolate's segment and decoded-page caches: each database reads its own rows", async () => {
    const caches = new IsolateCaches(64 * 1024 * 1024, 16 * 1024 * 1024);
    const first = await query(a, caches, null);
    expect(first.rows).toEqual(a.rows);
    const second = await query(b, caches, null);
    expect(second.rows).toEqual(b.rows);
    // B's bytes came from B's store, not from A's cached segments.
    expect(second.stats.storageRequests).toBeGreaterThan(0);
    // And A still reads A from the shared caches.
    const again = await query(a, caches, null);
    expect(again.rows).toEqual(a.rows);
    expect(again.stats.storageRequests).toBe(0);
  });

  test("the Cache API (fresh isolate caches): each database reads its own rows", async () => {
    const edge = caches.default;
    const bg = backgroundWork();
    const cold = await query(a, new IsolateCaches(64 * 1024 * 1024, 16 * 1024 * 1024), edge, bg.waitUntil);
    expect(cold.rows).toEqual(a.rows);
    expect(cold.stats.storageRequests).toBeGreaterThan(0);
    await bg.settled();
    // The tier is on: a new isolate reading A is served by the Cache API alone …
    const warmA = await query(a, new IsolateCaches(64 * 1024 * 1024, 16 * 1024 * 1024), edge);
    expect(warmA.rows).toEqual(a.rows);
    expect(warmA.stats.cacheHits).toBeGreaterThan(0);
    expect(warmA.stats.storageRequests).toBe(0);
    // … while B, same key and ETag, gets nothing of A's from it.
    const otherB = await query(b, new IsolateCaches(64 * 1024 * 1024, 16 * 1024 * 1024), edge);
    expect(otherB.rows).toEqual(b.rows);
    expect(otherB.stats.cacheHits).toBe(0);
    expect(otherB.stats.storageRequests).toBeGreaterThan(0);
  });
});
