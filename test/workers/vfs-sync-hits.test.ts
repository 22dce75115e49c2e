/**
 * @module
 * Warm reads never suspend: a page the source holds in memory
 * (`pageIfReady`) is answered synchronously by the VFS, on both wa-sqlite
 * builds, and the real page fetcher offers every decoded page it holds.
 */

import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, test } from "vitest";
import { IndexPageSource, IsolateCaches } from "../../src/pages/page-fetcher.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { SqlEngine } from "../../src/sql/engine.ts";
import type { PageSource } from "../../src/vfs/page-source.ts";
import { readRangeIfReady } from "../../src/vfs/read-range.ts";
import { asWalPrimary, buildStandardDb, TestPageSource } from "../support/sqlite-db.ts";
import { loadPageIndex, putSnapshot } from "../support/page-source.ts";

const LIMITS = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 20_000 };
const SCAN = "SELECT count(*), sum(price), min(name), max(length(payload)) FROM items";

/**
 * Serves every page from memory through `pageIfReady` only: its async
 * `readPage` fails, so a query that completes read nothing the slow way.
 */
class ReadyOnlySource implements PageSource {
  readonly pageSize: number;
  readonly pageCount: number;
  ready = 0;
  constructor(
    readonly inner: TestPageSource,
    readonly txid: number,
  ) {
    this.pageSize = inner.pageSize;
    this.pageCount = inner.pageCount;
  }
  pageIfReady(pgno: number): Uint8Array | null {
    this.ready++;
    return this.inner.bytes.subarray((pgno - 1) * this.pageSize, pgno * this.pageSize);
  }
  readPage(pgno: number): Promise<Uint8Array> {
    return Promise.reject(new Error(`readPage(${pgno}) was called although the page was ready`));
  }
}

let file: Uint8Array;
beforeAll(async () => {
  const fixture = await buildStandardDb(4096, 4000);
  file = asWalPrimary(fixture.bytes());
  await fixture.close();
}, 120_000);

describe("readRangeIfReady", () => {
  test("fills a ready page and returns its code; a page not ready leaves the target untouched and counts nothing", () => {
    const inner = new TestPageSource(file, 9);
    let ready = true;
    const src: PageSource = { pageSize: 4096, pageCount: inner.pageCount, txid: 9, readPage: (n) => inner.readPage(n), pageIfReady: (n) => (ready ? inner.bytes.subarray((n - 1) * 4096, n * 4096) : null) };
    const counted: number[] = [];
    const target = new Uint8Array(4096).fill(7);
    expect(readRangeIfReady(src, target, 4096 * 2, (n) => counted.push(n))).toBe(VFS.SQLITE_OK);
    expect(target).toEqual(file.subarray(4096 * 2, 4096 * 3));
    expect(counted).toEqual([3]);
    // Page 1 is patched in the copy (the change counter is the TXID), as on the async path.
    const header = new Uint8Array(100);
    expect(readRangeIfReady(src, header, 0)).toBe(VFS.SQLITE_OK);
    expect([header[18], header[19]]).toEqual([1, 1]);
    expect(new DataView(header.buffer).getUint32(24, false)).toBe(9);
    // Past the end: zero-filled short read without touching the source.
    const tail = new Uint8Array(4096).fill(7);
    ready = false;
    expect(readRangeIfReady(src, tail, inner.pageCount * 4096)).toBe(VFS.SQLITE_IOERR_SHORT_READ);
    expect(tail.every((b) => b === 0)).toBe(true);
    const cold = new Uint8Array(4096).fill(7);
    expect(readRangeIfReady(src, cold, 4096 * 4, (n) => counted.push(n))).toBeNull();
    expect(cold.every((b) => b === 7)).toBe(true);
    expect(counted).toEqual([3]);
  });

  test("a source without pageIfReady always takes the async path", () => {
    expect(readRangeIfReady(new TestPageSource(file, 1), new Uint8Array(4096), 0)).toBeNull();
  });
});

for (const build of ["jspi", "asyncify"] as const) {
  test(`${build}: a query over pages that are all ready never calls the async readPage`, async () => {
    const engine = await SqlEngine.create({ build, instances: 1 });
    const src = new ReadyOnlySource(new TestPageSource(file, 3), 3);
    const { results, stats } = await engine.execute(`ready-${build}`, src, [{ sql: SCAN }, { sql: "PRAGMA integrity_check" }], LIMITS);
    expect(results[0]?.rows).toEqual([[4000n, 4001000, "item-1", 200n]]);
    expect(results[1]?.rows).toEqual([["ok"]]);
    expect(src.ready).toBeGreaterThan(src.pageCount / 2);
    expect(stats.pagesRead).toBe(src.ready);
  });
}

test("the page fetcher offers decoded pages it holds, and only those; a warm repeat is served entirely that way", async () => {
  const r2 = new R2Store(env.BUCKET);
  const db = `sync-hits-${Date.now()}`;
  const pages = Array.from({ length: file.length / 4096 }, (_, i) => file.subarray(i * 4096, (i + 1) * 4096));
  await putSnapshot(r2, db, 4096, pages);
  const index = await loadPageIndex(r2, db);
  const caches = IsolateCaches.fromBudget(32 * 1024 * 1024);
  const source = () => new IndexPageSource(index, { db, store: r2, caches, edgeCache: null, maxStorageRequests: 1000 });

  const cold = source();
  expect(cold.pageIfReady(2)).toBeNull();
  expect(cold.stats.pagesRead).toBe(0);
  const page2 = await cold.readPage(2);
  expect(page2).toEqual(pages[1]);
  expect(cold.pageIfReady(2)).toBe(page2);
  expect(cold.stats.pageHits).toBe(1);

  const engine = await SqlEngine.create({ build: "asyncify", instances: 1 });
  const first = await engine.execute(db, source(), [{ sql: SCAN }], LIMITS);
  expect(first.results[0]?.rows).toEqual([[4000n, 4001000, "item-1", 200n]]);
  // Every page is decoded in the isolate now: a repeat over a fresh source (another query) never reads asynchronously.
  const warm = source();
  let asyncReads = 0;
  const readPage = warm.readPage.bind(warm);
  warm.readPage = (n: number) => {
    asyncReads++;
    return readPage(n);
  };
  // A new engine so SQLite's own page cache is empty and every page goes through the VFS.
  const fresh = await SqlEngine.create({ build: "asyncify", instances: 1 });
  const again = await fresh.execute(db, warm, [{ sql: SCAN }], LIMITS);
  expect(again.results[0]?.rows).toEqual(first.results[0]?.rows);
  expect(asyncReads).toBe(0);
  expect(warm.stats.pageHits).toBe(warm.stats.pagesRead);
  expect(warm.stats.storageRequests).toBe(0);
});
