/**
 * "6 simultaneous connections per request: parallel range reads are capped
 * at 6" (docs/limits.md; docs/architecture.md). The cap holds for every
 * storage read of one query together — independent demand reads, the gap
 * fills of a scan, and its read-ahead. Concurrency is measured by a wrapper
 * around the real local R2 store, never by time.
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

function source(store: ReturnType<typeof rangeLog>["store"], caches = new IsolateCaches(64 * 1024 * 1024, 1024 * 1024)): IndexPageSource {
  return new IndexPageSource(index, { db: "parallel", store, caches, edgeCache: null, maxStorageRequests: 500 });
}

async function expectPage(src: IndexPageSource, p: number): Promise<void> {
  expect(sameBytes(await src.readPage(p), pages[p - 1] as Uint8Array), `page ${p}`).toBe(true);
}

/** One page from each of `n` cache blocks (4 segments) with a block between them, so no two reads can merge. */
function spreadPages(n: number): number[] {
  const out: number[] = [];
  let lastSeg = -100;
  for (let p = 1; p <= index.commit && out.length < n; p++) {
    const s = segmentsOf(index, p, SEGMENT_BYTES);
    if (s.first === s.last && Math.floor(s.first / 4) > Math.floor(lastSeg / 4) + 1) {
      out.push(p);
      lastSeg = s.first;
    }
  }
  expect(out.length).toBe(n);
  return out;
}

test(`10 independent page reads of one query: at most ${MAX_IN_FLIGHT} storage reads in flight, all ${MAX_IN_FLIGHT} used`, async () => {
  const log = rangeLog(r2);
  const src = source(log.store);
  const wanted = spreadPages(10);
  await Promise.all(wanted.map((p) => expectPage(src, p)));
  expect(log.reads.length).toBeGreaterThanOrEqual(10);
  expect(log.peak()).toBe(MAX_IN_FLIGHT);
});

test(`a scan with its read-ahead running, plus reads elsewhere: never more than ${MAX_IN_FLIGHT} in flight`, async () => {
  const log = rangeLog(r2);
  const src = source(log.store);
  // Scan forward until runs reach full length and a read-ahead is in flight…
  let p = 1;
  for (; segmentsOf(index, p, SEGMENT_BYTES).last < 20; p++) await expectPage(src, p);
  // …then, while it is, read pages scattered over the rest of the file at once.
  const far = spreadPages(12).filter((x) => segmentsOf(index, x, SEGMENT_BYTES).first > 44);
  expect(far.length).toBeGreaterThanOrEqual(MAX_IN_FLIGHT);
  await Promise.all([...far.map((x) => expectPage(src, x)), expectPage(src, p), expectPage(src, p + 1)]);
  await src.settle();
  expect(log.peak()).toBeLessThanOrEqual(MAX_IN_FLIGHT);
  expect(log.peak()).toBe(MAX_IN_FLIGHT);
});
