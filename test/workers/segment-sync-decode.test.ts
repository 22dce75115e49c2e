/**
 * A page whose frame is in the isolate's raw segments but not decoded yet (a
 * block the Cache API or a storage run brought) is answered by pageIfReady
 * without awaiting: decoded there, so SQLite's read never suspends for CPU
 * work. Bad bytes there are not its business: it answers null and readPage
 * reports them. Real local R2.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { IndexPageSource, IsolateCaches, SEGMENT_BYTES } from "../../src/pages/page-fetcher.ts";
import { segKey } from "../../src/pages/isolate-caches.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { randomSnapshot, sameBytes } from "../support/page-source.ts";

const r2 = new R2Store(env.BUCKET);
let index: PageIndex;
let pages: Uint8Array[];

beforeAll(async () => {
  ({ index, pages } = await randomSnapshot(r2, `sync-decode-${Date.now().toString(36)}`, 4096, 64, 3));
});

const source = (caches: IsolateCaches) => new IndexPageSource(index, { db: "sync-decode", store: r2, caches, edgeCache: null, maxStorageRequests: 100 });

test("after one read brought a segment, its other pages are decoded on the spot by pageIfReady", async () => {
  const caches = new IsolateCaches(16 << 20, 8 << 20);
  const src = source(caches);
  expect(src.pageIfReady(3)).toBeNull();
  expect(sameBytes(await src.readPage(2), pages[1] as Uint8Array)).toBe(true);
  const reads = src.stats.storageRequests;
  const three = src.pageIfReady(3);
  expect(three).not.toBeNull();
  expect(sameBytes(three as Uint8Array, pages[2] as Uint8Array)).toBe(true);
  expect(src.stats.storageRequests).toBe(reads);
  // Now it is a decoded page: the next ask is a page hit.
  const hits = src.stats.pageHits;
  expect(src.pageIfReady(3)).toBe(three);
  expect(src.stats.pageHits).toBe(hits + 1);
});

test("bytes that fail to decode: pageIfReady answers null, readPage reports the error", async () => {
  const caches = new IsolateCaches(16 << 20, 8 << 20);
  const src = source(caches);
  await src.readPage(2);
  const at = index.lookup(5);
  if (!at) throw new Error("page 5 not in the index");
  const seg = Math.floor(at.offset / SEGMENT_BYTES);
  const key = segKey("sync-decode", at.file, seg);
  const bad = (caches.segments.get(key) as Uint8Array).slice();
  bad.fill(0xee, at.offset - seg * SEGMENT_BYTES + 10, at.offset - seg * SEGMENT_BYTES + 200);
  caches.segments.set(key, bad);
  expect(src.pageIfReady(5)).toBeNull();
  await expect(src.readPage(5)).rejects.toMatchObject({ code: expect.stringMatching(/^LTX_/) });
});
