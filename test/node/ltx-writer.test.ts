/**
 * LtxWriter / encodeLtxFile: both page encodings read back through
 * decodeLtxFile, the encoder rules of spec §5.6, the worked examples of spec
 * §10.2 / §10.3, and a re-encode of every real fixture file.
 */
import { decodePages } from "../support/ltx-pages.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { concatBytes, pushUvarint, readU32, readU64, writeU32, writeU64 } from "../../src/ltx/bytes.ts";
import { CHECKSUM_FLAG, Crc64 } from "../../src/ltx/crc64.ts";
import { type DecodedLtxFile, decodeLtxFile } from "../../src/ltx/decoder.ts";
import { LtxError } from "../../src/ltx/errors.ts";
import { HEADER_SIZE, type LtxHeader, decodeHeader, lockPgno } from "../../src/ltx/header.ts";
import { encodeLz4Block, encodeLz4Frame } from "../../src/ltx/lz4.ts";
import { type LtxWriteOptions, LtxWriter, SINK_BLOCK_BYTES, encodeLtxFile } from "../../src/ltx/writer.ts";
import { FIXTURES, type FixtureManifest } from "../support/fixtures.ts";
import { seededBytes } from "../support/seeded-bytes.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures");
type Encoding = "block" | "frame";
const ENCODINGS: readonly Encoding[] = ["block", "frame"];

function hex(s: string): number[] {
  return s
    .trim()
    .split(/\s+/)
    .map((x) => Number.parseInt(x, 16));
}

// ---------------------------------------------------------------------------
// Spec §10 worked examples, transcribed from the tables.

const SPEC_HEADER = [
  ...hex("4C 54 58 31  00 00 00 02  00 00 02 00  00 00 00 01"),
  ...hex("00 00 00 00 00 00 00 01  00 00 00 00 00 00 00 01  00 00 01 8B CF E5 68 00"),
  ...new Array<number>(60).fill(0),
];

/** The 48-byte LZ4 block of §10.2 (0x6E … 0x9D). */
const SPEC_BLOCK = [
  ...hex("FF 08"),
  ...hex("53 51 4C 69 74 65 20 66 6F 72 6D 61 74 20 33 00 02 03 04 05 06 00 01"),
  ...hex("07 00"),
  ...hex("FF C3"),
  ...hex("00 DC 01"),
  ...hex("00 DC 01"),
  ...hex("C0 03 04 05 06 00 01 02 03 04 05 06 00"),
];

const SPEC_192 = new Uint8Array([
  ...SPEC_HEADER,
  ...hex("00 00 00 01 00 01"),
  ...hex("00 00 00 30"),
  ...SPEC_BLOCK,
  ...hex("00 00 00 00 00 00"),
  ...hex("01 64 3A 00"),
  ...hex("00 00 00 00 00 00 00 04"),
  ...hex("00 00 00 00 00 00 00 00"),
  ...hex("AC 75 FE 3A 9F 1B 98 63"),
]);

/** The 67-byte LZ4 frame of §10.3 (0x6A … 0xAC). */
const SPEC_LZ4_FRAME = [
  ...hex("04 22 4D 18 64 40 A7"),
  ...hex("30 00 00 00"),
  ...SPEC_BLOCK,
  ...hex("00 00 00 00"),
  ...hex("77 46 93 0E"),
];

const SPEC_207 = new Uint8Array([
  ...SPEC_HEADER,
  ...hex("00 00 00 01 00 00"),
  ...SPEC_LZ4_FRAME,
  ...hex("00 00 00 00 00 00"),
  ...hex("01 64 49 00"),
  ...hex("00 00 00 00 00 00 00 04"),
  ...hex("00 00 00 00 00 00 00 00"),
  ...hex("DE 64 9D 39 9B 03 A0 A5"),
]);

/** Page 1 of §10: "SQLite format 3\0" then i % 7 for i = 16 … 511. */
function specPage(): Uint8Array {
  const p = new Uint8Array(512);
  p.set(new TextEncoder().encode("SQLite format 3\0"));
  for (let i = 16; i < 512; i++) p[i] = i % 7;
  return p;
}

const SPEC_OPTS: LtxWriteOptions = { pageSize: 512, commit: 1, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000 };

// ---------------------------------------------------------------------------
// Helpers.

