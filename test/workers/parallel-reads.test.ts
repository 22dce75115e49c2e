/**
 * "6 simultaneous connections per request: parallel range reads are capped
 * at 6" (docs/limits.md; docs/architecture.md: "range reads (runs, ≤ 6 in
 * parallel)"). One page read that needs many separate runs at once: a scan
 * at full run length jumps over a stretch where every other segment is
 * already in the isolate cache (other queries read them), so the fetcher
 * fills eight gaps with eight range reads. Concurrency is measured by a
 * wrapper around the real local R2 store, never by time.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { IndexPageSource, IsolateCaches, SEGMENT_BYTES } from "../../src/pages/page-fetcher.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { randomSnapshot, rangeLog, sameBytes, segmentsOf } from "../support/page-source.ts";

const PAGE = 4096;
/** Storage reads a query may have in flight at once (docs/limits.md). */
const MAX_IN_FLIGHT = 6;
let index: PageIndex;
let pages: Uint8Array[];
const r2 = new R2Store(env.BUCKET);

beforeAll(async () => {
  ({ index, pages } = await randomSnapshot(r2, `parallel-${Date.now().toString(36)}`, PAGE, 1500, 11));
});

/** A page whose frame lies wholly inside segment `seg`. */
function pageIn(seg: number): number {
  for (let p = 1; p <= index.commit; p++) {
    const s = segmentsOf(index, p, SEGMENT_BYTES);
    if (s.first === seg && s.last === seg) return p;
  }
  throw new Error(`no page wholly inside segment ${seg}`);
}

function source(store: R2Store | ReturnType<typeof rangeLog>["store"], caches: IsolateCaches): IndexPageSource {
  return new IndexPageSource(index, { db: "parallel", store, caches, edgeCache: null, maxStorageRequests: 500 });
}

async function expectPage(src: IndexPageSource, p: number): Promise<void> {
  expect(sameBytes(await src.readPage(p), pages[p - 1] as Uint8Array), `page ${p}`).toBe(true);
}

test(`a page read that needs 8 separate runs keeps at most ${MAX_IN_FLIGHT} storage reads in flight`, async () => {
  const caches = new IsolateCaches(64 * 1024 * 1024, 1024 * 1024);
  // Other queries (their own sources, one isolate) have read single segments: 31, 33 … 45, and 48.
  // Highest first, so none of these reads looks sequential and each fetches exactly its segment.
  const other = rangeLog(r2);
  const warm = [48, 45, 43, 41, 39, 37, 35, 33, 31];
  for (const seg of warm) await expectPage(source(other.store, caches), pageIn(seg));
  expect(other.reads.map((r) => r.offset / SEGMENT_BYTES)).toEqual(warm);

  // This query scans from page 1: its runs double to 1 MiB (segments 0, 1-2, 3-6, 7-14, 15-30) …
  const log = rangeLog(r2);
  const scan = source(log.store, caches);
  for (let p = 1; segmentsOf(index, p, SEGMENT_BYTES).last <= 30; p++) await expectPage(scan, p);
  expect(log.reads.map((r) => [r.offset / SEGMENT_BYTES, (r.offset + r.length) / SEGMENT_BYTES - 1])).toEqual([
    [0, 0],
    [1, 2],
    [3, 6],
    [7, 14],
    [15, 30],
  ]);
  // … then steps over segments 31-46 (another b-tree's pages) to a page in segment 47. Continuing the
  // run means fetching the 8 gaps 32, 34 … 44 and 46-47 (segment 48, where a read-ahead would start, is cached).
  const before = log.reads.length;
  await expectPage(scan, pageIn(47));
  await scan.settle();
  const gaps = log.reads.slice(before);
  expect(gaps.map((r) => r.offset / SEGMENT_BYTES)).toEqual([32, 34, 36, 38, 40, 42, 44, 46]);
  expect(Math.max(...gaps.map((r) => r.inFlight))).toBe(MAX_IN_FLIGHT);
  expect(log.peak()).toBeLessThanOrEqual(MAX_IN_FLIGHT);
  // And what it fetched is right.
  for (const seg of [32, 40, 46]) await expectPage(scan, pageIn(seg));
});
