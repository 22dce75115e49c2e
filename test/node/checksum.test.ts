/**
 * @module
 * Tests for src/ltx/crc64.ts (CRC-64/GO-ISO) and src/ltx/xxhash32.ts: published
 * vectors, a bit-at-a-time reference, incremental use, the LTX spec §9.3/§10
 * checksums, and the file checksum of every Go-written fixture file.
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { CHECKSUM_FLAG, Crc64, crc64 } from "../../src/ltx/crc64.ts";
import { decodeLz4Block, decodeLz4Frame } from "../../src/ltx/lz4.ts";
import { xxhash32 } from "../../src/ltx/xxhash32.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.trim().split(/\s+/).map((x) => parseInt(x, 16)));
}

/** Bit-at-a-time CRC-64/GO-ISO with BigInt: slow but obviously right. */
function referenceCrc64(data: Uint8Array): bigint {
  const mask = (1n << 64n) - 1n;
  const poly = 0xd800000000000000n;
  let crc = mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

function specPage(): Uint8Array {
  const page = new Uint8Array(512);
  page.set(ascii("SQLite format 3\0"));
  for (let i = 16; i < 512; i++) page[i] = i % 7;
  return page;
}

/** Spec §10.1 header (100 bytes). */
function specHeader(): Uint8Array {
  const h = new Uint8Array(100);
  h.set(hex("4C 54 58 31 00 00 00 02 00 00 02 00 00 00 00 01"), 0);
  h.set(hex("00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 01 00 00 01 8B CF E5 68 00"), 16);
  return h;
}

function u64be(b: Uint8Array, at: number): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(at);
}

describe("CRC-64/GO-ISO", () => {
  test("check value and flag constant", () => {
    expect(crc64(ascii("123456789"))).toBe(0xb90956c775a41001n);
    expect(CHECKSUM_FLAG).toBe(1n << 63n);
  });

  test("Go hash/crc64 golden vectors (crc64_test.go, ISO column)", () => {
    const golden: [bigint, string][] = [
      [0x0n, ""],
      [0x3420000000000000n, "a"],
      [0x36c4200000000000n, "ab"],
      [0x3776c42000000000n, "abc"],
      [0x336776c420000000n, "abcd"],
      [0x0e21b002d36776c4n, "abcdefgh"],
      [0x8b6e21b002d36776n, "abcdefghi"],
      [0x7f5b6e21b002d367n, "abcdefghij"],
      [0x8ec0e7c835bf9cdfn, "Discard medicine more than two years old."],
      [0xc7db1759e2be5ab4n, "He who has a shady past knows that nice guys finish last."],
      [0xfbf9d9603a6fa020n, "I wouldn't marry him with a ten foot pole."],
      [0xeafc4211a6daa0efn, "Free! Free!/A trip/to Mars/for 900/empty jars/Burma Shave"],
    ];
    for (const [want, s] of golden) expect(crc64(ascii(s)), JSON.stringify(s)).toBe(want);
  });

  test("matches a bit-at-a-time reference on random data of every length 0..100 and a few large ones", () => {
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (const n of [...Array.from({ length: 101 }, (_, i) => i), 255, 256, 1000, 4099]) {
      const data = Uint8Array.from({ length: n }, next);
      expect(crc64(data), `length ${n}`).toBe(referenceCrc64(data));
    }
  });

  test("property: incremental updates at arbitrary split points equal one-shot (fast-check)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(), { maxLength: 6 }), (data, cuts) => {
        const points = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % (data.length + 1))))].sort((a, b) => a - b);
        const c = new Crc64();
        let prev = 0;
        for (const p of [...points, data.length]) {
          c.update(data, prev, p);
          prev = p;
        }
        expect(c.digest()).toBe(crc64(data));
        expect(c.digest()).toBe(referenceCrc64(data));
      }),
      { numRuns: 300 },
    );
  });

  test("update returns this, digest does not reset, start/end are honoured", () => {
    const data = ascii("xx123456789yy");
    const c = new Crc64();
    expect(c.update(data, 2, 11)).toBe(c);
    expect(c.digest()).toBe(0xb90956c775a41001n);
    expect(c.digest()).toBe(0xb90956c775a41001n);
    c.update(ascii("abc"));
    expect(c.digest()).toBe(crc64(ascii("123456789abc")));
    expect(new Crc64().digest()).toBe(0n);
    expect(() => new Crc64().update(data, 5, 20)).toThrow(RangeError);
  });

  test("database checksum vector from superfly/ltx TestChecksumReader (spec §9.3)", () => {
    let acc = 0n;
    for (let pgno = 1; pgno <= 3; pgno++) {
      const pageCrc = new Crc64().update(hex(`00 00 00 0${pgno}`)).update(new Uint8Array(512).fill(pgno)).digest();
      acc = CHECKSUM_FLAG | (acc ^ (pageCrc | CHECKSUM_FLAG));
    }
    expect(acc).toBe(0xefffffffecd99000n);
  });

  test("§10.2 block-variant file checksum 0xAC75FE3A9F1B9863", () => {
    const c = new Crc64()
      .update(specHeader())
      .update(hex("00 00 00 01 00 01 00 00 00 30")) // page header + size prefix as stored
      .update(specPage()) // decompressed page
      .update(new Uint8Array(6)) // zero page header
      .update(hex("01 64 3A 00 00 00 00 00 00 00 00 04")) // index incl. terminator and length
      .update(new Uint8Array(8)); // PostApplyChecksum
    expect(c.digest() | CHECKSUM_FLAG).toBe(0xac75fe3a9f1b9863n);
  });

  test("§10.3 frame-variant file checksum 0xDE649D399B03A0A5", () => {
    const c = new Crc64()
      .update(specHeader())
      .update(hex("00 00 00 01 00 00"))
      .update(specPage())
      .update(new Uint8Array(6))
      .update(hex("01 64 49 00 00 00 00 00 00 00 00 04"))
      .update(new Uint8Array(8));
    expect(c.digest() | CHECKSUM_FLAG).toBe(0xde649d399b03a0a5n);
  });

  test("file checksum of every Go-written fixture file verifies (header, pages, index, trailer)", () => {
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith(".ltx")) files.push(p);
      }
    };
    walk(FIXTURES);
    expect(files.length).toBeGreaterThan(100);
    for (const path of files.sort()) {
      const file = new Uint8Array(readFileSync(path));
      const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
      const pageSize = view.getUint32(8);
      const page = new Uint8Array(pageSize);
      const c = new Crc64().update(file, 0, 100);
      let p = 100;
      for (;;) {
        const pgno = view.getUint32(p);
        const flags = view.getUint16(p + 4);
        if (pgno === 0) {
          c.update(file, p, p + 6);
          p += 6;
          break;
        }
        if (flags === 1) {
          const size = view.getUint32(p + 6);
          c.update(file, p, p + 10);
          expect(decodeLz4Block(file, p + 10, p + 10 + size, page)).toBe(pageSize);
          p += 10 + size;
        } else {
          c.update(file, p, p + 6);
          const r = decodeLz4Frame(file, p + 6, file.length, page);
          expect(r.produced).toBe(pageSize);
          p += 6 + r.consumed;
        }
        c.update(page);
      }
      // Index bytes, index length and PostApplyChecksum are contiguous up to the FileChecksum.
      c.update(file, p, file.length - 8);
      expect(c.digest() | CHECKSUM_FLAG, path).toBe(u64be(file, file.length - 8));
    }
  });
});