/**
 * An independent assembly of a v3 file from the spec's §3/§7/§8/§9.3 text:
 * header, frames (given payloads), zero page header, index, length, trailer,
 * file checksum over header + page headers (+ size prefix) + decompressed
 * pages + terminator + index + length + post-apply checksum.
 */
function assemble(
  header: Uint8Array,
  frames: readonly { pgno: number; encoding: Encoding; payload: Uint8Array; page: Uint8Array }[],
  postApply = 0n,
): Uint8Array {
  const crc = new Crc64();
  const parts: Uint8Array[] = [header];
  crc.update(header);
  const index: number[] = [];
  let pos = HEADER_SIZE;
  for (const f of frames) {
    const head = new Uint8Array(f.encoding === "block" ? 10 : 6);
    writeU32(head, 0, f.pgno);
    if (f.encoding === "block") {
      head[5] = 1;
      writeU32(head, 6, f.payload.length);
    }
    crc.update(head);
    crc.update(f.page);
    parts.push(head, f.payload);
    pushUvarint(index, f.pgno);
    pushUvarint(index, pos);
    pushUvarint(index, head.length + f.payload.length);
    pos += head.length + f.payload.length;
  }
  index.push(0);
  const tail = new Uint8Array(6 + index.length + 8 + 16);
  tail.set(index, 6);
  writeU64(tail, 6 + index.length, index.length);
  writeU64(tail, tail.length - 16, postApply);
  crc.update(tail, 0, tail.length - 8);
  writeU64(tail, tail.length - 8, crc.digest() | CHECKSUM_FLAG);
  parts.push(tail);
  return concatBytes(parts);
}

function indexEntries(d: DecodedLtxFile): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < d.index.count; i++) out.push([d.index.pgno[i] ?? -1, d.index.offset[i] ?? -1, d.index.size[i] ?? -1]);
  return out;
}

/** Pages of several shapes: zero, constant, text-like, half-random, random (incompressible). */
function samplePage(pageSize: number, kind: number, seed: number): Uint8Array {
  switch (kind % 5) {
    case 0:
      return new Uint8Array(pageSize);
    case 1:
      return new Uint8Array(pageSize).fill(seed & 0xff);
    case 2: {
      const t = new TextEncoder().encode(`row ${seed}: the quick brown fox jumps over the lazy dog; `);
      const p = new Uint8Array(pageSize);
      for (let i = 0; i < pageSize; i++) p[i] = t[i % t.length] ?? 0;
      return p;
    }
    case 3: {
      const p = new Uint8Array(pageSize);
      p.set(seededBytes(seed, pageSize / 2));
      return p;
    }
    default:
      return seededBytes(seed, pageSize);
  }
}

function expectRangeError(fn: () => unknown, re?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(RangeError);
  if (re) expect((thrown as RangeError).message).toMatch(re);
}

// ---------------------------------------------------------------------------

