/**
 * @module
 * Tests for src/ltx/lz4.ts: the LTX spec worked examples (§10.2/§10.3), every
 * page of every Go-written fixture file, encoder round trips, hand-made edge
 * cases, and mutation fuzzing against a deliberately naive reference decoder.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { LtxError } from "../../src/ltx/errors.ts";
import { decodeLz4Block, decodeLz4Frame, encodeLz4Block, encodeLz4Frame } from "../../src/ltx/lz4.ts";
import { xxhash32 } from "../../src/ltx/xxhash32.ts";

// ---------------------------------------------------------------------------
// Helpers

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.trim().split(/\s+/).map((x) => parseInt(x, 16)));
}

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u32le(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** Deterministic PRNG (mulberry32) so that fuzz failures are reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(n: number, rnd: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
  return b;
}

/** The spec §10 page: "SQLite format 3\0" then i % 7 for i = 16..511. */
function specPage(): Uint8Array {
  const page = new Uint8Array(512);
  page.set(new TextEncoder().encode("SQLite format 3\0"));
  for (let i = 16; i < 512; i++) page[i] = i % 7;
  return page;
}

/** The 48-byte block of spec §10.2. */
const SPEC_BLOCK = hex(`
  FF 08
  53 51 4C 69 74 65 20 66 6F 72 6D 61 74 20 33 00 02 03 04 05 06 00 01
  07 00 FF C3
  00 DC 01
  00 DC 01
  C0 03 04 05 06 00 01 02 03 04 05 06 00`);

/** Spec §10.3 frame: header, block size 48, the block, EndMark, content checksum. */
const SPEC_FRAME = concat(hex("04 22 4D 18 64 40 A7 30 00 00 00"), SPEC_BLOCK, hex("00 00 00 00 77 46 93 0E"));

/**
 * Straightforward reference block decoder with the same acceptance rules as
 * the production one, written for clarity rather than speed.
 */
function referenceDecode(src: Uint8Array, maxOut: number): Uint8Array | "error" {
  const out: number[] = [];
  let s = 0;
  if (src.length === 0) return "error";
  for (;;) {
    if (s >= src.length) return "error";
    const token = src[s++]!;
    let lit = token >> 4;
    if (lit === 15) {
      for (;;) {
        if (s >= src.length) return "error";
        const b = src[s++]!;
        lit += b;
        if (b !== 255) break;
      }
    }
    if (s + lit > src.length || out.length + lit > maxOut) return "error";
    for (let i = 0; i < lit; i++) out.push(src[s++]!);
    if (s === src.length) return Uint8Array.from(out);
    if (s + 2 > src.length) return "error";
    const off = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (off === 0 || off > out.length) return "error";
    let ml = token & 15;
    if (ml === 15) {
      for (;;) {
        if (s >= src.length) return "error";
        const b = src[s++]!;
        ml += b;
        if (b !== 255) break;
      }
    }
    ml += 4;
    if (out.length + ml > maxOut) return "error";
    for (let i = 0; i < ml; i++) out.push(out[out.length - off]!);
  }
}

/** Checks the LZ4 end-of-block rules on an encoder result for an input of n bytes. */
function checkEndOfBlockRules(block: Uint8Array, n: number): void {
  let s = 0;
  let d = 0;
  let lastMatchStart = -1;
  let lastMatchEnd = 0;
  for (;;) {
    const token = block[s++]!;
    let lit = token >> 4;
    if (lit === 15) {
      let b: number;
      do {
        b = block[s++]!;
        lit += b;
      } while (b === 255);
    }
    s += lit;
    d += lit;
    if (s === block.length) break;
    s += 2;
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        b = block[s++]!;
        ml += b;
      } while (b === 255);
    }
    lastMatchStart = d;
    d += ml + 4;
    lastMatchEnd = d;
  }
  expect(d).toBe(n);
  if (lastMatchStart >= 0) {
    expect(n - lastMatchEnd).toBeGreaterThanOrEqual(5);
    expect(n - lastMatchStart).toBeGreaterThanOrEqual(12);
  }
}

/** Fast byte equality (vitest's deep equality is slow on large typed arrays). */
function expectBytes(actual: Uint8Array, expected: Uint8Array, label = ""): void {
  let diff = -1;
  if (actual.length === expected.length) {
    for (let i = 0; i < actual.length; i++) {
      if (actual[i] !== expected[i]) {
        diff = i;
        break;
      }
    }
  } else {
    diff = Math.min(actual.length, expected.length);
  }
  if (diff >= 0) {
    expect.fail(`${label} bytes differ at ${diff} (lengths ${actual.length} / ${expected.length})`);
  }
}

function expectBadLz4(fn: () => unknown, message?: RegExp): LtxError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LtxError);
  const err = caught as LtxError;
  expect(err.code).toBe("LTX_BAD_LZ4");
  expect(typeof err.offset).toBe("number");
  if (message) expect(err.message).toMatch(message);
  return err;
}

