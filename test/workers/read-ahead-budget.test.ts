/**
 * "Read-ahead never takes the last two requests of a query's budget"
 * (docs/limits.md). A cold sequential scan of an incompressible file in real
 * local R2 through the page fetcher, with a budget of 8 storage requests: the
 * scan ramps up to 1 MiB runs and reads ahead, then runs out of budget
 * (QUERY_STORAGE_LIMIT). Each range read is classed by what SQLite was asking
 * for when it was sent: a read that starts beyond the segments of the page
 * being read is a read-ahead.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { IndexPageSource, IsolateCaches, SEGMENT_BYTES } from "../../src/pages/page-fetcher.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { randomSnapshot, rangeLog, sameBytes, segmentsOf } from "../support/page-source.ts";

const PAGE = 4096;
const BUDGET = 8;
let index: PageIndex;
let pages: Uint8Array[];
const r2 = new R2Store(env.BUCKET);

beforeAll(async () => {
  // ~12 MB, ~190 segments: far more than 8 requests can read.
  ({ index, pages } = await randomSnapshot(r2, `read-ahead-${Date.now().toString(36)}`, PAGE, 3000, 7));
});

test(`with a budget of ${BUDGET} storage requests, the last two are demand reads, never read-ahead`, async () => {
  const log = rangeLog(r2);
  const source = new IndexPageSource(index, {
    db: "read-ahead",
    store: log.store,
    caches: new IsolateCaches(64 * 1024 * 1024, 1024 * 1024),
    edgeCache: null,
    maxStorageRequests: BUDGET,
  });
  /** For each range read: was it sent while the page being read needed it? */
  const kinds: ("demand" | "ahead")[] = [];
  let failure: unknown = null;
  for (let p = 1; p <= index.commit; p++) {
    const want = segmentsOf(index, p, SEGMENT_BYTES);
    const before = log.reads.length;
    try {
      const got = await source.readPage(p);
      expect(sameBytes(got, pages[p - 1] as Uint8Array), `page ${p}`).toBe(true);
    } catch (e) {
      failure = e;
    }
    for (const r of log.reads.slice(before)) kinds.push(Math.floor(r.offset / SEGMENT_BYTES) > want.last ? "ahead" : "demand");
    if (failure) break;
  }
  expect(failure).toMatchObject({ code: "QUERY_STORAGE_LIMIT" });
  await source.settle();
  // The whole budget was used, and no more.
  expect(log.reads).toHaveLength(BUDGET);
  expect(source.stats.storageRequests).toBe(BUDGET);
  expect(kinds).toHaveLength(BUDGET);
  // The scan did read ahead while it could (else this would prove nothing) …
  expect(kinds.slice(0, BUDGET - 2)).toContain("ahead");
  // … but the last two requests of the budget went to reads SQLite asked for.
  expect(kinds.slice(BUDGET - 2)).toEqual(["demand", "demand"]);
});
