/**
 * Decode-ahead (src/pages/frame-walk.ts) over a real LTX file written by the
 * codec: it decodes exactly the frames the index points at, steps over the
 * rest, stops at a page already decoded, and never throws on bad bytes.
 */
import { describe, expect, test } from "vitest";
import { decodeFileIndexFromTail } from "../../src/ltx/file-index.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { decodeAhead, firstFrameAtOrAfter, type WalkContext } from "../../src/pages/frame-walk.ts";
import type { PageLocation } from "../../src/pages/page-fetcher.ts";

const PAGE = 4096;
const file = { key: "db/0000/1-1.ltx", etag: "e1", size: 0, epoch: 0 };

function build(pages: number): { bytes: Uint8Array; at: Map<number, PageLocation>; contents: Map<number, Uint8Array> } {
  const w = new LtxWriter({ pageSize: PAGE, commit: pages, minTxid: 1, maxTxid: 1, timestamp: 0 });
  const contents = new Map<number, Uint8Array>();
  for (let p = 1; p <= pages; p++) {
    const page = new Uint8Array(PAGE).fill(p % 251);
    page[0] = p & 0xff;
    contents.set(p, page);
    w.addPage(p, page);
  }
  const bytes = w.finish();
  const f = { ...file, size: bytes.length };
  const idx = decodeFileIndexFromTail(bytes, bytes.length);
  const at = new Map<number, PageLocation>();
  for (let i = 0; i < idx.count; i++) at.set(idx.pgno[i] as number, { file: f, offset: idx.offset[i] as number, size: idx.size[i] as number });
  return { bytes, at, contents };
}

function context(bytes: Uint8Array, at: Map<number, PageLocation>, decoded: Map<number, Uint8Array>): WalkContext {
  return {
    pageSize: PAGE,
    pageCount: at.size,
    locateNow: (pgno) => at.get(pgno) ?? null,
    bytesAt: (_file, offset, length) => (offset + length <= bytes.length ? bytes.subarray(offset, offset + length) : null),
    isDecoded: (loc) => [...decoded.keys()].some((p) => at.get(p)?.offset === loc.offset),
    keep: (loc, page) => {
      const pgno = [...at].find(([, l]) => l.offset === loc.offset)?.[0];
      if (pgno !== undefined) decoded.set(pgno, page);
    },
  };
}

describe("decodeAhead", () => {
  test("decodes the frames after a page, each the bytes the index names, up to the limit", () => {
    const { bytes, at, contents } = build(40);
    const decoded = new Map<number, Uint8Array>();
    const from = at.get(5) as PageLocation;
    const n = decodeAhead(context(bytes, at, decoded), from.file, from.offset + from.size, bytes.length, 10);
    expect(n).toEqual({ decoded: 10, complete: false });
    expect([...decoded.keys()]).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    for (const [p, page] of decoded) expect(page).toEqual(contents.get(p));
  });

  test("steps over pages already decoded, and completes at the end of the frames", () => {
    const { bytes, at } = build(12);
    const decoded = new Map<number, Uint8Array>([[9, new Uint8Array(PAGE)]]);
    const from = at.get(2) as PageLocation;
    expect(decodeAhead(context(bytes, at, decoded), from.file, from.offset + from.size, bytes.length, 100)).toEqual({ decoded: 9, complete: true });
    expect(decoded.get(9)).toEqual(new Uint8Array(PAGE));
    const last = at.get(12) as PageLocation;
    expect(decodeAhead(context(bytes, at, new Map()), last.file, last.offset + last.size, bytes.length, 100)).toEqual({ decoded: 0, complete: true });
  });

  test("finds a region's first frame by pgno, skipping pages whose newest version is elsewhere", () => {
    const { bytes, at } = build(300);
    const ctx = context(bytes, at, new Map());
    const p200 = at.get(200) as PageLocation;
    for (const start of [0, 100, (at.get(37) as PageLocation).offset, (at.get(37) as PageLocation).offset + 1, p200.offset]) {
      const want = [...at.values()].filter((l) => l.offset >= start).sort((a, b) => a.offset - b.offset)[0]?.offset;
      expect(firstFrameAtOrAfter(ctx, p200.file, 200, start)).toBe(want);
    }
    // Pages 50..99 moved to another file: the search steps over them.
    const moved = new Map(at);
    for (let p = 50; p < 100; p++) moved.set(p, { ...(at.get(p) as PageLocation), file: { ...file, key: "db/0000/2-2.ltx" } });
    const start = (at.get(60) as PageLocation).offset;
    expect(firstFrameAtOrAfter(context(bytes, moved, new Map()), p200.file, 200, start)).toBe((at.get(100) as PageLocation).offset);
  });

  test("steps over frames the index does not point at (a newer version lives elsewhere)", () => {
    const { bytes, at } = build(10);
    const moved = new Map(at);
    moved.set(4, { ...(at.get(4) as PageLocation), file: { ...file, key: "db/0000/2-2.ltx" } });
    const decoded = new Map<number, Uint8Array>();
    const from = at.get(1) as PageLocation;
    decodeAhead(context(bytes, moved, decoded), from.file, from.offset + from.size, bytes.length, 100);
    expect([...decoded.keys()].sort((a, b) => a - b)).toEqual([2, 3, 5, 6, 7, 8, 9, 10]);
  });

  test("bytes that are not a frame end the walk without an error", () => {
    const { bytes, at } = build(10);
    const bad = bytes.slice();
    const f3 = at.get(3) as PageLocation;
    bad.fill(0xff, f3.offset + 10, f3.offset + f3.size);
    const decoded = new Map<number, Uint8Array>();
    const from = at.get(1) as PageLocation;
    expect(decodeAhead(context(bad, at, decoded), from.file, from.offset + from.size, bad.length, 100)).toEqual({ decoded: 1, complete: false });
    expect([...decoded.keys()]).toEqual([2]);
  });
});
