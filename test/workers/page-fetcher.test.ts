/**
 * The page fetcher on its own, over real local R2: correct bytes for every
 * page, few range reads for a scan, the next run requested before the scan
 * reaches it, a failed read-ahead that costs nothing but a retry, and the
 * real Cache API's operations counted in the query's subrequest budget.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, test } from "vitest";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { CACHE_BLOCK_SEGMENTS, FetchLimitError, IndexPageSource, IsolateCaches, SEGMENT_BYTES, subrequests } from "../../src/pages/page-fetcher.ts";
import { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { Replica } from "../../src/replica/replica.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { withFaults } from "../support/fault-store.ts";

const PAGE = 4096;
const PAGES = 3000;
const pages: Uint8Array[] = [];
let index: PageIndex;
const r2 = new R2Store(env.BUCKET);

beforeAll(async () => {
  const w = new LtxWriter({ pageSize: PAGE, commit: PAGES, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000 });
  for (let p = 1; p <= PAGES; p++) {
    // Incompressible pages: the file is ~12 MB, about 190 segments.
    const b = new Uint8Array(PAGE);
    crypto.getRandomValues(b);
    pages[p] = b;
    w.addPage(p, b);
  }
  await r2.put(`fetcher/0009/${formatLtxFilename(1, 1)}`, w.finish());
  const replica = new Replica(r2, { prefix: "fetcher" });
  const [file] = await replica.listFiles();
  if (!file) throw new Error("not seeded");
  const { header, index: fi } = await replica.readIndex(file);
  index = new PageIndex(PAGE);
  index.apply(file, header, fi);
}, 60_000);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Event = { kind: "get"; first: number; last: number } | { kind: "read"; seg: number };

function logged(inner: ObjectStore, events: Event[], failOnce?: (offset: number) => boolean): ObjectStore {
  return withFaults(inner, {
    getRange: async (k, offset, length) => {
      events.push({ kind: "get", first: offset / SEGMENT_BYTES, last: Math.floor((offset + length - 1) / SEGMENT_BYTES) });
      if (failOnce?.(offset)) throw new Error("injected transient failure");
      return inner.getRange(k, offset, length);
    },
  });
}

async function scan(store: ObjectStore, events: Event[]): Promise<IndexPageSource> {
  const source = new IndexPageSource(index, {
    db: "fetcher",
    store,
    caches: new IsolateCaches(64 * 1024 * 1024, 1024 * 1024),
    edgeCache: null,
    maxStorageRequests: 100,
  });
  for (let p = 1; p <= PAGES; p++) {
    events.push({ kind: "read", seg: Math.floor(index.offsetOf(p) / SEGMENT_BYTES) });
    const got = await source.readPage(p);
    if (!sameBytes(got, pages[p] as Uint8Array)) throw new Error(`page ${p} differs`);
  }
  return source;
}

describe("IndexPageSource", () => {
  test("a cold scan reads every page correctly with few range reads, the next run requested ahead of need", async () => {
    const events: Event[] = [];
    const source = await scan(logged(r2, events), events);
    const gets = events.filter((e): e is Extract<Event, { kind: "get" }> => e.kind === "get");
    const segments = Math.ceil((index.offsetOf(PAGES) + index.sizeOf(PAGES)) / SEGMENT_BYTES);
    expect(source.stats.storageRequests).toBe(gets.length);
    expect(gets.length).toBeLessThanOrEqual(Math.ceil(segments / 16) + 6); // 1 MiB runs after a short ramp
    // Pipelining: a range read issued while the scan was still in an earlier segment.
    let readingSeg = 0;
    let ahead = 0;
    for (const e of events) {
      if (e.kind === "read") readingSeg = e.seg;
      else if (e.first > readingSeg) ahead++;
    }
    expect(ahead).toBeGreaterThanOrEqual(Math.floor(segments / 16) - 3);
  });

  test("a read-ahead that fails costs one retry when the data is needed, never the query", async () => {
    const clean: Event[] = [];
    await scan(logged(r2, clean), clean);
    const normal = clean.filter((e) => e.kind === "get").length;
    const events: Event[] = [];
    let failed = 0;
    // Fail the first range read beyond the ramp: by then reads are issued ahead of need.
    const store = logged(r2, events, (offset) => {
      if (failed === 0 && offset / SEGMENT_BYTES >= 32) {
        failed++;
        return true;
      }
      return false;
    });
    await scan(store, events);
    expect(failed).toBe(1);
    expect(events.filter((e) => e.kind === "get").length).toBe(normal + 1);
  });
});

/** caches.default, with every operation the fetcher makes on it counted (the real cache does the work). */
function countedCache(calls: { match: number; put: number; delete: number }): Cache {
  const real = caches.default;
  return {
    match: (req: RequestInfo | URL, o?: CacheQueryOptions) => {
      calls.match++;
      return real.match(req, o);
    },
    put: (req: RequestInfo | URL, res: Response) => {
      calls.put++;
      return real.put(req, res);
    },
    delete: (req: RequestInfo | URL, o?: CacheQueryOptions) => {
      calls.delete++;
      return real.delete(req, o);
    },
  };
}

