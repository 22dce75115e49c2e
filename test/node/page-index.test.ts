import { describe, expect, test } from "vitest";
import type { FileIndex } from "../../src/ltx/file-index.ts";
import type { LtxHeader } from "../../src/ltx/header.ts";
import { PageIndex } from "../../src/page-index/page-index.ts";

const header = (minTxid: number, maxTxid: number, commit: number, pageSize = 4096): LtxHeader => ({
  flags: 2, pageSize, commit, minTxid, maxTxid, timestamp: maxTxid * 1000, preApplyChecksum: 0n,
  walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeId: 0n,
});
const fidx = (pgnos: number[]): FileIndex => ({
  count: pgnos.length,
  pgno: Uint32Array.from(pgnos),
  offset: Float64Array.from(pgnos.map((_, i) => 100 + i * 50)),
  size: Uint32Array.from(pgnos.map(() => 50)),
});
const info = (key: string, level: number, minTxid: number, maxTxid: number) => ({ key, level, minTxid, maxTxid, size: 1000, etag: key });

describe("PageIndex", () => {
  test("later files overwrite earlier ones; unreferenced files are dropped", () => {
    const x = new PageIndex(4096);
    x.apply(info("snap", 9, 1, 5), header(1, 5, 4), fidx([1, 2, 3, 4]));
    x.apply(info("l0", 0, 6, 6), header(6, 6, 4), fidx([2]));
    expect(x.lookup(1)?.file.key).toBe("snap");
    expect(x.lookup(2)?.file.key).toBe("l0");
    expect(x.lookup(2)?.offset).toBe(100);
    expect(x.txid).toBe(6);
    x.apply(info("l1", 1, 1, 7), header(1, 7, 4), fidx([1, 2, 3, 4]));
    expect(x.files.map((f) => f.key)).toEqual(["l1"]);
    expect(x.missingPages()).toEqual([]);
  });

  test("a shrinking Commit drops pages above it and keeps the rest", () => {
    const x = new PageIndex(4096);
    x.apply(info("snap", 9, 1, 5), header(1, 5, 10), fidx([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    x.apply(info("vac", 0, 6, 6), header(6, 6, 3), fidx([1, 3]));
    expect(x.commit).toBe(3);
    expect(x.lookup(2)?.file.key).toBe("snap");
    expect(x.lookup(4)).toBeNull();
    expect(x.entries().pgno).toEqual(Uint32Array.from([1, 2, 3]));
    // Growing again exposes only pages the new file provides, never stale ones.
    x.apply(info("grow", 0, 7, 7), header(7, 7, 5), fidx([4, 5]));
    expect(x.lookup(4)?.file.key).toBe("grow");
    expect(x.missingPages()).toEqual([]);
  });

  test("deltas carry only entries set after a TXID, and merge reproduces the index", () => {
    const x = new PageIndex(4096);
    x.apply(info("snap", 9, 1, 5), header(1, 5, 1000), fidx(Array.from({ length: 1000 }, (_, i) => i + 1)));
    const copy = new PageIndex(4096);
    copy.merge(x.position, x.files, x.entries());
    const since = copy.version;
    x.apply(info("l0", 0, 6, 6), header(6, 6, 1001), fidx([7, 1001]));
    const delta = x.entries(since);
    expect(Array.from(delta.pgno)).toEqual([7, 1001]);
    copy.merge(x.position, x.filesFor(delta), delta);
    for (let p = 1; p <= 1001; p++) expect(copy.lookup(p)).toEqual(x.lookup(p));
    expect(copy.txid).toBe(6);
  });

  test("a delta across a shrink and regrowth never leaves stale pages", () => {
    const x = new PageIndex(4096);
    x.apply(info("snap", 9, 1, 5), header(1, 5, 10), fidx([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const copy = new PageIndex(4096);
    copy.merge(x.position, x.files, x.entries());
    const since = copy.version;
    x.apply(info("vac", 0, 6, 6), header(6, 6, 3), fidx([1]));
    x.apply(info("grow", 0, 7, 7), header(7, 7, 6), fidx([4, 5, 6]));
    const delta = x.entries(since);
    copy.merge(x.position, x.filesFor(delta), delta, x.lowestCommitSince(since));
    for (let p = 1; p <= 10; p++) expect(copy.lookup(p)).toEqual(x.lookup(p));
    expect(copy.missingPages()).toEqual([]);
  });

  test("adopting a rebuilt index re-points only moved pages, at a new version", () => {
    const x = new PageIndex(4096);
    x.apply(info("snap", 9, 1, 5), header(1, 5, 4), fidx([1, 2, 3, 4]));
    x.apply(info("l0-6", 0, 6, 6), header(6, 6, 4), fidx([2]));
    const before = x.version;
    const fresh = new PageIndex(4096);
    fresh.apply(info("snap", 9, 1, 5), header(1, 5, 4), fidx([1, 2, 3, 4]));
    fresh.apply(info("l1", 1, 6, 6), header(6, 6, 4), fidx([2]));
    expect(x.adopt(fresh)).toBe(1);
    expect(x.version).toBe(before + 1);
    expect(Array.from(x.entries(before).pgno)).toEqual([2]);
    expect(x.lookup(2)?.file.key).toBe("l1");
    expect(x.files.map((f) => f.key).sort()).toEqual(["l1", "snap"]);
    expect(x.adopt(fresh)).toBe(0);
  });

  test("the lock page is never indexed and a 1 GiB database stays compact", () => {
    const pages = 262_144;
    const x = new PageIndex(4096);
    const all = Array.from({ length: pages }, (_, i) => i + 1).filter((p) => p !== 262_145);
    x.apply(info("snap", 9, 1, 1), header(1, 1, pages), fidx(all));
    expect(x.byteLength).toBeLessThan(8 * 1024 * 1024);
    expect(x.pageCount).toBe(pages);
  });
});
