/**
 * Corrupted LTX files: real Go-written fixture files (block and frame
 * encodings, small and large) truncated, bit-flipped, spliced and fuzzed.
 * Every corruption must surface as an LtxError (stable code, file name,
 * offset) from the whole-file decoder, from the range-read path where the
 * damaged bytes are ones that path reads and checks, and from restore — never
 * as a different exception, a hang, or a wrong database.
 *
 * Fixtures are read-only: every mutation happens on an in-memory copy, and
 * range/restore tests run on copies in a temp dir.
 */
import { decodePages } from "../support/ltx-pages.ts";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, test } from "vitest";
import { readU32, readU64, readUvarint, writeU32, writeU64 } from "../../src/ltx/bytes.ts";
import { CHECKSUM_FLAG, Crc64 } from "../../src/ltx/crc64.ts";
import { type DecodedLtxFile, decodeLtxFile } from "../../src/ltx/decoder.ts";
import { LtxError, type LtxErrorCode } from "../../src/ltx/errors.ts";
import { decodeFileIndexFromTail } from "../../src/ltx/file-index.ts";
import { HEADER_SIZE, type LtxHeader, decodeHeader } from "../../src/ltx/header.ts";
import { decodePageFrame } from "../../src/ltx/page.ts";
import { DirStore } from "../../src/replica/dir.ts";
import { type LtxFileInfo, Replica } from "../../src/replica/replica.ts";
import { resolvePlan, restoreToBytes } from "../../src/restore/restore.ts";
import type { FixtureManifest } from "../support/fixtures.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures");
const TMP = mkdtempSync(join(tmpdir(), "ltx-corruption-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const ALL_CODES: readonly LtxErrorCode[] = [
  "LTX_BAD_MAGIC",
  "LTX_ENCRYPTED",
  "LTX_UNSUPPORTED_VERSION",
  "LTX_BAD_HEADER",
  "LTX_BAD_PAGE_SIZE",
  "LTX_TRUNCATED",
  "LTX_BAD_INDEX",
  "LTX_BAD_FRAME",
  "LTX_BAD_LZ4",
  "LTX_CHECKSUM_MISMATCH",
  "LTX_PGNO_MISMATCH",
  "LTX_NAME_MISMATCH",
];
/** Codes a structurally damaged body (frames, index, tail) may produce. */
const BODY: readonly LtxErrorCode[] = ["LTX_TRUNCATED", "LTX_BAD_INDEX", "LTX_BAD_FRAME", "LTX_BAD_LZ4", "LTX_PGNO_MISMATCH", "LTX_CHECKSUM_MISMATCH", "LTX_UNSUPPORTED_VERSION"];

// ---------------------------------------------------------------------------
// Samples: real files, decoded once.

interface Frame {
  pgno: number;
  offset: number;
  size: number;
  encoding: "block" | "frame";
  /** Offset of the LZ4 payload (block data, or LZ4 frame magic). */
  payload: number;
  /** Frame variant only: the block-size word is stored raw (bit 31). */
  raw: boolean;
}

interface Sample {
  label: string;
  fixture: string;
  rel: string;
  level: number;
  name: string;
  bytes: Uint8Array;
  header: LtxHeader;
  pages: Map<number, Uint8Array>;
  order: number[];
  frames: Frame[];
  /** Absolute offset of the first index byte; the terminator is at size - 25. */
  indexStart: number;
  /** End of the last frame = start of the zero page header. */
  frameEnd: number;
  /** Where each index entry's three varints start: [pgno, offset, size]. */
  varints: [number, number, number][];
}

function loadSample(label: string, fixture: string, rel: string): Sample {
  const bytes = new Uint8Array(readFileSync(join(ROOT, fixture, rel)));
  const { decoded, pages, order } = decodePages(bytes, rel);
  const frames: Frame[] = [];
  for (let i = 0; i < decoded.index.count; i++) {
    const offset = decoded.index.offset[i] ?? 0;
    const block = bytes[offset + 5] === 1;
    const payload = offset + (block ? 10 : 6);
    frames.push({
      pgno: decoded.index.pgno[i] ?? 0,
      offset,
      size: decoded.index.size[i] ?? 0,
      encoding: block ? "block" : "frame",
      payload,
      raw: !block && ((bytes[payload + 10] ?? 0) & 0x80) !== 0,
    });
  }
  const size = bytes.length;
  const indexStart = size - 24 - Number(readU64(bytes, size - 24));
  const varints: [number, number, number][] = [];
  let pos = indexStart;
  for (let i = 0; i < frames.length; i++) {
    const a = readUvarint(bytes, pos, size - 24);
    const b = a && readUvarint(bytes, a.next, size - 24);
    const c = b && readUvarint(bytes, b.next, size - 24);
    if (!a || !b || !c) throw new Error("fixture index unreadable");
    varints.push([pos, a.next, b.next]);
    pos = c.next;
  }
  const parts = rel.split("/");
  return {
    label,
    fixture,
    rel,
    level: Number(parts[1]),
    name: parts[2] ?? "",
    bytes,
    header: decoded.header,
    pages,
    order,
    frames,
    indexStart,
    frameEnd: indexStart - 6,
    varints,
  };
}

const SAMPLES: Sample[] = [
  loadSample("block, L0 snapshot, 7 pages", "small", "ltx/0/0000000000000001-0000000000000001.ltx"),
  loadSample("block, L0, 4 pages", "small", "ltx/0/0000000000000002-0000000000000002.ltx"),
  loadSample("block, L1 compacted, 14 pages", "small", "ltx/1/000000000000000f-0000000000000012.ltx"),
  loadSample("block, L3 large (634 KB, 359 pages)", "multi-level", "ltx/3/0000000000000078-0000000000000114.ltx"),
  loadSample("block, 1 KiB pages", "pagesize-1024", "ltx/0/0000000000000002-0000000000000002.ltx"),
  loadSample("block, 64 KiB pages", "pagesize-65536", "ltx/0/0000000000000002-0000000000000002.ltx"),
  loadSample("frame, L0 snapshot, 8 pages", "legacy-frame", "ltx/0/0000000000000001-0000000000000001.ltx"),
  loadSample("frame, L1 compacted, raw blocks (81 KB)", "legacy-frame", "ltx/1/0000000000000017-000000000000001f.ltx"),
  loadSample("frame, L9 snapshot, raw blocks (120 KB)", "legacy-frame", "ltx/9/0000000000000001-0000000000000016.ltx"),
];

// ---------------------------------------------------------------------------
// Helpers.

function copy(b: Uint8Array): Uint8Array {
  return b.slice();
}

function flip(b: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const c = copy(b);
  c[at] = (c[at] ?? 0) ^ mask;
  return c;
}

function setU32(b: Uint8Array, at: number, v: number): Uint8Array {
  const c = copy(b);
  writeU32(c, at, v);
  return c;
}

function setU64(b: Uint8Array, at: number, v: bigint): Uint8Array {
  const c = copy(b);
  writeU64(c, at, v);
  return c;
}

/**
 * Recomputes the file checksum of a (possibly edited) file so that a test can
 * show a structural check fires on its own, not only because the CRC broke.
 */
function reseal(b: Uint8Array): Uint8Array {
  const c = copy(b);
  const crc = new Crc64().update(c, 0, HEADER_SIZE);
  // Hash header bytes + decompressed pages in file order, without the commit/lock checks.
  const h = decodeHeader(c);
  const idx = decodeFileIndexFromTail(c, c.length);
  const page = new Uint8Array(h.pageSize);
  for (let i = 0; i < idx.count; i++) {
    const off = idx.offset[i] ?? 0;
    const r = decodePageFrame(c, off, off + (idx.size[i] ?? 0), page);
    crc.update(c, off, off + (r.flags === 1 ? 10 : 6));
    crc.update(page);
  }
  const indexStart = c.length - 24 - Number(readU64(c, c.length - 24));
  crc.update(c, indexStart - 6, c.length - 8);
  writeU64(c, c.length - 8, crc.digest() | CHECKSUM_FLAG);
  return c;
}

/** Runs fn, requires an LtxError, returns it. */
function ltxError(fn: () => unknown): LtxError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error("expected an LtxError, the call succeeded");
  if (!(thrown instanceof LtxError)) throw new Error(`expected an LtxError, got ${String(thrown)}`, { cause: thrown });
  return thrown;
}