describe("the subrequest budget counts Cache API operations", () => {
  async function read(db: string, budget: number, from: number, to: number, calls: { match: number; put: number; delete: number }, gets: { n: number }) {
    const pending: Promise<unknown>[] = [];
    const source = new IndexPageSource(index, {
      db,
      store: withFaults(r2, {
        getRange: (k, o, l) => {
          gets.n++;
          return r2.getRange(k, o, l);
        },
      }),
      caches: new IsolateCaches(64 * 1024 * 1024, 1024 * 1024),
      edgeCache: countedCache(calls),
      maxStorageRequests: budget,
      waitUntil: (p) => pending.push(p),
    });
    let error: unknown = null;
    try {
      for (let p = from; p <= to; p++) {
        const got = await source.readPage(p);
        if (!sameBytes(got, pages[p] as Uint8Array)) throw new Error(`page ${p} differs`);
      }
    } catch (e) {
      error = e;
    }
    await source.settle();
    await Promise.all(pending);
    return { source, error };
  }

  test("matches, puts and storage reads together stay within the budget; puts past half of it are skipped, never failing the query", async () => {
    const db = `budget-${Date.now().toString(36)}`;
    const calls = { match: 0, put: 0, delete: 0 };
    const gets = { n: 0 };
    // ~3 MiB of pages: a few runs, many more segments than half the budget.
    const { source, error } = await read(db, 40, 1, 700, calls, gets);
    expect(error).toBeNull();
    const st = source.stats;
    expect(st.storageRequests).toBe(gets.n);
    expect(st.cacheOps).toBe(calls.match + calls.put + calls.delete);
    expect(subrequests(st)).toBe(gets.n + calls.match + calls.put + calls.delete);
    expect(subrequests(st)).toBeLessThanOrEqual(40);
    expect(calls.match).toBeGreaterThan(0);
    expect(calls.put).toBeGreaterThan(0);
    expect(st.cacheOpsSkipped).toBeGreaterThan(0); // more segments were fetched than puts fit in half the budget
    // A second isolate (empty isolate cache) finds the segments that were put in the Cache API.
    const again = await read(db, 40, 1, 700, { match: 0, put: 0, delete: 0 }, { n: 0 });
    expect(again.error).toBeNull();
    expect(again.source.stats.cacheHits).toBeGreaterThan(0);
  });

  test("a cold scan puts each cache block once, within its budget; a second isolate reads it all from the Cache API", async () => {
    const db = `budget-blocks-${Date.now().toString(36)}`;
    const calls = { match: 0, put: 0, delete: 0 };
    const { source, error } = await read(db, 500, 1, PAGES, calls, { n: 0 });
    expect(error).toBeNull();
    const blocks = Math.ceil(Math.ceil((index.offsetOf(PAGES) + index.sizeOf(PAGES)) / SEGMENT_BYTES) / CACHE_BLOCK_SEGMENTS);
    expect(calls.put).toBe(blocks); // 64 KiB segments, 256 KiB Cache API entries: one put per block
    expect(subrequests(source.stats)).toBeLessThanOrEqual(250);
    const warm = { match: 0, put: 0, delete: 0 };
    const again = await read(db, 500, 1, PAGES, warm, { n: 0 });
    expect(again.error).toBeNull();
    expect(again.source.stats.storageRequests).toBe(0);
    expect(warm.match).toBe(blocks);
    expect(warm.put).toBe(0);
  });

  test("a query that needs more fails with QUERY_STORAGE_LIMIT having made at most the budget's subrequests", async () => {
    const db = `budget-over-${Date.now().toString(36)}`;
    const calls = { match: 0, put: 0, delete: 0 };
    const gets = { n: 0 };
    const { source, error } = await read(db, 12, 1, PAGES, calls, gets);
    expect(error).toBeInstanceOf(FetchLimitError);
    expect((error as FetchLimitError).message).toMatch(/more than 12 storage requests and Cache API operations/);
    expect(gets.n + calls.match + calls.put + calls.delete).toBeLessThanOrEqual(12);
    expect(subrequests(source.stats)).toBeLessThanOrEqual(12);
  });

  test("a scan that fits its budget without the Cache API completes with it when the budget has room for a match per run", async () => {
    // The budget a cold scan needs without the Cache API (read-ahead included) …
    const plain = new IndexPageSource(index, { db: "fetcher", store: r2, caches: new IsolateCaches(64 * 1024 * 1024, 1024 * 1024), edgeCache: null, maxStorageRequests: 1000 });
    for (let p = 1; p <= 900; p++) await plain.readPage(p);
    await plain.settle();
    const need = plain.stats.storageRequests;
    // … is enough with it too when the budget leaves room for a match per demand run.
    const db = `budget-fit-${Date.now().toString(36)}`;
    const { source, error } = await read(db, 2 * need + 4, 1, 900, { match: 0, put: 0, delete: 0 }, { n: 0 });
    expect(error).toBeNull();
    expect(subrequests(source.stats)).toBeLessThanOrEqual(2 * need + 4);
  });
});