describe("xxHash32", () => {
  test("reference sanity vectors (xxhsum sanity buffer, seeds 0 and PRIME32)", () => {
    // Buffer from xxHash's self-test: byte i = top byte of PRIME32 * PRIME64^i (mod 2^64).
    const buf = new Uint8Array(222);
    let g = 2654435761n;
    for (let i = 0; i < buf.length; i++) {
      buf[i] = Number(g >> 56n);
      g = (g * 11400714785074694797n) & ((1n << 64n) - 1n);
    }
    const P = 2654435761;
    const vectors: [number, number, number][] = [
      [0, 0, 0x02cc5d05],
      [0, P, 0x36b78ae7],
      [1, 0, 0xcf65b03e],
      [1, P, 0xb4545aa4],
      [14, 0, 0x1208e7e2],
      [14, P, 0x6af1d1fe],
      [222, 0, 0x5bd11dbd],
      [222, P, 0x58803c5f],
    ];
    for (const [len, seed, want] of vectors) {
      expect(xxhash32(buf.subarray(0, len), seed), `len ${len} seed ${seed}`).toBe(want);
      expect(xxhash32(buf, seed, 0, len)).toBe(want);
    }
  });

  test("short strings", () => {
    expect(xxhash32(ascii("abc"))).toBe(0x32d153ff);
    expect(xxhash32(ascii("Nobody inspects the spammish repetition"))).toBe(0xe2293b2f);
  });

  test("spec §10.3 content checksum and LZ4 header checksum byte", () => {
    expect(xxhash32(specPage())).toBe(0x0e934677);
    expect((xxhash32(hex("64 40")) >>> 8) & 0xff).toBe(0xa7);
  });

  test("start/end select a sub-range; the result is unsigned", () => {
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff);
    for (const [s, e] of [
      [0, 0],
      [3, 3],
      [1, 17],
      [5, 299],
      [100, 300],
    ] as const) {
      expect(xxhash32(data, 7, s, e)).toBe(xxhash32(data.slice(s, e), 7));
    }
    for (let n = 0; n < 64; n++) expect(xxhash32(data.subarray(0, n))).toBeGreaterThanOrEqual(0);
    expect(() => xxhash32(data, 0, 10, 400)).toThrow(RangeError);
  });

  test("Go-written frame pages carry a content checksum that matches", () => {
    const dir = join(FIXTURES, "legacy-frame", "ltx", "0");
    let checked = 0;
    for (const name of readdirSync(dir).sort().slice(0, 10)) {
      const file = new Uint8Array(readFileSync(join(dir, name)));
      const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
      const pageSize = view.getUint32(8);
      const page = new Uint8Array(pageSize);
      let p = 100;
      while (view.getUint32(p) !== 0) {
        const r = decodeLz4Frame(file, p + 6, file.length, page);
        const stored = view.getUint32(p + 6 + r.consumed - 4, true);
        expect(xxhash32(page)).toBe(stored);
        p += 6 + r.consumed;
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(50);
  });
});