/** Every *.ltx file under test/fixtures, sorted for stable output. */
function fixtureFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".ltx")) out.push(p);
    }
  };
  walk(FIXTURES);
  return out.sort();
}

interface PageStats {
  pages: number;
  blockPages: number;
  framePages: number;
  storedFrameBlocks: number;
  pageData: Uint8Array[];
}

/** Walks the page block of an LTX v3 file from byte 100 and decodes every page. */
function decodeAllPages(file: Uint8Array, keep: boolean): PageStats {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const pageSize = view.getUint32(8);
  const stats: PageStats = { pages: 0, blockPages: 0, framePages: 0, storedFrameBlocks: 0, pageData: [] };
  let p = 100;
  for (;;) {
    const pgno = view.getUint32(p);
    const flags = view.getUint16(p + 4);
    p += 6;
    if (pgno === 0) break;
    const dst = new Uint8Array(pageSize);
    if (flags === 1) {
      const size = view.getUint32(p);
      p += 4;
      expect(decodeLz4Block(file, p, p + size, dst)).toBe(pageSize);
      p += size;
      stats.blockPages++;
    } else {
      expect(flags).toBe(0);
      if (view.getUint32(p + 7, true) >= 0x80000000) stats.storedFrameBlocks++;
      // Give the decoder the whole rest of the file: it must stop at the frame end.
      const r = decodeLz4Frame(file, p, file.length, dst);
      expect(r.produced).toBe(pageSize);
      p += r.consumed;
      stats.framePages++;
    }
    stats.pages++;
    if (keep) stats.pageData.push(dst);
  }
  return stats;
}

interface ManifestFile {
  path: string;
  pages: number;
  encoding?: string;
  uncompressed_frame_blocks?: number;
}

function manifestFiles(fixture: string): ManifestFile[] {
  const m = JSON.parse(readFileSync(join(FIXTURES, fixture, "manifest.json"), "utf8")) as {
    files?: ManifestFile[];
    before_files?: ManifestFile[];
    after_files?: ManifestFile[];
  };
  return [...(m.files ?? []), ...(m.before_files ?? []), ...(m.after_files ?? [])];
}

// ---------------------------------------------------------------------------
// Spec worked examples

describe("spec worked examples", () => {
  test("§10.2 block decodes to the 512-byte page", () => {
    expect(SPEC_BLOCK.length).toBe(48);
    const dst = new Uint8Array(512);
    expect(decodeLz4Block(SPEC_BLOCK, 0, SPEC_BLOCK.length, dst)).toBe(512);
    expectBytes(dst, specPage());
  });

  test("§10.2 block inside a larger buffer (start > 0)", () => {
    const buf = concat([1, 2, 3, 4, 5, 6, 7], SPEC_BLOCK, [9, 9, 9]);
    const dst = new Uint8Array(512);
    expect(decodeLz4Block(buf, 7, 7 + 48, dst)).toBe(512);
    expectBytes(dst, specPage());
  });

  test("§10.3 frame decodes and reports bytes consumed", () => {
    expect(SPEC_FRAME.length).toBe(67); // 19 + 48
    const dst = new Uint8Array(512);
    expect(decodeLz4Frame(SPEC_FRAME, 0, SPEC_FRAME.length, dst)).toEqual({ consumed: 67, produced: 512 });
    expectBytes(dst, specPage());
  });

  test("§10.3 frame inside a page frame, followed by more file bytes", () => {
    const file = concat(hex("00 00 00 01 00 00"), SPEC_FRAME, hex("00 00 00 00 00 00 01 64 49 00"));
    const dst = new Uint8Array(512);
    expect(decodeLz4Frame(file, 6, file.length, dst)).toEqual({ consumed: 67, produced: 512 });
    expectBytes(dst, specPage());
  });

  test("content checksum of the page is 0x0E934677", () => {
    expect(xxhash32(specPage())).toBe(0x0e934677);
  });

  test("encodeLz4Frame writes the pierrec header and content checksum", () => {
    const frame = encodeLz4Frame(specPage());
    expect(Array.from(frame.subarray(0, 7))).toEqual([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7]);
    expect(Array.from(frame.subarray(frame.length - 8))).toEqual([0, 0, 0, 0, 0x77, 0x46, 0x93, 0x0e]);
    const size = new DataView(frame.buffer).getUint32(7, true);
    expect(size & 0x80000000).toBe(0); // compressible: stored compressed
    expect(frame.length).toBe(19 + size);
    const dst = new Uint8Array(512);
    expect(decodeLz4Frame(frame, 0, frame.length, dst)).toEqual({ consumed: frame.length, produced: 512 });
    expectBytes(dst, specPage());
  });
});

// ---------------------------------------------------------------------------
// Go-written fixtures

