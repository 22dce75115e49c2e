/**
 * Cache API operations never starve storage reads: matches and puts use only
 * the first half of a query's subrequest budget (docs/limits.md), so a cold
 * read scattered over blocks no colo has cached gets the second half for
 * storage. Real local R2 and the real Cache API (a fresh cache of its own).
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { CACHE_BLOCK_SEGMENTS, IndexPageSource, IsolateCaches, SEGMENT_BYTES } from "../../src/pages/page-fetcher.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { backgroundWork, randomSnapshot, sameBytes, segmentsOf } from "../support/page-source.ts";

const PAGE = 4096;
const BUDGET = 40;
const BLOCKS = 24;
let index: PageIndex;
let pages: Uint8Array[];
const r2 = new R2Store(env.BUCKET);

beforeAll(async () => {
  // Incompressible pages: ~64 a block, so reading every 64th page touches a new block each time.
  ({ index, pages } = await randomSnapshot(r2, `half-budget-${Date.now().toString(36)}`, PAGE, BLOCKS * 64 + 64, 11));
});

test(`${BLOCKS} pages in ${BLOCKS} different cold blocks fit a budget of ${BUDGET} (3 subrequests a block would need ${BLOCKS * 3})`, async () => {
  const edge = await caches.open(`half-budget-${Date.now()}`);
  const bg = backgroundWork();
  const source = new IndexPageSource(index, { db: "half-budget", store: r2, caches: new IsolateCaches(64 * 1024 * 1024, 16 * 1024 * 1024), edgeCache: edge, maxStorageRequests: BUDGET, waitUntil: bg.waitUntil });
  const blocks = new Set<number>();
  // Backwards, so no read looks like a forward scan (which would be read in growing runs).
  for (let p = index.commit; blocks.size < BLOCKS; p -= 64) {
    const block = Math.floor(segmentsOf(index, p, SEGMENT_BYTES).first / CACHE_BLOCK_SEGMENTS);
    if (blocks.has(block)) continue;
    blocks.add(block);
    expect(sameBytes(await source.readPage(p), pages[p - 1] as Uint8Array), `page ${p}`).toBe(true);
  }
  await bg.settled();
  const s = source.stats;
  // One read a block at most (fewer where the query came back to a 1 MiB region: the rest of it is read at once).
  expect(s.storageRequests).toBeLessThanOrEqual(BLOCKS);
  expect(s.storageRequests + s.cacheOps).toBeLessThanOrEqual(BUDGET);
  // Lookups and puts stopped at half the budget and were skipped from then on.
  expect(s.cacheOps).toBeLessThanOrEqual(BUDGET / 2);
  expect(s.cacheOpsSkipped).toBeGreaterThan(0);
});
