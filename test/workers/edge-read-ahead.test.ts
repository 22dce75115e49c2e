/**
 * A scan served by the Cache API (a new isolate, a colo that has the blocks)
 * matches blocks ahead of need: several matches in flight, each block matched
 * once, no storage request — and a cold scan (nothing cached) makes no match
 * ahead at all. Real local R2 and the real Cache API, observed through a
 * counting wrapper.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { CACHE_BLOCK_SEGMENTS, IndexPageSource, IsolateCaches, SEGMENT_BYTES } from "../../src/pages/page-fetcher.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { backgroundWork, randomSnapshot, sameBytes } from "../support/page-source.ts";

const PAGE = 4096;
const r2 = new R2Store(env.BUCKET);
let index: PageIndex;
let pages: Uint8Array[];

beforeAll(async () => {
  // Incompressible: ~16 pages a segment, 64 a block; 40 blocks.
  ({ index, pages } = await randomSnapshot(r2, `edge-ahead-${Date.now().toString(36)}`, PAGE, 40 * 64, 5));
});

/** The real cache, with its matches counted (and how many were in flight at once). */
function counted(real: Cache): { cache: Cache; matches: () => number; peak: () => number } {
  let matches = 0;
  let inFlight = 0;
  let peak = 0;
  const cache = {
    match: async (req: RequestInfo | URL, opts?: CacheQueryOptions) => {
      matches++;
      peak = Math.max(peak, ++inFlight);
      try {
        return await real.match(req, opts);
      } finally {
        inFlight--;
      }
    },
    put: (req: RequestInfo | URL, res: Response) => real.put(req, res),
    delete: (req: RequestInfo | URL, opts?: CacheQueryOptions) => real.delete(req, opts),
  };
  return { cache: cache as Cache, matches: () => matches, peak: () => peak };
}

async function scan(edge: Cache, budget = 1000): Promise<IndexPageSource> {
  const bg = backgroundWork();
  const source = new IndexPageSource(index, { db: "edge-ahead", store: r2, caches: new IsolateCaches(64 << 20, 16 << 20), edgeCache: edge, maxStorageRequests: budget, waitUntil: bg.waitUntil });
  for (let p = 1; p <= index.commit; p++) expect(sameBytes(await source.readPage(p), pages[p - 1] as Uint8Array), `page ${p}`).toBe(true);
  await source.settle();
  await bg.settled();
  return source;
}

test("a scan the Cache API serves keeps matches in flight ahead of it; a cold scan matches nothing ahead", async () => {
  const real = await caches.open(`edge-ahead-${Date.now()}`);
  const blocks = Math.ceil(Math.ceil((index.offsetOf(index.commit) + index.sizeOf(index.commit)) / SEGMENT_BYTES) / CACHE_BLOCK_SEGMENTS);

  const cold = counted(real);
  const first = await scan(cold.cache);
  expect(first.stats.storageRequests).toBeGreaterThan(0);
  // No hit, so nothing is matched ahead: at most one match per block (the demand path's own).
  expect(cold.matches()).toBeLessThanOrEqual(blocks);

  const warm = counted(real);
  const again = await scan(warm.cache);
  expect(again.stats.storageRequests).toBe(0);
  expect(again.stats.cacheHits).toBeGreaterThan(0);
  expect(warm.peak()).toBeGreaterThan(1);
  // Every block matched once, ahead or on demand.
  expect(warm.matches()).toBeLessThanOrEqual(blocks);
});