describe("Go-written fixture pages", () => {
  const files = fixtureFiles();

  test("fixtures are present", () => {
    expect(files.length).toBeGreaterThan(100);
  });

  test("every page of every fixture file decodes to exactly the page size", () => {
    const byPath = new Map<string, ManifestFile>();
    for (const fixture of readdirSync(FIXTURES)) {
      if (!statSync(join(FIXTURES, fixture)).isDirectory()) continue;
      for (const f of manifestFiles(fixture)) byPath.set(join(FIXTURES, fixture, f.path), f);
    }
    let total = 0;
    let stored = 0;
    let framePages = 0;
    let blockPages = 0;
    for (const path of files) {
      const file = new Uint8Array(readFileSync(path));
      const stats = decodeAllPages(file, false);
      total += stats.pages;
      stored += stats.storedFrameBlocks;
      framePages += stats.framePages;
      blockPages += stats.blockPages;
      // Cross-check against the manifest written by the upstream tools, where present.
      const m = byPath.get(path);
      expect(m, path).toBeDefined();
      expect(stats.pages, path).toBe(m?.pages);
      if (m?.uncompressed_frame_blocks !== undefined) expect(stats.storedFrameBlocks, path).toBe(m.uncompressed_frame_blocks);
    }
    expect(total).toBeGreaterThan(1000);
    expect(framePages).toBeGreaterThan(100);
    expect(blockPages).toBeGreaterThan(100);
    // legacy-frame alone has 52 stored (bit 31) blocks.
    expect(stored).toBeGreaterThanOrEqual(52);
  });

  test("legacy-frame snapshot: every page is a frame, 8 of them with stored (bit 31) blocks", () => {
    const dir = join(FIXTURES, "legacy-frame", "ltx", "9");
    const path = join(dir, readdirSync(dir)[0]!);
    const stats = decodeAllPages(new Uint8Array(readFileSync(path)), true);
    expect(stats.storedFrameBlocks).toBe(8);
    expect(stats.framePages).toBe(stats.pages);
  });

  test("real pages round-trip through encodeLz4Block and encodeLz4Frame", () => {
    const picks = [
      join(FIXTURES, "small", "ltx", "9"),
      join(FIXTURES, "pagesize-1024", "ltx", "9"),
      join(FIXTURES, "pagesize-65536", "ltx", "9"),
      join(FIXTURES, "legacy-frame", "ltx", "9"),
    ];
    let n = 0;
    for (const dir of picks) {
      const path = join(dir, readdirSync(dir)[0]!);
      for (const page of decodeAllPages(new Uint8Array(readFileSync(path)), true).pageData) {
        const block = encodeLz4Block(page);
        checkEndOfBlockRules(block, page.length);
        const out = new Uint8Array(page.length);
        expect(decodeLz4Block(block, 0, block.length, out)).toBe(page.length);
        expectBytes(out, page);
        const frame = encodeLz4Frame(page);
        out.fill(0);
        expect(decodeLz4Frame(frame, 0, frame.length, out)).toEqual({ consumed: frame.length, produced: page.length });
        expectBytes(out, page);
        n++;
      }
    }
    expect(n).toBeGreaterThan(50);
  });
});

// ---------------------------------------------------------------------------
// Block decoder edge cases

