/**
 * The page fetcher on its own, over real local R2: correct bytes for every
 * page, few range reads for a scan, the next run requested before the scan
 * reaches it, and a failed read-ahead that costs nothing but a retry.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, test } from "vitest";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { IndexPageSource, IsolateCaches, SEGMENT_BYTES } from "../../src/pages/page-fetcher.ts";
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
