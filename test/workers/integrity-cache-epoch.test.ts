/**
 * Cache keys carry the file's admission epoch: bytes a flipped bit (same
 * ETag, injected on reads) put in the isolate cache and the real Cache API
 * under one admission are never served under the next one.
 */
import { env } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { IndexPageSource, IsolateCaches } from "../../src/pages/page-fetcher.ts";
import { PageIndex } from "../../src/page-index/page-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { Replica } from "../../src/replica/replica.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { withFaults } from "../support/fault-store.ts";

const PAGE = 4096;
const r2 = new R2Store(env.BUCKET);

/** A store whose reads return the object with one byte flipped at `at` (same ETag: what no real R2 can do). */
function flipping(inner: ObjectStore, key: string, at: number, on: { flip: boolean }): ObjectStore {
  const flip = (k: string, offset: number, bytes: Uint8Array) => {
    if (!on.flip || k !== key || at < offset || at >= offset + bytes.length) return bytes;
    const b = bytes.slice();
    b[at - offset] = (b[at - offset] as number) ^ 0x55;
    return b;
  };
  return withFaults(inner, {
    getRange: async (k, o, l) => {
      const r = await inner.getRange(k, o, l);
      return { ...r, bytes: flip(k, o, r.bytes) };
    },
    get: async (k) => {
      const r = await inner.get(k);
      return { ...r, bytes: flip(k, 0, r.bytes) };
    },
  });
}

describe("admission epochs in cache keys", () => {
  test("bad bytes cached under epoch 1 (isolate and Cache API) are never served under epoch 2", async () => {
    const prefix = `epoch-${Date.now().toString(36)}`;
    const pages = new Map<number, Uint8Array>();
    const w = new LtxWriter({ pageSize: PAGE, commit: 40, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000 });
    for (let p = 1; p <= 40; p++) {
      const b = crypto.getRandomValues(new Uint8Array(PAGE)); // incompressible: the block is literals, a flip decodes "fine"
      pages.set(p, b);
      w.addPage(p, b);
    }
    await r2.put(`${prefix}/0009/${formatLtxFilename(1, 1)}`, w.finish());
    const replica = new Replica(r2, { prefix });
    const [file] = await replica.listFiles();
    if (!file) throw new Error("not seeded");
    const { header, index: fi } = await replica.readIndex(file);
    const indexAt = (epoch: number) => {
      const x = new PageIndex(PAGE);
      x.apply({ ...file, epoch }, header, fi);
      return x;
    };
    const target = 17;
    const at = (fi.offset[target - 1] as number) + 300; // inside page 17's literals
    const on = { flip: true };
    const store = flipping(r2, file.key, at, on);
    const caches_ = new IsolateCaches(8 * 1024 * 1024, 1024 * 1024);
    const pending: Promise<unknown>[] = [];
    const source = (epoch: number, isolate = caches_) =>
      new IndexPageSource(indexAt(epoch), { db: prefix, store, caches: isolate, edgeCache: caches.default, maxStorageRequests: 100, waitUntil: (p) => pending.push(p) });

    const bad = await source(1).readPage(target);
    await Promise.all(pending);
    expect(bad).not.toEqual(pages.get(target)); // served wrong (before any verification could know)
    // The bad bytes are cached: another isolate at epoch 1 gets them from the Cache API without storage.
    on.flip = false; // "repaired in place": same key, same ETag, good bytes
    const other = source(1, new IsolateCaches(8 * 1024 * 1024, 1024 * 1024));
    expect(await other.readPage(target)).toEqual(bad);
    expect(other.stats.storageRequests).toBe(0);
    expect(other.stats.cacheHits).toBeGreaterThan(0);
    // Re-admitted under epoch 2: the same isolate caches and Cache API, yet the good bytes from storage.
    const readmitted = source(2);
    expect(await readmitted.readPage(target)).toEqual(pages.get(target));
    expect(readmitted.stats.storageRequests).toBe(1);
    expect(readmitted.stats.isolateHits + readmitted.stats.cacheHits + readmitted.stats.pageHits).toBe(0);
    await Promise.all(pending);
    // And from then on, epoch 2's cached bytes are the good ones.
    const later = source(2, new IsolateCaches(8 * 1024 * 1024, 1024 * 1024));
    expect(await later.readPage(target)).toEqual(pages.get(target));
    expect(later.stats.storageRequests).toBe(0);
  });
});