describe("decodeLz4Block edge cases", () => {
  const lits = (s: string): number[] => Array.from(new TextEncoder().encode(s));

  test("literal-only blocks, including the empty block token", () => {
    const dst = new Uint8Array(8);
    expect(decodeLz4Block(Uint8Array.from([0x30, ...lits("abc")]), 0, 4, dst)).toBe(3);
    expect(Array.from(dst.subarray(0, 3))).toEqual(lits("abc"));
    expect(decodeLz4Block(Uint8Array.of(0x00), 0, 1, dst)).toBe(0);
  });

  test("empty input is rejected", () => {
    expectBadLz4(() => decodeLz4Block(new Uint8Array(4), 2, 2, new Uint8Array(8)));
  });

  test("overlapping match copies (offset < length) on every copy path", () => {
    // [literals, offset, matchLen] -> expected output; all end with 5 literals.
    const cases: { lit: string; off: number; ml: number }[] = [
      { lit: "a", off: 1, ml: 4 }, // short run, wild copy
      { lit: "ab", off: 2, ml: 20 }, // short overlapping, wild copy
      { lit: "a", off: 1, ml: 100 }, // long run: fill
      { lit: "abc", off: 3, ml: 200 }, // long overlapping: doubling copyWithin
      { lit: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN", off: 40, ml: 300 }, // 40 < 300
      { lit: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN", off: 50, ml: 40 }, // non-overlapping long
    ];
    for (const c of cases) {
      const token = (Math.min(c.lit.length, 15) << 4) | Math.min(c.ml - 4, 15);
      const parts: number[] = [token];
      if (c.lit.length >= 15) parts.push(c.lit.length - 15);
      parts.push(...lits(c.lit), c.off & 0xff, c.off >> 8);
      if (c.ml - 4 >= 15) {
        let r = c.ml - 4 - 15;
        while (r >= 255) {
          parts.push(255);
          r -= 255;
        }
        parts.push(r);
      }
      parts.push(0x50, ...lits("VWXYZ"));
      const block = Uint8Array.from(parts);
      const expected: number[] = lits(c.lit);
      for (let i = 0; i < c.ml; i++) expected.push(expected[expected.length - c.off]!);
      expected.push(...lits("VWXYZ"));
      // Exact-size output (no slack for wild copies) and a roomy one.
      for (const size of [expected.length, expected.length + 64]) {
        const dst = new Uint8Array(size);
        expect(decodeLz4Block(block, 0, block.length, dst)).toBe(expected.length);
        expect(Array.from(dst.subarray(0, expected.length))).toEqual(expected);
      }
      expect(referenceDecode(block, 1 << 20)).toEqual(Uint8Array.from(expected));
    }
  });

  test("match ending the block exactly at the output end (no trailing literals) is rejected", () => {
    // Not a valid final sequence: the block must end with a literal run.
    expectBadLz4(() => decodeLz4Block(Uint8Array.from([0x14, 0x61, 0x01, 0x00]), 0, 4, new Uint8Array(64)), /final literal/);
  });

  test("offset 0 is rejected with the offset of the offset field", () => {
    const block = Uint8Array.from([0x10, 0x61, 0x00, 0x00, 0x50, 1, 2, 3, 4, 5]);
    const err = expectBadLz4(() => decodeLz4Block(block, 0, block.length, new Uint8Array(64)), /offset 0/);
    expect(err.offset).toBe(2);
    // The offset is relative to the src buffer, not to `start`.
    const shifted = concat([0xee, 0xee, 0xee], block);
    expect(expectBadLz4(() => decodeLz4Block(shifted, 3, shifted.length, new Uint8Array(64))).offset).toBe(5);
  });

  test("offset beyond the output produced is rejected", () => {
    const block = Uint8Array.from([0x10, 0x61, 0x02, 0x00, 0x50, 1, 2, 3, 4, 5]);
    expectBadLz4(() => decodeLz4Block(block, 0, block.length, new Uint8Array(64)), /beyond/);
    // offset == produced is fine
    const ok = Uint8Array.from([0x20, 0x61, 0x62, 0x02, 0x00, 0x50, 1, 2, 3, 4, 5]);
    expect(decodeLz4Block(ok, 0, ok.length, new Uint8Array(64))).toBe(11);
  });

  test("output overflow past dst.length is rejected and nothing is written past dst", () => {
    const backing = new Uint8Array(600).fill(0xaa);
    const dst = backing.subarray(0, 511);
    expectBadLz4(() => decodeLz4Block(SPEC_BLOCK, 0, SPEC_BLOCK.length, dst), /overflow/);
    expect(backing.subarray(511).every((b) => b === 0xaa)).toBe(true);
    // Literal overflow too.
    const lit = Uint8Array.from([0x50, 1, 2, 3, 4, 5]);
    expectBadLz4(() => decodeLz4Block(lit, 0, lit.length, new Uint8Array(4)), /overflow/);
  });

  test("truncated literals, literal length, offset and match length are rejected", () => {
    const dst = new Uint8Array(1024);
    expectBadLz4(() => decodeLz4Block(Uint8Array.from([0x50, 1, 2]), 0, 3, dst), /truncated LZ4 literals/);
    expectBadLz4(() => decodeLz4Block(Uint8Array.from([0xf0, 255]), 0, 2, dst), /literal length/);
    expectBadLz4(() => decodeLz4Block(Uint8Array.from([0x10, 0x61, 0x01]), 0, 3, dst), /offset/);
    expectBadLz4(() => decodeLz4Block(Uint8Array.from([0x1f, 0x61, 0x01, 0x00, 255]), 0, 5, dst), /match length/);
  });

  test("every truncation of the spec block throws or yields a prefix", () => {
    const page = specPage();
    for (let k = 0; k < SPEC_BLOCK.length; k++) {
      const dst = new Uint8Array(512);
      try {
        const n = decodeLz4Block(SPEC_BLOCK, 0, k, dst);
        expect(n).toBeLessThan(512);
        expect(dst.subarray(0, n)).toEqual(page.subarray(0, n));
      } catch (e) {
        expect(e).toBeInstanceOf(LtxError);
        expect((e as LtxError).code).toBe("LTX_BAD_LZ4");
      }
    }
  });

  test("range arguments are validated", () => {
    expect(() => decodeLz4Block(SPEC_BLOCK, 0, 49, new Uint8Array(512))).toThrow(RangeError);
    expect(() => decodeLz4Block(SPEC_BLOCK, 5, 4, new Uint8Array(512))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------
// Frame decoder edge cases

/** Builds a frame by hand: FLG/BD, optional content size, computed HC, blocks, EndMark, checksum. */
function buildFrame(opts: {
  flg: number;
  bd?: number;
  contentSize?: number;
  blocks: { data: Uint8Array; stored?: boolean }[];
  content: Uint8Array;
}): Uint8Array {
  const desc: number[] = [opts.flg, opts.bd ?? 0x40];
  if (opts.contentSize !== undefined) desc.push(...u32le(opts.contentSize), 0, 0, 0, 0);
  const hc = (xxhash32(Uint8Array.from(desc)) >>> 8) & 0xff;
  const parts: ArrayLike<number>[] = [u32le(0x184d2204), desc, [hc]];
  for (const b of opts.blocks) {
    parts.push(u32le((b.data.length | (b.stored ? 0x80000000 : 0)) >>> 0), b.data);
    if (opts.flg & 0x10) parts.push(u32le(xxhash32(b.data)));
  }
  parts.push([0, 0, 0, 0]);
  if (opts.flg & 0x04) parts.push(u32le(xxhash32(opts.content)));
  return concat(...parts);
}

describe("decodeLz4Frame", () => {
  const page = specPage();

  test("every strict truncation of a valid frame throws (so it never reads past end)", () => {
    // The full frame stays in the buffer: succeeding would require reading past `end`.
    for (const frame of [SPEC_FRAME, encodeLz4Frame(randomBytes(700, prng(1)))]) {
      for (let k = 0; k < frame.length; k++) {
        expectBadLz4(() => decodeLz4Frame(frame, 0, k, new Uint8Array(1024)));
      }
    }
  });

  test("content checksum mismatch", () => {
    const bad = SPEC_FRAME.slice();
    bad[bad.length - 1]! ^= 1;
    const err = expectBadLz4(() => decodeLz4Frame(bad, 0, bad.length, new Uint8Array(512)), /checksum/);
    expect(err.offset).toBe(bad.length - 4);
  });

  test("header checksum mismatch", () => {
    const bad = SPEC_FRAME.slice();
    bad[6] = 0xa6;
    expectBadLz4(() => decodeLz4Frame(bad, 0, bad.length, new Uint8Array(512)), /header checksum/);
  });

  test("unknown and skippable magic, bad version, dictionary id, reserved bits are rejected", () => {
    const withByte = (i: number, v: number): Uint8Array => {
      const f = SPEC_FRAME.slice();
      f[i] = v;
      return f;
    };
    expectBadLz4(() => decodeLz4Frame(withByte(0, 0x05), 0, 67, new Uint8Array(512)), /magic/);
    const skippable = concat(u32le(0x184d2a50), SPEC_FRAME.subarray(4));
    expectBadLz4(() => decodeLz4Frame(skippable, 0, 67, new Uint8Array(512)), /magic/);
    const legacy = concat(u32le(0x184c2102), SPEC_FRAME.subarray(4));
    expectBadLz4(() => decodeLz4Frame(legacy, 0, 67, new Uint8Array(512)), /magic/);
    expectBadLz4(() => decodeLz4Frame(withByte(4, 0xa4), 0, 67, new Uint8Array(512)), /version/);
    const dict = buildFrame({ flg: 0x65, blocks: [{ data: SPEC_BLOCK }], content: page });
    expectBadLz4(() => decodeLz4Frame(dict, 0, dict.length, new Uint8Array(512)), /dictionary/);
    const reserved = buildFrame({ flg: 0x66, blocks: [{ data: SPEC_BLOCK }], content: page });
    expectBadLz4(() => decodeLz4Frame(reserved, 0, reserved.length, new Uint8Array(512)), /reserved/);
    const badBd = buildFrame({ flg: 0x64, bd: 0x30, blocks: [{ data: SPEC_BLOCK }], content: page });
    expectBadLz4(() => decodeLz4Frame(badBd, 0, badBd.length, new Uint8Array(512)), /block max size/);
  });

  test("optional content size (FLG bit 3) is read and checked", () => {
    const good = buildFrame({ flg: 0x6c, contentSize: 512, blocks: [{ data: SPEC_BLOCK }], content: page });
    const dst = new Uint8Array(512);
    expect(decodeLz4Frame(good, 0, good.length, dst)).toEqual({ consumed: good.length, produced: 512 });
    expectBytes(dst, page);
    const wrong = buildFrame({ flg: 0x6c, contentSize: 500, blocks: [{ data: SPEC_BLOCK }], content: page });
    expectBadLz4(() => decodeLz4Frame(wrong, 0, wrong.length, new Uint8Array(1024)), /content size/);
    const tooBig = buildFrame({ flg: 0x6c, contentSize: 4096, blocks: [{ data: SPEC_BLOCK }], content: page });
    expectBadLz4(() => decodeLz4Frame(tooBig, 0, tooBig.length, new Uint8Array(512)), /content size/);
  });

  test("optional block checksums (FLG bit 4) are skipped over and verified", () => {
    const good = buildFrame({ flg: 0x74, blocks: [{ data: SPEC_BLOCK }], content: page });
    const dst = new Uint8Array(512);
    expect(decodeLz4Frame(good, 0, good.length, dst)).toEqual({ consumed: good.length, produced: 512 });
    expectBytes(dst, page);
    const bad = good.slice();
    bad[7 + 4 + 48]! ^= 0xff;
    expectBadLz4(() => decodeLz4Frame(bad, 0, bad.length, new Uint8Array(512)), /block checksum/);
    // pierrec/lz4 hashes the decoded block instead of the stored bytes: accepted too.
    const pierrec = good.slice();
    pierrec.set(u32le(xxhash32(page)), 7 + 4 + 48);
    expect(decodeLz4Frame(pierrec, 0, pierrec.length, dst)).toEqual({ consumed: good.length, produced: 512 });
  });

  test("frame without content checksum (FLG bit 2 clear)", () => {
    const f = buildFrame({ flg: 0x60, blocks: [{ data: SPEC_BLOCK }], content: page });
    expect(decodeLz4Frame(f, 0, f.length, new Uint8Array(512))).toEqual({ consumed: 7 + 4 + 48 + 4, produced: 512 });
  });

  test("multiple blocks, stored and compressed, until the EndMark", () => {
    const a = randomBytes(300, prng(7));
    const content = concat(a, page, a);
    const f = buildFrame({
      flg: 0x64,
      blocks: [{ data: a, stored: true }, { data: SPEC_BLOCK }, { data: encodeLz4Block(a) }],
      content,
    });
    const dst = new Uint8Array(2000);
    expect(decodeLz4Frame(f, 0, f.length, dst)).toEqual({ consumed: f.length, produced: content.length });
    expect(dst.subarray(0, content.length)).toEqual(content);
  });

  test("linked blocks may reference earlier blocks; independent ones may not", () => {
    const first = Uint8Array.from([0x80, ...new TextEncoder().encode("abcdefgh")]);
    // Match 8 bytes at offset 8 (into the previous block), then one literal "z".
    const second = Uint8Array.from([0x04, 0x08, 0x00, 0x10, 0x7a]);
    const content = new TextEncoder().encode("abcdefghabcdefghz");
    const linked = buildFrame({ flg: 0x44, blocks: [{ data: first }, { data: second }], content });
    const dst = new Uint8Array(64);
    expect(decodeLz4Frame(linked, 0, linked.length, dst).produced).toBe(17);
    expect(dst.subarray(0, 17)).toEqual(content);
    const independent = buildFrame({ flg: 0x64, blocks: [{ data: first }, { data: second }], content });
    expectBadLz4(() => decodeLz4Frame(independent, 0, independent.length, new Uint8Array(64)), /beyond/);
  });

  test("a block larger than the frame's block maximum is rejected", () => {
    const big = new Uint8Array(70000);
    const f = buildFrame({ flg: 0x64, blocks: [{ data: big, stored: true }], content: big });
    expectBadLz4(() => decodeLz4Frame(f, 0, f.length, new Uint8Array(70000)), /exceeds/);
    // With BD 256 KiB it is fine.
    const ok = buildFrame({ flg: 0x64, bd: 0x50, blocks: [{ data: big, stored: true }], content: big });
    expect(decodeLz4Frame(ok, 0, ok.length, new Uint8Array(70000)).produced).toBe(70000);
  });

  test("stored block overflowing dst is rejected", () => {
    const data = randomBytes(600, prng(3));
    const f = encodeLz4Frame(data);
    expect(new DataView(f.buffer).getUint32(7, true) >>> 31).toBe(1);
    expectBadLz4(() => decodeLz4Frame(f, 0, f.length, new Uint8Array(599)), /overflow/);
  });
});

// ---------------------------------------------------------------------------
// Encoder round trips

type Kind = "random" | "zero" | "repetitive" | "text" | "mixed";

function makeData(kind: Kind, n: number, rnd: () => number): Uint8Array {
  switch (kind) {
    case "random":
      return randomBytes(n, rnd);
    case "zero":
      return new Uint8Array(n);
    case "repetitive": {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = i % 7;
      return b;
    }
    case "text": {
      const words = ["alpha ", "beta ", "gamma ", "user@example.com ", "12345 ", "\u00e9t\u00e9 "];
      const b = new Uint8Array(n);
      const enc = new TextEncoder();
      let o = 0;
      while (o < n) for (const c of enc.encode(words[(rnd() * words.length) | 0]!)) if (o < n) b[o++] = c;
      return b;
    }
    case "mixed": {
      const b = randomBytes(n, rnd);
      for (let i = 0; i < n; i += 97) b.fill((rnd() * 4) | 0, i, Math.min(n, i + ((rnd() * 60) | 0)));
      return b;
    }
  }
}

describe("encodeLz4Block / encodeLz4Frame round trips", () => {
  const sizes = [512, 1000, 1024, 2048, 4096, 8192, 16384, 32768, 65535, 65536];
  const kinds: Kind[] = ["random", "zero", "repetitive", "text", "mixed"];

  test.each(kinds)("%s data, sizes 512..65536", (kind) => {
    const rnd = prng(42);
    for (const n of sizes) {
      const data = makeData(kind, n, rnd);
      const block = encodeLz4Block(data);
      checkEndOfBlockRules(block, n);
      expect(block.length).toBeLessThanOrEqual(n + Math.floor(n / 255) + 16);
      if (kind === "zero" || kind === "repetitive") expect(block.length).toBeLessThan(n / 50 + 16);
      if (kind === "random") expect(block.length).toBeGreaterThan(n); // literal-only
      const out = new Uint8Array(n);
      expect(decodeLz4Block(block, 0, block.length, out)).toBe(n);
      expectBytes(out, data);
      const ref = referenceDecode(block, n);
      expect(ref).not.toBe("error");
      if (ref !== "error") expectBytes(ref, data);

      const frame = encodeLz4Frame(data);
      const word = new DataView(frame.buffer).getUint32(7, true);
      const stored = word >>> 31 === 1;
      expect(stored).toBe(block.length >= n);
      expect(frame.length).toBe(19 + (stored ? n : block.length));
      out.fill(0);
      expect(decodeLz4Frame(frame, 0, frame.length, out)).toEqual({ consumed: frame.length, produced: n });
      expectBytes(out, data);
    }
  });

  test("tiny inputs (0..40 bytes) are literal-only or valid", () => {
    for (let n = 0; n <= 40; n++) {
      const data = makeData("repetitive", n, prng(n));
      const block = encodeLz4Block(data);
      checkEndOfBlockRules(block, n);
      const out = new Uint8Array(n);
      expect(decodeLz4Block(block, 0, block.length, out)).toBe(n);
      expectBytes(out, data);
      if (n <= 12) expect(block.length).toBe(n + 1);
    }
    const empty = encodeLz4Frame(new Uint8Array(0));
    expect(decodeLz4Frame(empty, 0, empty.length, new Uint8Array(0))).toEqual({ consumed: 15, produced: 0 });
  });

  test("inputs larger than 64 KiB keep offsets within the 65535 window", () => {
    const rnd = prng(9);
    const unit = randomBytes(70000, rnd);
    const data = concat(unit, unit, makeData("text", 50000, rnd));
    const block = encodeLz4Block(data);
    checkEndOfBlockRules(block, data.length);
    const out = new Uint8Array(data.length);
    expect(decodeLz4Block(block, 0, block.length, out)).toBe(data.length);
    expectBytes(out, data);
  });

  test("encodeLz4Frame rejects inputs over 64 KiB", () => {
    expect(() => encodeLz4Frame(new Uint8Array(65537))).toThrow(RangeError);
  });

  test("property: arbitrary bytes round-trip (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.integer({ min: 0, max: 255 }), (bytes, fill) => {
        // Mix in runs so that matches actually occur.
        const data = concat(bytes, new Uint8Array(bytes.length % 50).fill(fill), bytes.subarray(0, bytes.length >> 1));
        const block = encodeLz4Block(data);
        checkEndOfBlockRules(block, data.length);
        const out = new Uint8Array(data.length);
        expect(decodeLz4Block(block, 0, block.length, out)).toBe(data.length);
        expectBytes(out, data);
        if (data.length <= 65536) {
          const frame = encodeLz4Frame(data);
          out.fill(0);
          expect(decodeLz4Frame(frame, 0, frame.length, out).produced).toBe(data.length);
          expectBytes(out, data);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------
// Mutation fuzzing

const GUARD = 64;

/** Applies 1-4 random byte edits, or a truncation / insertion / deletion. */
function mutate(src: Uint8Array, rnd: () => number): Uint8Array {
  const r = rnd();
  if (src.length === 0) return Uint8Array.of((rnd() * 256) | 0);
  if (r < 0.15) return src.slice(0, (rnd() * src.length) | 0);
  if (r < 0.25) {
    const at = (rnd() * src.length) | 0;
    return concat(src.subarray(0, at), randomBytes(1 + ((rnd() * 8) | 0), rnd), src.subarray(at));
  }
  if (r < 0.35) {
    const at = (rnd() * src.length) | 0;
    return concat(src.subarray(0, at), src.subarray(Math.min(src.length, at + 1 + ((rnd() * 8) | 0))));
  }
  const out = src.slice();
  const edits = 1 + ((rnd() * 4) | 0);
  for (let i = 0; i < edits; i++) {
    const at = (rnd() * out.length) | 0;
    const how = rnd();
    if (how < 0.4) out[at] = (rnd() * 256) | 0;
    else if (how < 0.7) out[at]! ^= 1 << ((rnd() * 8) | 0);
    else out[at] = how < 0.85 ? 0xff : 0x00;
  }
  return out;
}

/**
 * Runs `decode` on `input` placed at an offset inside a larger src buffer and
 * into a dst view with guard bytes on both sides; checks the outcome contract.
 */
function runGuarded(
  input: Uint8Array,
  dstSize: number,
  decode: (src: Uint8Array, start: number, end: number, dst: Uint8Array) => number,
): number | LtxError {
  const pre = 5;
  const src = concat(new Uint8Array(pre).fill(0x11), input, new Uint8Array(9).fill(0x22));
  const backing = new Uint8Array(dstSize + 2 * GUARD).fill(0xa5);
  const dst = backing.subarray(GUARD, GUARD + dstSize);
  let result: number | LtxError;
  try {
    result = decode(src, pre, pre + input.length, dst);
    expect(result).toBeGreaterThanOrEqual(0);
    expect(result).toBeLessThanOrEqual(dstSize);
  } catch (e) {
    if (!(e instanceof LtxError)) throw e;
    expect(e.code).toBe("LTX_BAD_LZ4");
    expect(e.offset).toBeGreaterThanOrEqual(pre);
    expect(e.offset).toBeLessThanOrEqual(pre + input.length);
    result = e;
  }
  for (let i = 0; i < GUARD; i++) {
    if (backing[i] !== 0xa5 || backing[GUARD + dstSize + i] !== 0xa5) throw new Error("wrote outside dst");
  }
  return result;
}

describe("mutation fuzzing", () => {
  const rnd0 = prng(1234);
  const seeds: Uint8Array[] = [SPEC_BLOCK];
  for (const kind of ["text", "mixed", "repetitive", "zero"] as const) {
    for (const n of [512, 4096]) seeds.push(encodeLz4Block(makeData(kind, n, rnd0)));
  }
  {
    const dir = join(FIXTURES, "small", "ltx", "0");
    const file = new Uint8Array(readFileSync(join(dir, readdirSync(dir)[0]!)));
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const size = view.getUint32(106);
    seeds.push(file.slice(110, 110 + size));
  }

  test("mutated blocks: LtxError or output, agreeing with the reference decoder", () => {
    const rnd = prng(20240601);
    let ok = 0;
    let bad = 0;
    for (let i = 0; i < 6000; i++) {
      const input = mutate(seeds[i % seeds.length]!, rnd);
      const dstSize = i % 3 === 0 ? 4096 : ((rnd() * 5000) | 0);
      const result = runGuarded(input, dstSize, decodeLz4Block);
      const ref = referenceDecode(input, dstSize);
      if (result instanceof LtxError) {
        expect(ref, `case ${i}`).toBe("error");
        bad++;
      } else {
        if (ref === "error") expect.fail(`case ${i}: reference decoder rejects what decodeLz4Block accepted`);
        // Compare the produced bytes with the reference output.
        const produced = new Uint8Array(dstSize);
        decodeLz4Block(input, 0, input.length, produced);
        expectBytes(produced.subarray(0, result), ref, `case ${i}`);
        ok++;
      }
    }
    expect(ok).toBeGreaterThan(100);
    expect(bad).toBeGreaterThan(100);
  });

  test("random garbage blocks never escape the contract", () => {
    const rnd = prng(99);
    for (let i = 0; i < 3000; i++) {
      const input = randomBytes((rnd() * 300) | 0, rnd);
      const result = runGuarded(input, 1024, decodeLz4Block);
      expect(result instanceof LtxError).toBe(referenceDecode(input, 1024) === "error");
    }
  });

  test("mutated frames: LtxError or output, never anything else", () => {
    const rnd = prng(777);
    const frames = [
      SPEC_FRAME,
      encodeLz4Frame(makeData("text", 4096, rnd)),
      encodeLz4Frame(makeData("random", 1024, rnd)), // stored block
      buildFrame({ flg: 0x7c, contentSize: 512, blocks: [{ data: SPEC_BLOCK }], content: specPage() }),
    ];
    let ok = 0;
    for (let i = 0; i < 4000; i++) {
      const input = mutate(frames[i % frames.length]!, rnd);
      const result = runGuarded(input, 4096, (src, start, end, dst) => {
        const r = decodeLz4Frame(src, start, end, dst);
        expect(r.consumed).toBeLessThanOrEqual(end - start);
        return r.produced;
      });
      if (!(result instanceof LtxError)) ok++;
    }
    // Most mutations are caught by the checksums; a few (e.g. in the block
    // size's unused bytes) can still decode.
    expect(ok).toBeLessThan(4000);
  });

  test("property: arbitrary byte strings (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 2048 }), (input, dstSize) => {
        runGuarded(input, dstSize, decodeLz4Block);
        runGuarded(concat(SPEC_FRAME.subarray(0, 7), input), dstSize, (s, a, b, d) => decodeLz4Frame(s, a, b, d).produced);
      }),
      { numRuns: 2000 },
    );
  });
});