interface Expect {
  codes: readonly LtxErrorCode[];
  offset?: number;
}

/** decodeLtxFile on `bytes` must throw an LtxError with one of `codes`, naming the file. */
function expectWholeFails(s: Sample, bytes: Uint8Array, want: Expect, what: string): LtxError {
  const e = ltxError(() => decodeLtxFile(bytes, { file: s.rel, onPage: () => undefined }));
  expect(want.codes, `${s.label}: ${what}: ${e.code} ${e.message}`).toContain(e.code);
  expect(e.file, what).toBe(s.rel);
  expect(e.message).toContain(s.rel);
  if (want.offset !== undefined) expect(e.offset, `${s.label}: ${what}: ${e.message}`).toBe(want.offset);
  if (e.offset !== undefined) {
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e.offset).toBeLessThanOrEqual(Math.max(bytes.length, s.bytes.length));
  }
  return e;
}

/**
 * The range-read path on a temp copy: Replica.readIndex over a DirStore
 * (one suffix read, or — with a small suffix — header and index read
 * separately), then decodePageFrame on each range the index names (read with
 * one ranged GET of the whole page block, sliced per frame as separate
 * buffers). Returns the LtxError, or null when every page decoded.
 */
async function rangeRead(s: Pick<Sample, "level" | "name">, bytes: Uint8Array, suffix?: number): Promise<LtxError | null> {
  const dir = mkdtempSync(join(TMP, "range-"));
  const key = `ltx/${s.level}/${s.name}`;
  await mkdir(join(dir, "ltx", String(s.level)), { recursive: true });
  await writeFile(join(dir, key), bytes);
  const replica = new Replica(new DirStore(dir), { prefix: "", layout: "file" });
  const [info] = await replica.listFiles();
  if (!info) throw new Error("temp replica lists nothing");
  try {
    const { header, index } = await replica.readIndex(info, suffix);
    if (index.count === 0) return null;
    const first = index.offset[0] ?? 0;
    const last = index.count - 1;
    const block = await replica.readRange(info, first, (index.offset[last] ?? 0) + (index.size[last] ?? 0) - first);
    const dst = new Uint8Array(header.pageSize);
    for (let i = 0; i < index.count; i++) {
      const off = index.offset[i] ?? 0;
      const range = block.slice(off - first, off - first + (index.size[i] ?? 0));
      const r = decodePageFrame(range, 0, range.length, dst, { file: info.key, absBase: off, expectedPgno: index.pgno[i] ?? 0 });
      expect(r.pgno).toBe(index.pgno[i]);
      // A reader must also see the frame fill exactly the range the index names.
      expect(r.consumed, `frame ${i} of ${key}`).toBe(range.length);
    }
    return null;
  } catch (e) {
    if (e instanceof LtxError) {
      expect(e.file).toBe(key);
      return e;
    }
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function expectRangeFails(s: Sample, bytes: Uint8Array, want: Expect, what: string): Promise<void> {
  for (const suffix of [undefined, 48]) {
    const e = await rangeRead(s, bytes, suffix);
    expect(e, `${s.label}: ${what} (suffix ${suffix ?? "default"}): range path did not fail`).not.toBeNull();
    if (!e) return;
    expect(want.codes, `${s.label}: ${what}: ${e.code} ${e.message}`).toContain(e.code);
    if (want.offset !== undefined) expect(e.offset, `${s.label}: ${what}: ${e.message}`).toBe(want.offset);
  }
}

function frameOf(s: Sample, which: "first" | "middle" | "last"): Frame {
  const i = which === "first" ? 0 : which === "last" ? s.frames.length - 1 : Math.floor(s.frames.length / 2);
  const f = s.frames[i];
  if (!f) throw new Error(`${s.label} has no frames`);
  return f;
}

function samePages(s: Sample, d: { decoded: DecodedLtxFile; pages: Map<number, Uint8Array>; order: number[] }): boolean {
  if (d.order.length !== s.order.length || d.order.some((p, i) => p !== s.order[i])) return false;
  for (const [p, data] of s.pages) {
    const got = d.pages.get(p);
    if (!got || Buffer.compare(got, data) !== 0) return false;
  }
  return JSON.stringify(d.decoded.header, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ===
    JSON.stringify(s.header, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

// ---------------------------------------------------------------------------

describe("the samples", () => {
  test("cover both encodings, snapshots, compactions, raw frame blocks, 1 KiB / 4 KiB / 64 KiB pages and > 64 KiB files", () => {
    const enc = new Set(SAMPLES.flatMap((s) => s.frames.map((f) => f.encoding)));
    expect(enc).toEqual(new Set(["block", "frame"]));
    expect(SAMPLES.some((s) => s.frames.some((f) => f.raw))).toBe(true);
    expect(new Set(SAMPLES.map((s) => s.header.pageSize))).toEqual(new Set([1024, 4096, 65536]));
    expect(SAMPLES.some((s) => s.bytes.length > 65536 * 4)).toBe(true);
    expect(SAMPLES.some((s) => s.header.minTxid === 1)).toBe(true);
    expect(SAMPLES.some((s) => s.header.walOffset === 0 && s.header.minTxid > 1)).toBe(true);
    for (const s of SAMPLES) expect(s.order.length).toBe(s.frames.length);
  });

  test.each(SAMPLES.map((s) => [s.label, s] as const))("%s: the untouched copy passes both paths", async (_, s) => {
    expect(await rangeRead(s, s.bytes)).toBeNull();
    expect(await rangeRead(s, s.bytes, 48)).toBeNull();
    expect(samePages(s, decodePages(s.bytes, s.rel))).toBe(true);
  });
});

describe.each(SAMPLES.map((s) => [s.label, s] as const))("%s", (_, s) => {
  const S = s.bytes.length;

  test("truncated at many lengths", async () => {
    const first = frameOf(s, "first");
    const cuts: [number, readonly LtxErrorCode[]][] = [
      [0, ["LTX_TRUNCATED"]],
      [1, ["LTX_TRUNCATED"]],
      [4, ["LTX_TRUNCATED"]],
      [50, ["LTX_TRUNCATED"]],
      [99, ["LTX_TRUNCATED"]],
      [100, ["LTX_TRUNCATED"]],
      [130, ["LTX_TRUNCATED"]],
      [131, BODY],
      [first.offset + Math.floor(first.size / 2), BODY],
      [s.frameEnd, BODY],
      [s.frameEnd + 6, BODY],
      [s.indexStart + Math.floor((S - 24 - s.indexStart) / 2), BODY],
      [S - 25, BODY],
      [S - 24, BODY],
      [S - 16, BODY],
      [S - 8, BODY],
      [S - 1, BODY],
    ];
    for (const [n, codes] of cuts) {
      const cut = s.bytes.slice(0, n);
      const e = expectWholeFails(s, cut, { codes }, `truncated to ${n}`);
      if (n < 100) expect(e.offset).toBe(0);
      await expectRangeFails(s, cut, { codes }, `truncated to ${n}`);
    }
  });

  test("an empty file, LTX4 magic, other magics", async () => {
    await expectRangeFails(s, new Uint8Array(0), { codes: ["LTX_TRUNCATED"], offset: 0 }, "empty");
    expectWholeFails(s, new Uint8Array(0), { codes: ["LTX_TRUNCATED"], offset: 0 }, "empty");
    const ltx4 = copy(s.bytes);
    ltx4[3] = 0x34;
    expectWholeFails(s, ltx4, { codes: ["LTX_ENCRYPTED"], offset: 0 }, "LTX4");
    await expectRangeFails(s, ltx4, { codes: ["LTX_ENCRYPTED"], offset: 0 }, "LTX4");
    for (const at of [0, 1, 2, 3]) {
      const b = flip(s.bytes, at, 0x20);
      expectWholeFails(s, b, { codes: ["LTX_BAD_MAGIC"], offset: 0 }, `magic byte ${at}`);
      await expectRangeFails(s, b, { codes: ["LTX_BAD_MAGIC"], offset: 0 }, `magic byte ${at}`);
    }
  });

  test("header: flags, page size, commit, TXIDs, pre-apply checksum, WAL fields (checked on both paths)", async () => {
    const cases: [string, Uint8Array, Expect][] = [
      ["flag bit 0 (v1)", flip(s.bytes, 7, 0x01), { codes: ["LTX_UNSUPPORTED_VERSION"], offset: 4 }],
      ["flag bit 2", flip(s.bytes, 7, 0x04), { codes: ["LTX_BAD_HEADER"], offset: 4 }],
      ["flag bit 31", flip(s.bytes, 4, 0x80), { codes: ["LTX_BAD_HEADER"], offset: 4 }],
      ["page size low bit", flip(s.bytes, 11, 0x01), { codes: ["LTX_BAD_PAGE_SIZE"], offset: 8 }],
      ["page size 0", setU32(s.bytes, 8, 0), { codes: ["LTX_BAD_PAGE_SIZE"], offset: 8 }],
      ["page size 3000", setU32(s.bytes, 8, 3000), { codes: ["LTX_BAD_PAGE_SIZE"], offset: 8 }],
      ["page size 131072", setU32(s.bytes, 8, 131072), { codes: ["LTX_BAD_PAGE_SIZE"], offset: 8 }],
      ["MinTXID 0", setU64(s.bytes, 16, 0n), { codes: ["LTX_BAD_HEADER"], offset: 16 }],
      ["MaxTXID 0", setU64(s.bytes, 24, 0n), { codes: ["LTX_BAD_HEADER"], offset: 24 }],
      ["MinTXID > MaxTXID", setU64(s.bytes, 16, BigInt(s.header.maxTxid + 1)), { codes: ["LTX_BAD_HEADER"], offset: 16 }],
      ["MaxTXID top byte", flip(s.bytes, 24, 0x80), { codes: ["LTX_BAD_HEADER"] }],
      ["pre-apply checksum set", flip(s.bytes, 40, 0x80), { codes: ["LTX_BAD_HEADER"], offset: 40 }],
      ["pre-apply checksum low bit", flip(s.bytes, 47, 0x01), { codes: ["LTX_BAD_HEADER"], offset: 40 }],
      ["negative WAL offset", flip(s.bytes, 48, 0x80), { codes: ["LTX_BAD_HEADER"] }],
      ["negative WAL size", flip(s.bytes, 56, 0x80), { codes: ["LTX_BAD_HEADER"] }],
      // Commit below the highest stored pgno.
      ["commit below the last page", setU32(s.bytes, 12, (s.order[s.order.length - 1] ?? 1) - 1), { codes: ["LTX_BAD_INDEX"] }],
    ];
    if (s.header.walOffset === 0) {
      cases.push(["WAL size without offset", flip(s.bytes, 63, 0x01), { codes: ["LTX_BAD_HEADER"], offset: 56 }]);
      cases.push(["WAL salt without offset", flip(s.bytes, 67, 0x01), { codes: ["LTX_BAD_HEADER"], offset: 64 }]);
    } else {
      cases.push(["WAL offset cleared with salts set", setU64(s.bytes, 48, 0n), { codes: ["LTX_BAD_HEADER"], offset: 64 }]);
    }
    if (s.header.minTxid > 1) {
      // Checksums "tracked" (flags 0) but the pre-apply checksum is 0.
      cases.push(["NoChecksum flag cleared", flip(s.bytes, 7, 0x02), { codes: ["LTX_BAD_HEADER"], offset: 40 }]);
    }
    for (const [what, b, want] of cases) {
      expectWholeFails(s, b, want, what);
      await expectRangeFails(s, b, want, what);
      // The check is structural: it fires even with a recomputed file checksum.
      if (want.codes.length === 1) expect(ltxError(() => decodeLtxFile(b, { verifyChecksum: false })).code, what).toBe(want.codes[0]);
    }
  });

  test("header: a wrong but valid page size fails when pages are decompressed", async () => {
    const ps = s.header.pageSize;
    for (const wrong of [ps / 2, ps * 2].filter((x) => x >= 512 && x <= 65536)) {
      const b = setU32(s.bytes, 8, wrong);
      const want: Expect = { codes: ["LTX_BAD_LZ4"] };
      const e = expectWholeFails(s, b, want, `page size ${wrong}`);
      expect(e.offset).toBeGreaterThanOrEqual(100);
      await expectRangeFails(s, b, want, `page size ${wrong}`);
    }
  });

  test("header: fields only the file checksum covers (whole-file decode catches them)", async () => {
    const fields: [string, Uint8Array][] = [
      ["timestamp", flip(s.bytes, 39, 0x01)],
      ["timestamp high", flip(s.bytes, 33, 0x10)],
      ["commit + 1", setU32(s.bytes, 12, s.header.commit + 1)],
      ["NodeID", flip(s.bytes, 79, 0x01)],
      ["reserved", flip(s.bytes, 90, 0xff)],
      ["MaxTXID + 1", setU64(s.bytes, 24, BigInt(s.header.maxTxid + 1))],
    ];
    if (s.header.walOffset !== 0) {
      fields.push(["WAL size", flip(s.bytes, 63, 0x01)], ["WAL offset", flip(s.bytes, 55, 0x08)], ["WAL salt 2", flip(s.bytes, 71, 0x01)]);
    } else {
      fields.push(["WAL offset alone (size 0 is allowed)", flip(s.bytes, 55, 0x08)]);
    }
    if (s.header.minTxid === 1) fields.push(["NoChecksum cleared on a snapshot", flip(s.bytes, 7, 0x02)]);
    for (const [what, b] of fields) {
      // A snapshot's commit must equal its last page, so "commit + 1" is structural there.
      const codes: readonly LtxErrorCode[] = s.header.minTxid === 1 && what === "commit + 1" ? ["LTX_BAD_FRAME"] : ["LTX_CHECKSUM_MISMATCH"];
      expectWholeFails(s, b, { codes, offset: codes[0] === "LTX_CHECKSUM_MISMATCH" ? S - 8 : undefined }, what);
    }
    // The range path checks the header TXIDs against the object name.
    const e = await rangeRead(s, setU64(s.bytes, 24, BigInt(s.header.maxTxid + 1)));
    expect(e?.code).toBe("LTX_NAME_MISMATCH");
    expect(e?.offset).toBe(16);
  });

  test("page frames: pgno, flags, size prefix", async () => {
    for (const which of ["first", "middle", "last"] as const) {
      const f = frameOf(s, which);
      const cases: [string, Uint8Array, Expect][] = [
        // pgno 1 ^ 1 = 0 is "no page" rather than "another page".
        ["pgno low bit", flip(s.bytes, f.offset + 3, 0x01), { codes: [f.pgno === 1 ? "LTX_BAD_FRAME" : "LTX_PGNO_MISMATCH"], offset: f.offset }],
        ["pgno high byte", flip(s.bytes, f.offset, 0x40), { codes: ["LTX_PGNO_MISMATCH"], offset: f.offset }],
        ["pgno 0", setU32(s.bytes, f.offset, 0), { codes: ["LTX_BAD_FRAME"], offset: f.offset }],
        ["flags high byte", flip(s.bytes, f.offset + 4, 0x80), { codes: ["LTX_BAD_FRAME"], offset: f.offset + 4 }],
        ["flags bit 1", flip(s.bytes, f.offset + 5, 0x02), { codes: ["LTX_BAD_FRAME"], offset: f.offset + 4 }],
        // block → "frame" without an LZ4 magic; frame → "block" whose size is the LZ4 magic.
        ["flags bit 0", flip(s.bytes, f.offset + 5, 0x01), { codes: ["LTX_BAD_FRAME"], offset: f.offset + 6 }],
      ];
      if (f.encoding === "block") {
        const n = readU32(s.bytes, f.offset + 6);
        cases.push(
          ["size prefix + 1", setU32(s.bytes, f.offset + 6, n + 1), { codes: ["LTX_BAD_FRAME"], offset: f.offset + 6 }],
          ["size prefix high byte", flip(s.bytes, f.offset + 6, 0x01), { codes: ["LTX_BAD_FRAME"], offset: f.offset + 6 }],
          ["size prefix 0", setU32(s.bytes, f.offset + 6, 0), { codes: ["LTX_BAD_FRAME"], offset: f.offset + 6 }],
          ["size prefix - 1", setU32(s.bytes, f.offset + 6, n - 1), { codes: ["LTX_BAD_LZ4", "LTX_BAD_FRAME"] }],
        );
      }
      for (const [what, b, want] of cases) {
        expectWholeFails(s, b, want, `${which} frame: ${what}`);
        await expectRangeFails(s, b, want, `${which} frame: ${what}`);
      }
    }
  });

  test("page frames: LZ4 payload bytes", async () => {
    for (const which of ["first", "middle", "last"] as const) {
      const f = frameOf(s, which);
      const end = f.offset + f.size;
      const spots = [f.payload, f.payload + 1, Math.floor((f.payload + end) / 2), end - 5, end - 1];
      for (const at of spots) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const b = flip(s.bytes, at, mask);
          // The decompressed page changes or the LZ4 stream breaks: either way the file is refused.
          const e = ltxError(() => decodeLtxFile(b, { file: s.rel }));
          expect(["LTX_BAD_LZ4", "LTX_CHECKSUM_MISMATCH", "LTX_BAD_FRAME"], `${which} @${at}^${mask}: ${e.message}`).toContain(e.code);
          expect(e.file).toBe(s.rel);
          if (f.encoding === "frame") {
            // Frame pages carry xxHash32 of the page: the range path catches it too.
            await expectRangeFails(s, b, { codes: ["LTX_BAD_LZ4", "LTX_BAD_FRAME"] }, `${which} frame payload @${at}^${mask}`);
          }
        }
      }
      if (f.encoding === "frame") {
        const p = f.payload;
        const parts: [string, number][] = [
          ["LZ4 magic", p],
          ["FLG", p + 4],
          ["BD", p + 5],
          ["header checksum", p + 6],
          ["block size word", p + 7],
          ["block size word bit 31", p + 10],
          ["EndMark", end - 8],
          ["content checksum", end - 1],
        ];
        for (const [what, at] of parts) {
          const b = flip(s.bytes, at, what === "block size word bit 31" ? 0x80 : 0x01);
          // A broken LZ4 magic is a frame-level error; everything past it is LZ4's.
          const codes: readonly LtxErrorCode[] = what === "LZ4 magic" ? ["LTX_BAD_FRAME"] : ["LTX_BAD_LZ4", "LTX_BAD_FRAME"];
          expectWholeFails(s, b, { codes }, `${which} frame ${what}`);
          await expectRangeFails(s, b, { codes }, `${which} frame ${what}`);
        }
      }
    }
  });

  test("page index: varints, terminator, length field", async () => {
    const term = S - 25;
    const lenAt = S - 24;
    const cases: [string, Uint8Array, Expect][] = [
      ["terminator", flip(s.bytes, term, 0x01), { codes: ["LTX_BAD_INDEX"], offset: term }],
      ["terminator 0x80", flip(s.bytes, term, 0x80), { codes: ["LTX_BAD_INDEX"], offset: term }],
      ["length + 1", setU64(s.bytes, lenAt, BigInt(S - 24 - s.indexStart + 1)), { codes: ["LTX_BAD_INDEX"] }],
      ["length - 1", setU64(s.bytes, lenAt, BigInt(S - 24 - s.indexStart - 1)), { codes: ["LTX_BAD_INDEX"] }],
      ["length 0", setU64(s.bytes, lenAt, 0n), { codes: ["LTX_BAD_INDEX"], offset: lenAt }],
      ["length top byte", flip(s.bytes, lenAt, 0x01), { codes: ["LTX_BAD_INDEX"], offset: lenAt }],
      ["length 2^63", flip(s.bytes, lenAt, 0x80), { codes: ["LTX_BAD_INDEX"], offset: lenAt }],
      ["length = whole file", setU64(s.bytes, lenAt, BigInt(S)), { codes: ["LTX_BAD_INDEX"], offset: lenAt }],
    ];
    expect(s.varints.length).toBe(s.frames.length);
    expect(s.varints.length).toBeGreaterThan(2);
    for (const which of [0, Math.floor(s.varints.length / 2), s.varints.length - 1]) {
      const entry = s.varints[which];
      if (!entry) throw new Error(`no index entry ${which}`);
      const [pgnoAt, offAt, sizeAt] = entry;
      // Offsets always break the contiguity/bounds checks of the index itself.
      cases.push([`entry ${which} offset + 1`, flip(s.bytes, offAt, 0x01), { codes: ["LTX_BAD_INDEX"] }]);
      cases.push([`entry ${which} offset varint continuation`, flip(s.bytes, sizeAt - 1, 0x80), { codes: ["LTX_BAD_INDEX"] }]);
      // A changed pgno or size may still be a well-formed index: the frame read catches it.
      cases.push([`entry ${which} pgno`, flip(s.bytes, pgnoAt, 0x01), { codes: ["LTX_BAD_INDEX", "LTX_PGNO_MISMATCH"] }]);
      cases.push([`entry ${which} pgno continuation`, flip(s.bytes, offAt - 1, 0x80), { codes: ["LTX_BAD_INDEX"] }]);
      cases.push([`entry ${which} size - 1`, flip(s.bytes, sizeAt, 0x01), { codes: ["LTX_BAD_INDEX", "LTX_BAD_FRAME", "LTX_BAD_LZ4"] }]);
      cases.push([`entry ${which} size bit 2`, flip(s.bytes, sizeAt, 0x04), { codes: ["LTX_BAD_INDEX", "LTX_BAD_FRAME", "LTX_BAD_LZ4"] }]);
    }
    for (const [what, b, want] of cases) {
      expectWholeFails(s, b, want, what);
      await expectRangeFails(s, b, want, what);
    }
  });

  test("zero page header and trailer", async () => {
    for (let k = 0; k < 6; k++) {
      const b = flip(s.bytes, s.frameEnd + k, 0x01);
      expectWholeFails(s, b, { codes: BODY }, `zero page header byte ${k}`);
    }
    for (const [what, at, mask] of [
      ["post-apply checksum low", S - 9, 0x01],
      ["post-apply checksum bit 63", S - 16, 0x80],
      ["file checksum low", S - 1, 0x01],
      ["file checksum bit 63", S - 8, 0x80],
      ["file checksum middle", S - 4, 0xff],
    ] as const) {
      expectWholeFails(s, flip(s.bytes, at, mask), { codes: ["LTX_CHECKSUM_MISMATCH"], offset: S - 8 }, what);
    }
  });

  test("structural checks fire on their own, with a consistent file checksum", () => {
    const last = frameOf(s, "last");
    const resealed: [string, Uint8Array, LtxErrorCode][] = [
      ["commit below the last page", reseal(setU32(s.bytes, 12, last.pgno - 1)), "LTX_BAD_INDEX"],
    ];
    if (s.header.minTxid === 1) resealed.push(["snapshot commit + 1", reseal(setU32(s.bytes, 12, s.header.commit + 1)), "LTX_BAD_FRAME"]);
    // Post-apply checksum must be 0 under NoChecksum (spec §8).
    resealed.push(["post-apply checksum under NoChecksum", reseal(flip(s.bytes, S - 9, 0x01)), "LTX_BAD_HEADER"]);
    for (const [what, b, code] of resealed) {
      let e: LtxError;
      try {
        e = ltxError(() => decodeLtxFile(b, { file: s.rel }));
      } catch (x) {
        throw new Error(`${s.label}: ${what}: ${String(x)}`);
      }
      expect(e.code, `${what}: ${e.message}`).toBe(code);
    }
    // Sanity: reseal of the untouched file is the identity.
    expect(Buffer.compare(reseal(s.bytes), s.bytes)).toBe(0);
  });

  test("every byte of the head and tail, flipped", () => {
    let benign = 0;
    const positions = new Set<number>();
    // Whole-file decodes of the big samples are ~10 ms each: fewer positions there.
    const [head, tail] = S > 65536 ? [112, 40] : [300, 120];
    for (let i = 0; i < Math.min(head, S); i++) positions.add(i);
    for (let i = Math.max(0, S - tail); i < S; i++) positions.add(i);
    for (const at of positions) {
      for (const mask of [0x01, 0x10, 0x80]) {
        const b = flip(s.bytes, at, mask);
        try {
          const d = decodePages(b, s.rel);
          if (!samePages(s, d)) throw new Error(`byte ${at}^${mask}: decoded silently to different content`);
          benign++;
        } catch (e) {
          if (!(e instanceof LtxError)) throw e;
          expect(e.file).toBe(s.rel);
        }
      }
    }
    // Only LZ4 payload bytes can change without changing what the file means.
    expect(benign).toBeLessThan(positions.size);
  });
});

describe("the range path catches what it reads", () => {
  test("decodePageFrame reports absolute offsets with or without a file name", () => {
    const s = SAMPLES[1] as Sample;
    const f = frameOf(s, "middle");
    const bad = flip(s.bytes, f.offset + 6, 0x40);
    const range = bad.slice(f.offset, f.offset + f.size);
    for (const file of [undefined, "x.ltx"]) {
      const e = ltxError(() => decodePageFrame(range, 0, range.length, new Uint8Array(4096), { ...(file ? { file } : {}), absBase: f.offset, expectedPgno: f.pgno }));
      expect(e.code).toBe("LTX_BAD_FRAME");
      expect(e.offset).toBe(f.offset + 6);
      expect(e.file).toBe(file);
    }
    // LZ4 errors (raised relative to the buffer) are re-based once.
    const lz = flip(s.bytes, f.payload, 0xff);
    const r2 = lz.slice(f.offset, f.offset + f.size);
    for (const file of [undefined, "x.ltx"]) {
      let err: unknown;
      try {
        decodePageFrame(r2, 0, r2.length, new Uint8Array(4096), { ...(file ? { file } : {}), absBase: f.offset, expectedPgno: f.pgno });
      } catch (e) {
        err = e;
      }
      if (err !== undefined) {
        expect(err).toBeInstanceOf(LtxError);
        expect((err as LtxError).offset).toBeGreaterThanOrEqual(f.offset);
        expect((err as LtxError).offset).toBeLessThan(f.offset + f.size);
      }
    }
  });

  test("a range shorter or longer than the frame", () => {
    for (const s of SAMPLES) {
      const f = frameOf(s, "middle");
      const dst = new Uint8Array(s.header.pageSize);
      for (const cut of [0, 1, 6, 9, 10, 11, f.size - 1]) {
        const range = s.bytes.slice(f.offset, f.offset + cut);
        const e = ltxError(() => decodePageFrame(range, 0, range.length, dst, { file: s.rel, absBase: f.offset, expectedPgno: f.pgno }));
        expect(["LTX_TRUNCATED", "LTX_BAD_FRAME", "LTX_BAD_LZ4"], `${s.label} cut ${cut}: ${e.message}`).toContain(e.code);
      }
      // A short read (object shrank since its index was read), decoded with the size the index names.
      for (const got of [0, 6, 10, f.size - 1]) {
        const range = s.bytes.slice(f.offset, f.offset + got);
        const e = ltxError(() => decodePageFrame(range, 0, f.size, dst, { file: s.rel, absBase: f.offset, expectedPgno: f.pgno }));
        expect(e.code, `${s.label} short read of ${got}: ${e.message}`).toBe("LTX_TRUNCATED");
        expect(e.offset).toBe(f.offset + got);
      }
      // Extra bytes after the frame are not consumed; the caller sees consumed < range.
      const longer = s.bytes.slice(f.offset, f.offset + f.size + 7);
      expect(decodePageFrame(longer, 0, longer.length, dst, { expectedPgno: f.pgno }).consumed).toBe(f.size);
      // The wrong frame for a pgno.
      const other = frameOf(s, "first");
      if (other.pgno !== f.pgno) {
        const range = s.bytes.slice(other.offset, other.offset + other.size);
        const e = ltxError(() => decodePageFrame(range, 0, range.length, dst, { file: s.rel, absBase: other.offset, expectedPgno: f.pgno }));
        expect(e.code).toBe("LTX_PGNO_MISMATCH");
        expect(e.offset).toBe(other.offset);
      }
    }
  });

  test("a file replaced between listing and reading (size changed) is refused", async () => {
    const s = SAMPLES[0] as Sample;
    const dir = mkdtempSync(join(TMP, "replaced-"));
    const key = `ltx/${s.level}/${s.name}`;
    await mkdir(join(dir, "ltx", String(s.level)), { recursive: true });
    writeFileSync(join(dir, key), s.bytes);
    const replica = new Replica(new DirStore(dir), { prefix: "", layout: "file" });
    const [info] = await replica.listFiles();
    writeFileSync(join(dir, key), s.bytes.subarray(0, s.bytes.length - 1));
    const e = await replica.readIndex(info as LtxFileInfo).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(LtxError);
    expect((e as LtxError).code).toBe("LTX_TRUNCATED");
    expect((e as LtxError).file).toBe(key);
  });
});

describe("restore never returns a wrong database", () => {
  const m = JSON.parse(readFileSync(join(ROOT, "small", "manifest.json"), "utf8")) as FixtureManifest;
  const finalSha = m.all_states.find((x) => x.txid === m.final_txid)?.sha256;
  const dir = join(TMP, "small-copy");
  cpSync(join(ROOT, "small"), dir, { recursive: true });
  const replica = new Replica(new DirStore(dir), { prefix: "" });
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

  test("the untouched copy restores byte-identical", async () => {
    const r = await restoreToBytes(replica);
    expect(sha(r.bytes)).toBe(finalSha);
  });

  test("one corrupted plan file makes restore reject (every plan file, several corruptions)", async () => {
    const { plan } = await resolvePlan(replica);
    expect(plan.length).toBeGreaterThan(2);
    for (const f of plan) {
      const path = join(dir, ...f.key.split("/"));
      const orig = new Uint8Array(readFileSync(path));
      const S = orig.length;
      const frameEnd = S - 24 - Number(readU64(orig, S - 24)) - 6;
      const mutations: [string, Uint8Array, boolean][] = [
        // [what, bytes, range path (page index build) can detect it]
        ["LZ4 payload byte of the last frame", flip(orig, frameEnd - 3, 0x01), false],
        ["LZ4 payload byte mid-file", flip(orig, Math.floor((100 + frameEnd) / 2), 0x04), false],
        ["timestamp", flip(orig, 39, 0x01), false],
        ["file checksum", flip(orig, S - 1, 0x01), false],
        ["truncated by one byte", orig.slice(0, S - 1), true],
        ["index terminator", flip(orig, S - 25, 0x01), true],
        ["first pgno", flip(orig, 103, 0x01), true],
        ["page size", setU32(orig, 8, 8192), true],
      ];
      for (const [what, bytes, rangeDetects] of mutations) {
        writeFileSync(path, bytes);
        try {
          const err = await restoreToBytes(replica).then(
            (r) => new Error(`${f.key} ${what}: restore resolved (sha ${sha(r.bytes) === finalSha ? "same" : "DIFFERENT"})`),
            (x: unknown) => x,
          );
          expect(err, `${f.key} ${what}`).toBeInstanceOf(LtxError);
          expect((err as LtxError).file, what).toBe(f.key);
          if (rangeDetects) {
            // These damage bytes the range path reads (tail, header, frame headers): reading
            // the file's index and frames by range refuses it too.
            const e = await rangeRead({ level: f.level, name: f.key.split("/")[2] ?? "" }, bytes);
            expect(e, `${f.key} ${what}`).toBeInstanceOf(LtxError);
          }
        } finally {
          writeFileSync(path, orig);
        }
      }
    }
    // And the copy is intact again.
    expect(sha((await restoreToBytes(replica)).bytes)).toBe(finalSha);
  });

  test("a corrupted file outside the plan does not matter", async () => {
    const { plan, files } = await resolvePlan(replica);
    const outside = files.find((f) => !plan.some((p) => p.key === f.key));
    expect(outside).toBeDefined();
    if (!outside) return;
    const path = join(dir, ...outside.key.split("/"));
    const orig = new Uint8Array(readFileSync(path));
    writeFileSync(path, flip(orig, 200, 0xff));
    try {
      expect(sha((await restoreToBytes(replica)).bytes)).toBe(finalSha);
    } finally {
      writeFileSync(path, orig);
    }
  });
});

describe("fuzzing (fast-check)", () => {
  type Edit =
    | { kind: "flip"; mask: number }
    | { kind: "set"; value: number }
    | { kind: "insert"; bytes: number[] }
    | { kind: "delete"; len: number }
    | { kind: "truncate" }
    | { kind: "dup"; len: number };
  /** A position: a fraction of the file, or a byte of the header, or a byte of the last 64. */
  type Where = { region: "any"; x: number } | { region: "head"; x: number } | { region: "tail"; x: number };
  interface Mutation {
    edit: Edit;
    where: Where;
  }

  const whereArb: fc.Arbitrary<Where> = fc.oneof(
    fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }).map((x): Where => ({ region: "any", x })),
    fc.nat({ max: 99 }).map((x): Where => ({ region: "head", x })),
    fc.nat({ max: 63 }).map((x): Where => ({ region: "tail", x })),
  );
  const editArb: fc.Arbitrary<Edit> = fc.oneof(
    { weight: 5, arbitrary: fc.integer({ min: 1, max: 255 }).map((mask): Edit => ({ kind: "flip", mask })) },
    { weight: 2, arbitrary: fc.nat({ max: 255 }).map((value): Edit => ({ kind: "set", value })) },
    { weight: 1, arbitrary: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }).map((bytes): Edit => ({ kind: "insert", bytes })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 16 }).map((len): Edit => ({ kind: "delete", len })) },
    { weight: 1, arbitrary: fc.constant<Edit>({ kind: "truncate" }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }).map((len): Edit => ({ kind: "dup", len })) },
  );
  const mutationArb: fc.Arbitrary<Mutation> = fc.record({ edit: editArb, where: whereArb });

  function join3(a: Uint8Array, b: Uint8Array, c: Uint8Array): Uint8Array {
    const out = new Uint8Array(a.length + b.length + c.length);
    out.set(a, 0);
    out.set(b, a.length);
    out.set(c, a.length + b.length);
    return out;
  }

  function apply(bytes: Uint8Array, muts: readonly Mutation[]): Uint8Array {
    let b = bytes;
    for (const { edit, where } of muts) {
      const n = b.length;
      if (n === 0) break;
      const at = Math.min(n - 1, where.region === "head" ? where.x : where.region === "tail" ? Math.max(0, n - 1 - where.x) : Math.floor(where.x * n));
      switch (edit.kind) {
        case "flip":
          b = flip(b, at, edit.mask);
          break;
        case "set":
          b = copy(b);
          b[at] = edit.value;
          break;
        case "insert":
          b = join3(b.subarray(0, at), new Uint8Array(edit.bytes), b.subarray(at));
          break;
        case "delete":
          b = join3(b.subarray(0, at), new Uint8Array(0), b.subarray(Math.min(n, at + edit.len)));
          break;
        case "truncate":
          b = b.slice(0, at);
          break;
        case "dup": {
          const end = Math.min(n, at + edit.len);
          b = join3(b.subarray(0, end), b.subarray(at, end), b.subarray(end));
          break;
        }
      }
    }
    return b;
  }

  function differs(a: Uint8Array, b: Uint8Array): boolean {
    return a.length !== b.length || Buffer.compare(a, b) !== 0;
  }

  /** The synchronous range path on in-memory bytes: header, tail index, each frame. */
  function rangePathSync(b: Uint8Array, file: string): void {
    const h = decodeHeader(b, file);
    const idx = decodeFileIndexFromTail(b, b.length, { file, commit: h.commit, pageSize: h.pageSize });
    const dst = new Uint8Array(h.pageSize);
    for (let i = 0; i < idx.count; i++) {
      const off = idx.offset[i] ?? 0;
      const range = b.slice(off, off + (idx.size[i] ?? 0));
      decodePageFrame(range, 0, range.length, dst, { file, absBase: off, expectedPgno: idx.pgno[i] ?? 0 });
    }
  }

  // Small and mid-size files of every kind; thousands of mutants in total.
  const fuzzed: [Sample, number][] = [
    [SAMPLES[0] as Sample, 900],
    [SAMPLES[1] as Sample, 700],
    [SAMPLES[2] as Sample, 300],
    [SAMPLES[4] as Sample, 700],
    [SAMPLES[5] as Sample, 250],
    [SAMPLES[6] as Sample, 900],
    [SAMPLES[7] as Sample, 150],
  ];

  test.each(fuzzed.map(([s, n]) => [s.label, n, s] as const))(
    "%s: %i mutants — LtxError or the original pages, never anything else",
    (_, runs, s) => {
      let accepted = 0;
      fc.assert(
        fc.property(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (muts) => {
          const b = apply(s.bytes, muts);
          if (!differs(b, s.bytes)) return;
          try {
            const d = decodePages(b, s.rel);
            if (!samePages(s, d)) throw new Error("mutant decoded silently to different pages or header");
            accepted++;
          } catch (e) {
            if (!(e instanceof LtxError)) throw e;
            expect(ALL_CODES).toContain(e.code);
            expect(e.file).toBe(s.rel);
            if (e.offset !== undefined) {
              expect(Number.isInteger(e.offset)).toBe(true);
              expect(e.offset).toBeGreaterThanOrEqual(0);
              expect(e.offset).toBeLessThanOrEqual(b.length);
            }
          }
          try {
            rangePathSync(b, s.rel);
          } catch (e) {
            if (!(e instanceof LtxError)) throw e;
            expect(e.file).toBe(s.rel);
          }
          // No timing assertion here: a hang times the test out, and a loaded machine must not fail it.
        }),
        { numRuns: runs, seed: 0x17e5 ^ runs },
      );
      // Accepted mutants are LZ4-equivalent rewrites only; they must be rare.
      expect(accepted).toBeLessThan(runs / 10);
    },
  );

  test("random bytes, and random bytes behind a valid header, are refused", () => {
    const header = (SAMPLES[0] as Sample).bytes.slice(0, 100);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2048 }), fc.boolean(), (raw, withHeader) => {
        const b = withHeader ? new Uint8Array([...header, ...raw]) : raw;
        const e = ltxError(() => decodeLtxFile(b, { file: "random.ltx" }));
        expect(e.file).toBe("random.ltx");
        try {
          rangePathSync(b, "random.ltx");
        } catch (x) {
          if (!(x instanceof LtxError)) throw x;
        }
      }),
      { numRuns: 1500, seed: 42 },
    );
  });

  test("a valid file spliced with another valid file is refused", () => {
    const a = SAMPLES[0] as Sample;
    const b = SAMPLES[1] as Sample;
    let refused = 0;
    for (const cut of [100, 150, a.frameEnd, a.indexStart, a.bytes.length - 24, a.bytes.length - 16]) {
      for (const from of [b.bytes.length - 40, b.bytes.length - 24, 200]) {
        const spliced = new Uint8Array([...a.bytes.subarray(0, cut), ...b.bytes.subarray(Math.max(100, Math.min(from, cut)))]);
        if (!differs(spliced, a.bytes) || !differs(spliced, b.bytes)) continue;
        ltxError(() => decodeLtxFile(spliced, { file: a.rel }));
        refused++;
      }
    }
    // Most of the 18 splices differ from both files; none of those may decode.
    expect(refused).toBeGreaterThan(12);
    // Frames from a file of another page size, under this header.
    const big = SAMPLES[5] as Sample;
    const mixed = new Uint8Array([...a.bytes.subarray(0, 100), ...big.bytes.subarray(100)]);
    ltxError(() => decodeLtxFile(mixed, { file: a.rel }));
  });
});