describe("spec §10.2 / §10.3 worked examples", () => {
  test("the transcribed examples have the sizes and layout the spec states", () => {
    expect(SPEC_HEADER.length).toBe(100);
    expect(SPEC_BLOCK.length).toBe(48);
    expect(SPEC_192.length).toBe(192);
    expect(SPEC_LZ4_FRAME.length).toBe(67);
    expect(SPEC_207.length).toBe(207);
    // "Locate-the-index check" of §10.2.
    expect(Number(readU64(SPEC_192, 192 - 24))).toBe(4);
    expect(SPEC_192[164]).toBe(0x01);
  });

  test("§10.2: the 192-byte block file decodes, FileChecksum 0xAC75FE3A9F1B9863", () => {
    const { decoded, pages, order } = decodePages(SPEC_192, "spec-10.2.ltx");
    expect(decoded.fileChecksum).toBe(0xac75fe3a9f1b9863n);
    expect(decoded.postApplyChecksum).toBe(0n);
    expect(decoded.encodings).toEqual(new Set(["block"]));
    expect(indexEntries(decoded)).toEqual([[1, 100, 58]]);
    expect(decoded.header).toEqual(decodeHeader(SPEC_192));
    expect(decoded.header.timestamp).toBe(1_700_000_000_000);
    expect(order).toEqual([1]);
    expect(pages.get(1)).toEqual(specPage());
  });

  test("§10.3: the 207-byte frame file decodes, FileChecksum 0xDE649D399B03A0A5", () => {
    const { decoded, pages, order } = decodePages(SPEC_207, "spec-10.3.ltx");
    expect(decoded.fileChecksum).toBe(0xde649d399b03a0a5n);
    expect(decoded.postApplyChecksum).toBe(0n);
    expect(decoded.encodings).toEqual(new Set(["frame"]));
    expect(indexEntries(decoded)).toEqual([[1, 100, 73]]);
    expect(order).toEqual([1]);
    expect(pages.get(1)).toEqual(specPage());
  });

  test("the reference assembly used below reproduces both spec files byte for byte", () => {
    const header = new Uint8Array(SPEC_HEADER);
    const page = specPage();
    expect(assemble(header, [{ pgno: 1, encoding: "block", payload: new Uint8Array(SPEC_BLOCK), page }])).toEqual(SPEC_192);
    expect(assemble(header, [{ pgno: 1, encoding: "frame", payload: new Uint8Array(SPEC_LZ4_FRAME), page }])).toEqual(SPEC_207);
  });

  test.each(ENCODINGS)("writing the §10 page at TXID 1 (%s) gives the §10 layout around our own LZ4 bytes", (encoding) => {
    const page = specPage();
    const file = encodeLtxFile({ ...SPEC_OPTS, encoding }, [[1, page]]);
    const payload = encoding === "block" ? encodeLz4Block(page) : encodeLz4Frame(page);
    // Same header as §10.1, same structure; only the compressed bytes (and
    // so the sizes, index and checksum) may differ from pierrec/lz4's output.
    expect(file.subarray(0, 100)).toEqual(new Uint8Array(SPEC_HEADER));
    expect(file).toEqual(assemble(new Uint8Array(SPEC_HEADER), [{ pgno: 1, encoding, payload, page }]));
    const frameLen = (encoding === "block" ? 10 : 6) + payload.length;
    expect(file.length).toBe(100 + frameLen + 6 + 4 + 8 + 16);
    expect([...file.subarray(100, 106)]).toEqual(encoding === "block" ? hex("00 00 00 01 00 01") : hex("00 00 00 01 00 00"));
    if (encoding === "block") expect(readU32(file, 106)).toBe(payload.length);
    else expect([...file.subarray(106, 113)]).toEqual(hex("04 22 4D 18 64 40 A7"));
    expect([...file.subarray(100 + frameLen, 106 + frameLen)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(frameLen).toBeLessThan(128); // so the size varint is one byte, as in the spec
    expect([...file.subarray(106 + frameLen, 110 + frameLen)]).toEqual([0x01, 0x64, frameLen, 0x00]);
    expect(Number(readU64(file, file.length - 24))).toBe(4);
    expect(readU64(file, file.length - 16)).toBe(0n);
    expect(readU64(file, file.length - 8) & CHECKSUM_FLAG).toBe(CHECKSUM_FLAG);
    // (Our compressor's bytes are not pierrec's — the spec layout around pierrec's payload is checked
    // by the test above — so no assertion here may depend on them being equal.)
    const { pages, decoded } = decodePages(file);
    expect(pages.get(1)).toEqual(page);
    expect(indexEntries(decoded)).toEqual([[1, 100, frameLen]]);
  });
});

describe("LtxWriter / encodeLtxFile round trips", () => {
  const shapes: { pageSize: number; pgnos: number[]; minTxid: number; commit: number }[] = [
    { pageSize: 512, pgnos: [1], minTxid: 1, commit: 1 },
    { pageSize: 1024, pgnos: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], minTxid: 1, commit: 10 },
    { pageSize: 4096, pgnos: [2, 5, 6, 40], minTxid: 7, commit: 40 },
    { pageSize: 4096, pgnos: [3], minTxid: 7, commit: 100 },
    { pageSize: 8192, pgnos: [1, 2, 3, 300], minTxid: 2, commit: 300 },
    { pageSize: 65536, pgnos: [1, 2, 3, 4, 5], minTxid: 1, commit: 5 },
    { pageSize: 2048, pgnos: [], minTxid: 9, commit: 12 },
    { pageSize: 512, pgnos: Array.from({ length: 300 }, (_, i) => i + 1), minTxid: 1, commit: 300 },
  ];

  for (const shape of shapes) {
    for (const encoding of ENCODINGS) {
      test(`${encoding}, page size ${shape.pageSize}, pages [${shape.pgnos.length > 6 ? `${shape.pgnos.length} pages` : shape.pgnos.join(",")}], commit ${shape.commit}`, () => {
        const pages = shape.pgnos.map((p, i) => [p, samplePage(shape.pageSize, i, p * 7919 + shape.pageSize)] as const);
        const opts: LtxWriteOptions = {
          pageSize: shape.pageSize,
          commit: shape.commit,
          minTxid: shape.minTxid,
          maxTxid: shape.minTxid + 3,
          timestamp: 1_750_000_000_123,
          encoding,
          ...(shape.minTxid > 1 ? { walOffset: 32, walSize: 8272, walSalt1: 0xdeadbeef, walSalt2: 7 } : {}),
        };
        const w = new LtxWriter(opts);
        for (const [p, d] of pages) w.addPage(p, d);
        const file = w.finish();
        expect(encodeLtxFile(opts, pages)).toEqual(file);

        const { decoded, pages: got, order } = decodePages(file, "rt.ltx");
        expect(order).toEqual(shape.pgnos);
        for (const [p, d] of pages) expect(got.get(p), `page ${p}`).toEqual(d);
        expect(decoded.header).toEqual(w.header);
        expect(decoded.header).toEqual({
          flags: 2,
          pageSize: shape.pageSize,
          commit: shape.commit,
          minTxid: shape.minTxid,
          maxTxid: shape.minTxid + 3,
          timestamp: 1_750_000_000_123,
          preApplyChecksum: 0n,
          walOffset: shape.minTxid > 1 ? 32 : 0,
          walSize: shape.minTxid > 1 ? 8272 : 0,
          walSalt1: shape.minTxid > 1 ? 0xdeadbeef : 0,
          walSalt2: shape.minTxid > 1 ? 7 : 0,
          nodeId: 0n,
        } satisfies LtxHeader);
        expect(decoded.postApplyChecksum).toBe(0n);
        expect(decoded.fileChecksum & CHECKSUM_FLAG).toBe(CHECKSUM_FLAG);
        expect(decoded.encodings).toEqual(new Set(pages.length > 0 ? [encoding] : []));

        // Index: ascending pgnos, frames contiguous from byte 100, sizes = frame lengths as stored.
        const entries = indexEntries(decoded);
        expect(entries.map((e) => e[0])).toEqual(shape.pgnos);
        let pos = 100;
        for (const [pgno, offset, size] of entries) {
          expect(offset).toBe(pos);
          expect(readU32(file, offset)).toBe(pgno);
          if (encoding === "block") {
            expect([file[offset + 4], file[offset + 5]]).toEqual([0, 1]);
            expect(readU32(file, offset + 6)).toBe(size - 10);
          } else {
            expect([...file.subarray(offset + 4, offset + 13)]).toEqual(hex("00 00 04 22 4D 18 64 40 A7"));
          }
          pos += size;
        }
        // Then the zero page header, the index, its length and the trailer.
        expect([...file.subarray(pos, pos + 6)]).toEqual([0, 0, 0, 0, 0, 0]);
        const indexLen = Number(readU64(file, file.length - 24));
        expect(pos + 6 + indexLen + 24).toBe(file.length);
        expect(file[file.length - 25]).toBe(0);

        // And byte-identical to the independent assembly.
        const frames = pages.map(([pgno, page]) => ({
          pgno,
          encoding,
          page,
          payload: encoding === "block" ? encodeLz4Block(page) : encodeLz4Frame(page),
        }));
        expect(file).toEqual(assemble(file.slice(0, 100), frames));
      });
    }
  }

  test("frame encoding stores incompressible pages raw (LZ4 block-size bit 31), block encoding as literals", () => {
    const page = seededBytes(42, 4096);
    const frame = encodeLtxFile({ pageSize: 4096, commit: 1, minTxid: 1, maxTxid: 1, timestamp: 0, encoding: "frame" }, [[1, page]]);
    const word = (frame[113] ?? 0) | ((frame[114] ?? 0) << 8) | ((frame[115] ?? 0) << 16) | ((frame[116] ?? 0) << 24);
    expect(word >>> 0).toBe((0x8000_0000 | 4096) >>> 0);
    expect(frame.subarray(117, 117 + 4096)).toEqual(page);
    const block = encodeLtxFile({ pageSize: 4096, commit: 1, minTxid: 1, maxTxid: 1, timestamp: 0 }, [[1, page]]);
    expect(readU32(block, 106)).toBeGreaterThanOrEqual(4096);
    expect(decodePages(frame).pages.get(1)).toEqual(page);
    expect(decodePages(block).pages.get(1)).toEqual(page);
  });

  test("default encoding is block, default timestamp is now", () => {
    const before = Date.now();
    const w = new LtxWriter({ pageSize: 512, commit: 1, minTxid: 3, maxTxid: 3 });
    w.addPage(1, new Uint8Array(512));
    const file = w.finish();
    expect(w.header.timestamp).toBeGreaterThanOrEqual(before);
    expect(w.header.timestamp).toBeLessThanOrEqual(Date.now());
    expect(decodePages(file).decoded.encodings).toEqual(new Set(["block"]));
  });

  test("an empty non-snapshot file is the smallest valid file (131 bytes)", () => {
    const file = encodeLtxFile({ pageSize: 4096, commit: 3, minTxid: 4, maxTxid: 4, timestamp: 0 }, []);
    expect(file.length).toBe(100 + 6 + 1 + 8 + 16);
    const { decoded, order } = decodePages(file);
    expect(decoded.index.count).toBe(0);
    expect(order).toEqual([]);
  });

  test("property: random page sets round-trip in both encodings", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(512, 1024, 4096),
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 2, max: 1_000_000 }),
        fc.constantFrom<Encoding>("block", "frame"),
        (pageSize, pgnoSet, kinds, txid, encoding) => {
          const pgnos = [...pgnoSet].sort((a, b) => a - b);
          const pages = pgnos.map((p, i) => [p, samplePage(pageSize, kinds[i] ?? 0, p + txid)] as const);
          const commit = (pgnos[pgnos.length - 1] ?? 0) + (txid % 3);
          const file = encodeLtxFile({ pageSize, commit, minTxid: txid, maxTxid: txid, timestamp: txid, encoding }, pages);
          const { pages: got, order, decoded } = decodePages(file);
          expect(order).toEqual(pgnos);
          for (const [p, d] of pages) expect(got.get(p)).toEqual(d);
          expect(decoded.header.commit).toBe(commit);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("encoder rules (spec §5.6)", () => {
  const page = (n = 4096) => new Uint8Array(n);

  test("page numbers strictly ascending, integer and ≥ 1", () => {
    for (const [a, b] of [
      [3, 3],
      [3, 2],
      [5, 1],
    ] as const) {
      const w = new LtxWriter({ pageSize: 4096, commit: 10, minTxid: 2, maxTxid: 2 });
      w.addPage(a, page());
      expectRangeError(() => w.addPage(b, page()), /ascending/);
    }
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const w = new LtxWriter({ pageSize: 4096, commit: 10, minTxid: 2, maxTxid: 2 });
      expect(() => w.addPage(bad, page()), String(bad)).toThrow(RangeError);
    }
  });

  test("pgno ≤ commit", () => {
    const w = new LtxWriter({ pageSize: 4096, commit: 10, minTxid: 2, maxTxid: 2 });
    w.addPage(10, page());
    expectRangeError(() => w.addPage(11, page()), /beyond commit/);
    const w0 = new LtxWriter({ pageSize: 4096, commit: 0, minTxid: 2, maxTxid: 2 });
    expectRangeError(() => w0.addPage(1, page()), /beyond commit/);
  });

  test("page length must equal the page size", () => {
    const w = new LtxWriter({ pageSize: 4096, commit: 10, minTxid: 2, maxTxid: 2 });
    for (const n of [0, 1, 512, 4095, 4097, 8192]) expectRangeError(() => w.addPage(1, page(n)), /bytes, expected 4096/);
    w.addPage(1, page());
    expect(decodePages(w.finish()).order).toEqual([1]);
  });

  test("invalid page sizes and TXID ranges are refused at construction", () => {
    for (const ps of [0, 256, 511, 3000, 4095, 131072]) {
      expectRangeError(() => new LtxWriter({ pageSize: ps, commit: 1, minTxid: 1, maxTxid: 1 }), /page size/);
    }
    for (const [min, max] of [
      [0, 0],
      [0, 1],
      [5, 4],
      [-1, 3],
      [Number.NaN, 1],
    ] as const) {
      expectRangeError(() => new LtxWriter({ pageSize: 4096, commit: 1, minTxid: min, maxTxid: max }), /TXID/);
    }
  });

  test("a writer can be finished only once and takes no pages afterwards", () => {
    const w = new LtxWriter({ pageSize: 512, commit: 2, minTxid: 2, maxTxid: 2 });
    w.addPage(1, page(512));
    w.finish();
    expect(() => w.finish()).toThrow(/finished/);
    expect(() => w.addPage(2, page(512))).toThrow(/finished/);
  });

  test("the writer refuses header fields its own decoder (spec §4) would reject", () => {
    const base = { pageSize: 4096, commit: 3, minTxid: 2, maxTxid: 2, timestamp: 0 };
    for (const wal of [
      { walSalt1: 1 }, // salt without a WAL offset
      { walSalt2: 1, walSize: 10 },
      { walSize: 4096 }, // size without offset
      { walOffset: -1, walSize: 1 },
      { walOffset: 32, walSize: -1 },
    ]) {
      expect(() => new LtxWriter({ ...base, ...wal }), JSON.stringify(wal)).toThrow(RangeError);
    }
    expect(() => new LtxWriter({ ...base, minTxid: 2 ** 53, maxTxid: 2 ** 53 })).toThrow(RangeError);
    // Valid combinations still work.
    const file = encodeLtxFile({ ...base, walOffset: 32, walSize: 0, walSalt1: 5 }, [[1, page()]]);
    expect(decodePages(file).decoded.header.walSalt1).toBe(5);
  });

  test("commit must be a u32 (it is stored in 4 bytes)", () => {
    for (const commit of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => new LtxWriter({ pageSize: 4096, commit, minTxid: 2, maxTxid: 2 }), String(commit)).toThrow(RangeError);
    }
    const max = encodeLtxFile({ pageSize: 4096, commit: 0xffff_ffff, minTxid: 2, maxTxid: 2, timestamp: 0 }, [[0xffff_ffff, page()]]);
    const { decoded, order } = decodePages(max);
    expect(decoded.header.commit).toBe(0xffff_ffff);
    expect(order).toEqual([0xffff_ffff]);
  });

  describe("snapshots (MinTXID 1) hold exactly pages 1 … commit", () => {
    const snap = (commit: number, pageSize = 4096) => new LtxWriter({ pageSize, commit, minTxid: 1, maxTxid: 5, timestamp: 0 });

    test("must start at page 1", () => {
      expectRangeError(() => snap(3).addPage(2, page()), /snapshot must hold every page: expected 1, got 2/);
    });

    test("must not skip a page", () => {
      const w = snap(5);
      w.addPage(1, page());
      w.addPage(2, page());
      expectRangeError(() => w.addPage(4, page()), /expected 3, got 4/);
    });

    test("must reach commit", () => {
      const w = snap(5);
      w.addPage(1, page());
      w.addPage(2, page());
      expectRangeError(() => w.finish(), /snapshot ends at page 2, commit is 5/);
      expectRangeError(() => snap(1).finish(), /commit is 1/);
    });

    test("a complete snapshot decodes, and MinTXID > 1 files need not be complete", () => {
      const w = snap(3);
      for (const p of [1, 2, 3]) w.addPage(p, page());
      expect(decodePages(w.finish()).order).toEqual([1, 2, 3]);
      const inc = encodeLtxFile({ pageSize: 4096, commit: 300, minTxid: 2, maxTxid: 5, timestamp: 0 }, [[200, page()]]);
      expect(decodePages(inc).order).toEqual([200]);
    });
  });

  describe("the lock page (spec §9.4) is never stored", () => {
    test.each([512, 1024, 4096, 65536])("page size %i: a non-snapshot file around the lock page", (ps) => {
      const lock = lockPgno(ps);
      const w = new LtxWriter({ pageSize: ps, commit: lock + 2, minTxid: 9, maxTxid: 9, timestamp: 0 });
      w.addPage(lock - 1, page(ps));
      expectRangeError(() => w.addPage(lock, page(ps)), /lock page/);
      w.addPage(lock + 1, page(ps));
      const { decoded, order } = decodePages(w.finish());
      expect(order).toEqual([lock - 1, lock + 1]);
      expect(decoded.header.commit).toBe(lock + 2);
    });

    test("a non-snapshot file may end right before the lock page with commit = lock page", () => {
      const lock = lockPgno(512);
      const file = encodeLtxFile({ pageSize: 512, commit: lock, minTxid: 9, maxTxid: 9, timestamp: 0 }, [[lock - 1, page(512)]]);
      expect(decodePages(file).order).toEqual([lock - 1]);
    });

    test(
      "page size 1024: a snapshot past the lock page skips it (1 GiB of cheap zero pages)",
      () => {
        const ps = 1024;
        const lock = lockPgno(ps); // 1048577
        const commit = lock + 2;
        const zero = page(ps);
        const w = new LtxWriter({ pageSize: ps, commit, minTxid: 1, maxTxid: 1, timestamp: 0 });
        for (let p = 1; p < lock; p++) w.addPage(p, zero);
        // The lock page itself is refused, and so is writing past it too early.
        expectRangeError(() => w.addPage(lock, zero), /lock page/);
        expectRangeError(() => w.addPage(lock + 2, zero), /expected 1048578, got 1048579/);
        w.addPage(lock + 1, zero);
        w.addPage(lock + 2, zero);
        const file = w.finish();
        let n = 0;
        let prev = 0;
        let sawLock = false;
        const d = decodeLtxFile(file, {
          onPage: (pgno) => {
            if (pgno === lock) sawLock = true;
            if (pgno !== prev + 1) expect([prev, pgno]).toEqual([lock - 1, lock + 1]);
            prev = pgno;
            n++;
          },
        });
        expect(sawLock).toBe(false);
        expect(n).toBe(commit - 1);
        expect(prev).toBe(commit);
        expect(d.index.count).toBe(commit - 1);
        expect(d.header.commit).toBe(commit);
      },
      120_000,
    );
  });
});

describe("re-encoding every real fixture file", () => {
  interface Entry {
    label: string;
    bytes: Uint8Array;
  }
  const entries: Entry[] = [];
  for (const name of [...FIXTURES, "poll"]) {
    const m = JSON.parse(readFileSync(join(ROOT, name, "manifest.json"), "utf8")) as FixtureManifest;
    for (const f of [...(m.files ?? []), ...(m.before_files ?? []), ...(m.after_files ?? [])]) {
      entries.push({ label: `${name}/${f.path}`, bytes: new Uint8Array(readFileSync(join(ROOT, name, f.path))) });
    }
  }

  test("there are real fixture files of both encodings", () => {
    expect(entries.length).toBeGreaterThan(250);
  });

  test(
    "decode → write (block and frame) → decode gives the same header and pages",
    () => {
      const seen = new Set<string>();
      for (const { label, bytes } of entries) {
        const { decoded, pages, order } = decodePages(bytes, label);
        for (const e of decoded.encodings) seen.add(e);
        const h = decoded.header;
        for (const encoding of ENCODINGS) {
          const file = encodeLtxFile(
            {
              pageSize: h.pageSize,
              commit: h.commit,
              minTxid: h.minTxid,
              maxTxid: h.maxTxid,
              timestamp: h.timestamp,
              walOffset: h.walOffset,
              walSize: h.walSize,
              walSalt1: h.walSalt1,
              walSalt2: h.walSalt2,
              encoding,
            },
            order.map((p) => [p, pages.get(p) as Uint8Array] as const),
          );
          // The header the writer emits is the Go writer's, byte for byte.
          expect(file.subarray(0, 100), `${label} ${encoding}`).toEqual(bytes.subarray(0, 100));
          const again = decodePages(file, label);
          expect(again.decoded.header, `${label} ${encoding}`).toEqual(h);
          expect(again.order, `${label} ${encoding}`).toEqual(order);
          expect(again.decoded.encodings).toEqual(new Set(order.length > 0 ? [encoding] : []));
          for (const p of order) {
            const a = again.pages.get(p);
            const b = pages.get(p);
            if (!a || !b || Buffer.compare(a, b) !== 0) throw new Error(`${label} ${encoding}: page ${p} differs`);
          }
          // A block-encoded original re-encoded as block differs only in the LZ4 bytes:
          // same pgno list and index length structure.
          expect(indexEntries(again.decoded).map((e) => e[0])).toEqual(indexEntries(decoded).map((e) => e[0]));
        }
      }
      expect(seen).toEqual(new Set(["block", "frame"]));
    },
    120_000,
  );

  test("decoding errors carry the file name (sanity: the originals all decode cleanly)", () => {
    for (const { label, bytes } of entries) {
      expect(() => decodeLtxFile(bytes, { file: label })).not.toThrow();
    }
    const bad = entries[0]?.bytes.slice() ?? new Uint8Array(0);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    try {
      decodeLtxFile(bad, { file: "x.ltx" });
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(LtxError);
      expect((e as LtxError).file).toBe("x.ltx");
    }
  });
});

describe("streaming mode (a sink)", () => {
  /** Writes `pages` with a sink; returns the blocks it received and what finish() returned. */
  function streamed(opts: LtxWriteOptions, pages: readonly (readonly [number, Uint8Array])[]): { blocks: Uint8Array[]; returned: Uint8Array } {
    const blocks: Uint8Array[] = [];
    const w = new LtxWriter({ ...opts, sink: (b) => blocks.push(b) });
    for (const [p, d] of pages) w.addPage(p, d);
    return { blocks, returned: w.finish() };
  }

  test("property: the sink receives exactly the bytes of the in-memory file, in both encodings", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(512, 4096),
        fc.uniqueArray(fc.integer({ min: 1, max: 80 }), { maxLength: 20 }),
        fc.integer({ min: 2, max: 1_000_000 }),
        fc.constantFrom<Encoding>("block", "frame"),
        (pageSize, pgnoSet, txid, encoding) => {
          const pgnos = [...pgnoSet].sort((a, b) => a - b);
          const pages = pgnos.map((p, i) => [p, samplePage(pageSize, i % 5, p + txid)] as const);
          const opts = { pageSize, commit: 80, minTxid: txid, maxTxid: txid, timestamp: txid, encoding };
          const { blocks, returned } = streamed(opts, pages);
          expect(returned.length).toBe(0);
          expect(concatBytes(blocks)).toEqual(encodeLtxFile(opts, pages));
        },
      ),
      { numRuns: 100 },
    );
  });

  test("a file of several MiB arrives in full blocks, then the rest; index and checksum span block edges", () => {
    // Incompressible 4 KiB pages: ~4 MiB of frames, so the page block and the index both cross block edges.
    const pages = Array.from({ length: 1100 }, (_, i) => [i + 1, seededBytes(i + 1, 4096)] as const);
    const opts = { pageSize: 4096, commit: 1100, minTxid: 1, maxTxid: 1, timestamp: 0 };
    const { blocks } = streamed(opts, pages);
    expect(blocks.length).toBeGreaterThan(4);
    for (const b of blocks.slice(0, -1)) expect(b.length).toBe(SINK_BLOCK_BYTES);
    expect((blocks[blocks.length - 1] as Uint8Array).length).toBeLessThanOrEqual(SINK_BLOCK_BYTES);
    const file = concatBytes(blocks);
    expect(file).toEqual(encodeLtxFile(opts, pages));
    const { order, pages: got } = decodePages(file);
    expect(order.length).toBe(1100);
    expect(got.get(777)).toEqual(seededBytes(777, 4096));
  });

  test("an empty non-snapshot file streams as the same 131 bytes", () => {
    const opts = { pageSize: 4096, commit: 3, minTxid: 4, maxTxid: 4, timestamp: 0 };
    const { blocks } = streamed(opts, []);
    expect(concatBytes(blocks)).toEqual(encodeLtxFile(opts, []));
    expect(concatBytes(blocks).length).toBe(131);
  });

  test("encoder rules hold in streaming mode too", () => {
    const w = new LtxWriter({ pageSize: 512, commit: 2, minTxid: 1, maxTxid: 1, sink: () => undefined });
    w.addPage(1, new Uint8Array(512));
    expectRangeError(() => w.finish(), /snapshot ends at page 1, commit is 2/);
  });
});
