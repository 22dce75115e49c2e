/**
 * LTX header (spec §4, §10.1), lock page (§9.4), TXID text forms (§9.7) and
 * replica key parsing (replica-layout: `<prefix>/<%04x level>/…` and
 * `<prefix>/ltx/<level>/…`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { LtxError, type LtxErrorCode } from "../../src/ltx/errors.ts";
import {
  HEADER_SIZE,
  type LtxHeader,
  decodeHeader,
  encodeHeader,
  isSnapshot,
  isValidPageSize,
  lockPgno,
} from "../../src/ltx/header.ts";
import { MAX_TXID, formatLtxFilename, formatTxid, parseLtxFilename, parseTxid } from "../../src/ltx/txid.ts";
import { parseLtxKey } from "../../src/replica/replica.ts";
import { FIXTURES, type FixtureFile, type FixtureManifest } from "../support/fixtures.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures");

function hex(s: string): number[] {
  return s
    .trim()
    .split(/\s+/)
    .map((x) => Number.parseInt(x, 16));
}

/** Spec §10.1, byte for byte. */
const SPEC_HEADER = new Uint8Array([
  ...hex("4C 54 58 31"),
  ...hex("00 00 00 02"),
  ...hex("00 00 02 00"),
  ...hex("00 00 00 01"),
  ...hex("00 00 00 00 00 00 00 01"),
  ...hex("00 00 00 00 00 00 00 01"),
  ...hex("00 00 01 8B CF E5 68 00"),
  ...new Array<number>(60).fill(0),
]);

const VALID_PAGE_SIZES = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

/** A valid non-snapshot L0-like header (NoChecksum, WAL fields set). */
const BASE: LtxHeader = {
  flags: 2,
  pageSize: 4096,
  commit: 10,
  minTxid: 5,
  maxTxid: 5,
  timestamp: 1_700_000_000_000,
  preApplyChecksum: 0n,
  walOffset: 32,
  walSize: 4128,
  walSalt1: 0x11ac95cc,
  walSalt2: 0x794388af,
  nodeId: 0n,
};

function withBytes(mutate: (b: Uint8Array, v: DataView) => void, base: Uint8Array = encodeHeader(BASE)): Uint8Array {
  const b = base.slice();
  mutate(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
  return b;
}

function catchLtx(fn: () => unknown): LtxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LtxError);
    return e as LtxError;
  }
  throw new Error("expected an LtxError, nothing was thrown");
}

function expectReject(bytes: Uint8Array, code: LtxErrorCode, offset?: number): LtxError {
  const e = catchLtx(() => decodeHeader(bytes, "t/0000000000000005-0000000000000005.ltx"));
  expect(e.code).toBe(code);
  expect(e.file).toBe("t/0000000000000005-0000000000000005.ltx");
  if (offset !== undefined) expect(e.offset).toBe(offset);
  expect(e.message).toContain("t/0000000000000005-0000000000000005.ltx");
  return e;
}

interface FixtureLtx {
  label: string;
  path: string;
  info: FixtureFile;
  /** The fixture's page size (manifest `page_size`). */
  pageSize: number;
}

function fixtureFiles(): FixtureLtx[] {
  const out: FixtureLtx[] = [];
  for (const name of [...FIXTURES, "poll"]) {
    const m = JSON.parse(readFileSync(join(ROOT, name, "manifest.json"), "utf8")) as FixtureManifest;
    for (const f of [...(m.files ?? []), ...(m.before_files ?? []), ...(m.after_files ?? [])]) {
      out.push({ label: `${name}/${f.path}`, path: join(ROOT, name, f.path), info: f, pageSize: m.page_size });
    }
  }
  return out;
}

describe("decodeHeader: spec §10.1 header", () => {
  test("the spec bytes decode to the listed fields", () => {
    expect(SPEC_HEADER.length).toBe(HEADER_SIZE);
    const h = decodeHeader(SPEC_HEADER);
    expect(h).toEqual({
      flags: 2,
      pageSize: 512,
      commit: 1,
      minTxid: 1,
      maxTxid: 1,
      timestamp: 1_700_000_000_000,
      preApplyChecksum: 0n,
      walOffset: 0,
      walSize: 0,
      walSalt1: 0,
      walSalt2: 0,
      nodeId: 0n,
    } satisfies LtxHeader);
    expect(isSnapshot(h)).toBe(true);
  });

  test("encodeHeader of those fields gives the spec bytes back", () => {
    expect(encodeHeader(decodeHeader(SPEC_HEADER))).toEqual(SPEC_HEADER);
  });

  test("extra bytes after the header are ignored (a whole file may be passed)", () => {
    const b = new Uint8Array(300);
    b.set(SPEC_HEADER);
    b.fill(0xee, 100);
    expect(decodeHeader(b)).toEqual(decodeHeader(SPEC_HEADER));
  });

  test("reserved bytes 80..99 are ignored, as the Go reader does", () => {
    const b = withBytes((x) => x.fill(0xff, 80, 100), SPEC_HEADER);
    expect(decodeHeader(b)).toEqual(decodeHeader(SPEC_HEADER));
  });
});

describe("decodeHeader: every rule of spec §4 rejects with the right code", () => {
  test("the base header used below is valid", () => {
    expect(decodeHeader(encodeHeader(BASE))).toEqual(BASE);
  });

  test("magic other than LTX1 → LTX_BAD_MAGIC at offset 0", () => {
    for (const magic of ["LTX2", "LTX0", "ltx1", "LTX ", "\0\0\0\0", "SQLi", "PK\x03\x04"]) {
      const b = withBytes((x) => x.set([...magic].map((c) => c.charCodeAt(0)), 0));
      expectReject(b, "LTX_BAD_MAGIC", 0);
    }
  });

  test("LTX4 (the unmerged HPKE proposal) → LTX_ENCRYPTED, even when short or otherwise invalid", () => {
    const ltx4 = [0x4c, 0x54, 0x58, 0x34];
    expectReject(withBytes((x) => x.set(ltx4, 0)), "LTX_ENCRYPTED", 0);
    // The proposal also sets header flag bit 2 and fills bytes 80..87.
    expectReject(
      withBytes((x, v) => {
        x.set(ltx4, 0);
        v.setUint32(4, 0x6);
        x.fill(1, 80, 88);
      }),
      "LTX_ENCRYPTED",
      0,
    );
    expectReject(new Uint8Array(ltx4), "LTX_ENCRYPTED", 0);
    expectReject(new Uint8Array([...ltx4, 0, 0, 0, 2]), "LTX_ENCRYPTED", 0);
  });

  test("header flag bit 0 (v1 CompressLZ4) → LTX_UNSUPPORTED_VERSION at offset 4", () => {
    // 0x3 is what Litestream v0.5.0-beta1 wrote; 0x1 alone is v1 with checksums.
    for (const flags of [0x1, 0x3]) expectReject(withBytes((_, v) => v.setUint32(4, flags)), "LTX_UNSUPPORTED_VERSION", 4);
  });

  test("any flag bit other than bit 1 → LTX_BAD_HEADER at offset 4", () => {
    for (const flags of [0x4, 0x6, 0x8, 0x10, 0x100, 0x8000_0000, 0x8000_0002, 0xffff_fffe]) {
      expectReject(withBytes((_, v) => v.setUint32(4, flags)), "LTX_BAD_HEADER", 4);
    }
  });

  test("flags 0 (checksums tracked) and 0x2 (NoChecksum) are both valid", () => {
    expect(decodeHeader(encodeHeader({ ...BASE, flags: 0, preApplyChecksum: 0x8000_0000_0000_1234n })).flags).toBe(0);
    expect(decodeHeader(encodeHeader(BASE)).flags).toBe(2);
  });

  test("every invalid page size → LTX_BAD_PAGE_SIZE at offset 8", () => {
    for (const ps of [0, 1, 2, 256, 511, 513, 1000, 3000, 4095, 4097, 6144, 65535, 65537, 131072, 1 << 20, 0x8000_0000, 0xffff_ffff]) {
      expectReject(withBytes((_, v) => v.setUint32(8, ps)), "LTX_BAD_PAGE_SIZE", 8);
      expect(isValidPageSize(ps)).toBe(false);
    }
  });

  test("every valid page size is accepted", () => {
    for (const ps of VALID_PAGE_SIZES) {
      expect(decodeHeader(withBytes((_, v) => v.setUint32(8, ps))).pageSize).toBe(ps);
      expect(isValidPageSize(ps)).toBe(true);
    }
  });

  test("MinTXID 0 / MaxTXID 0 / MinTXID > MaxTXID → LTX_BAD_HEADER", () => {
    expectReject(encodeHeader({ ...BASE, minTxid: 0 }), "LTX_BAD_HEADER", 16);
    expectReject(encodeHeader({ ...BASE, maxTxid: 0 }), "LTX_BAD_HEADER", 24);
    expectReject(encodeHeader({ ...BASE, minTxid: 0, maxTxid: 0 }), "LTX_BAD_HEADER");
    expectReject(encodeHeader({ ...BASE, minTxid: 6, maxTxid: 5 }), "LTX_BAD_HEADER", 16);
    expectReject(encodeHeader({ ...BASE, minTxid: 0x1_0000_0000, maxTxid: 0xffff_ffff }), "LTX_BAD_HEADER", 16);
    expect(decodeHeader(encodeHeader({ ...BASE, minTxid: 3, maxTxid: 9 })).maxTxid).toBe(9);
  });

  test("TXIDs above 2^53 - 1 are refused (not representable), with LTX_BAD_HEADER", () => {
    expectReject(withBytes((_, v) => v.setBigUint64(24, 1n << 53n)), "LTX_BAD_HEADER");
    expectReject(withBytes((_, v) => v.setBigUint64(24, 0xffff_ffff_ffff_ffffn)), "LTX_BAD_HEADER");
    expectReject(
      withBytes((_, v) => {
        v.setBigUint64(16, 1n << 60n);
        v.setBigUint64(24, 1n << 60n);
      }),
      "LTX_BAD_HEADER",
    );
    expect(decodeHeader(encodeHeader({ ...BASE, minTxid: MAX_TXID, maxTxid: MAX_TXID })).maxTxid).toBe(MAX_TXID);
  });

  test("negative WALOffset / WALSize → LTX_BAD_HEADER", () => {
    expectReject(withBytes((_, v) => v.setBigInt64(48, -1n)), "LTX_BAD_HEADER", 48);
    expectReject(withBytes((_, v) => v.setBigInt64(48, -(1n << 63n))), "LTX_BAD_HEADER", 48);
    expectReject(withBytes((_, v) => v.setBigInt64(56, -4096n)), "LTX_BAD_HEADER", 56);
  });

  test("a WAL salt without a WAL offset → LTX_BAD_HEADER", () => {
    const compacted = { ...BASE, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0 };
    expect(decodeHeader(encodeHeader(compacted))).toEqual(compacted);
    expectReject(encodeHeader({ ...compacted, walSalt1: 1 }), "LTX_BAD_HEADER", 64);
    expectReject(encodeHeader({ ...compacted, walSalt2: 0x8000_0000 }), "LTX_BAD_HEADER", 64);
  });

  test("a WAL size without a WAL offset → LTX_BAD_HEADER", () => {
    expectReject(encodeHeader({ ...BASE, walOffset: 0, walSalt1: 0, walSalt2: 0, walSize: 1 }), "LTX_BAD_HEADER", 56);
    expectReject(encodeHeader({ ...BASE, walOffset: 0, walSize: 4128 }), "LTX_BAD_HEADER");
  });

  test("snapshot (MinTXID 1) with a pre-apply checksum → LTX_BAD_HEADER, with or without NoChecksum", () => {
    for (const flags of [0, 2]) {
      for (const c of [1n, 0x8000_0000_0000_0000n, 0xffff_ffff_ffff_ffffn]) {
        expectReject(encodeHeader({ ...BASE, flags, minTxid: 1, preApplyChecksum: c }), "LTX_BAD_HEADER", 40);
      }
      expect(decodeHeader(encodeHeader({ ...BASE, flags, minTxid: 1 })).minTxid).toBe(1);
    }
  });

  test("NoChecksum with a pre-apply checksum → LTX_BAD_HEADER", () => {
    for (const c of [1n, 0x8000_0000_0000_0001n, 0xffff_ffff_ffff_ffffn]) {
      expectReject(encodeHeader({ ...BASE, flags: 2, preApplyChecksum: c }), "LTX_BAD_HEADER", 40);
    }
  });

  test("checksums tracked, not a snapshot: the pre-apply checksum must be nonzero with bit 63 set", () => {
    expectReject(encodeHeader({ ...BASE, flags: 0, preApplyChecksum: 0n }), "LTX_BAD_HEADER", 40);
    expectReject(encodeHeader({ ...BASE, flags: 0, preApplyChecksum: 0x7fff_ffff_ffff_ffffn }), "LTX_BAD_HEADER", 40);
    expectReject(encodeHeader({ ...BASE, flags: 0, preApplyChecksum: 1n }), "LTX_BAD_HEADER", 40);
    const ok = { ...BASE, flags: 0, preApplyChecksum: 0x8000_0000_0000_0000n };
    expect(decodeHeader(encodeHeader(ok))).toEqual(ok);
  });

  test("fewer than 100 bytes of an LTX1 header → LTX_TRUNCATED", () => {
    for (const n of [0, 1, 3, 4, 5, 8, 50, 99]) {
      const e = expectReject(SPEC_HEADER.slice(0, n), "LTX_TRUNCATED", 0);
      expect(e.message).toMatch(/too short/);
    }
    expect(decodeHeader(SPEC_HEADER.slice(0, 100)).pageSize).toBe(512);
  });

  test("errors without a file name still carry code and offset", () => {
    const e = catchLtx(() => decodeHeader(withBytes((_, v) => v.setUint32(8, 3000))));
    expect(e.code).toBe("LTX_BAD_PAGE_SIZE");
    expect(e.file).toBeUndefined();
    expect(e.offset).toBe(8);
    expect(e.name).toBe("LtxError");
  });

  test("fields not validated by spec §4 are decoded as stored: commit 0, any timestamp, NodeID", () => {
    const h = { ...BASE, commit: 0, timestamp: -1, nodeId: 0xffff_ffff_ffff_ffffn };
    expect(decodeHeader(encodeHeader(h))).toEqual(h);
    expect(decodeHeader(encodeHeader({ ...BASE, commit: 0xffff_ffff })).commit).toBe(0xffff_ffff);
  });
});

describe("encodeHeader ∘ decodeHeader", () => {
  const headerArb: fc.Arbitrary<LtxHeader> = fc
    .record({
      noChecksum: fc.boolean(),
      pageSize: fc.constantFrom(...VALID_PAGE_SIZES),
      commit: fc.nat({ max: 0xffff_ffff }),
      minTxid: fc.integer({ min: 1, max: MAX_TXID }),
      span: fc.nat({ max: 1_000_000 }),
      timestamp: fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }),
      checksum: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
      wal: fc.option(
        fc.record({
          offset: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
          salt1: fc.nat({ max: 0xffff_ffff }),
          salt2: fc.nat({ max: 0xffff_ffff }),
        }),
        { nil: null },
      ),
      nodeId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    })
    .map((r) => {
      const minTxid = r.minTxid;
      const maxTxid = Math.min(MAX_TXID, minTxid + r.span);
      const snapshot = minTxid === 1;
      const pre = r.noChecksum || snapshot ? 0n : r.checksum | (1n << 63n);
      return {
        flags: r.noChecksum ? 2 : 0,
        pageSize: r.pageSize,
        commit: r.commit,
        minTxid,
        maxTxid,
        timestamp: r.timestamp,
        preApplyChecksum: pre,
        walOffset: r.wal ? r.wal.offset : 0,
        walSize: r.wal ? r.wal.size : 0,
        walSalt1: r.wal ? r.wal.salt1 : 0,
        walSalt2: r.wal ? r.wal.salt2 : 0,
        nodeId: r.nodeId,
      };
    });

  test("decode(encode(h)) = h for every valid header (property)", () => {
    fc.assert(
      fc.property(headerArb, (h) => {
        const b = encodeHeader(h);
        expect(b.length).toBe(HEADER_SIZE);
        expect(decodeHeader(b)).toEqual(h);
        expect(encodeHeader(decodeHeader(b))).toEqual(b);
      }),
      { numRuns: 2000 },
    );
  });

  test("decodeHeader never throws anything but LtxError on arbitrary 100-byte input (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), fc.boolean(), (raw, magic) => {
        const b = raw.slice();
        if (magic && b.length >= 4) b.set([0x4c, 0x54, 0x58, 0x31], 0);
        try {
          const h = decodeHeader(b);
          // Whatever decodes must satisfy every rule and re-encode to the same 100 bytes (reserved zeroed).
          const again = b.slice(0, 100);
          again.fill(0, 80, 100);
          expect(encodeHeader(h)).toEqual(again);
          expect(isValidPageSize(h.pageSize)).toBe(true);
          expect(h.minTxid).toBeGreaterThanOrEqual(1);
          expect(h.maxTxid).toBeGreaterThanOrEqual(h.minTxid);
        } catch (e) {
          expect(e).toBeInstanceOf(LtxError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  test("every real fixture header decodes to its manifest fields and re-encodes byte-identically", () => {
    const files = fixtureFiles();
    expect(files.length).toBeGreaterThan(250);
    for (const f of files) {
      const head = readFileSync(f.path).subarray(0, HEADER_SIZE);
      const h = decodeHeader(head, f.label);
      const [salt1, salt2] = (f.info as FixtureFile & { wal_salt: string }).wal_salt.split(" ").map((s) => Number.parseInt(s, 16));
      expect(
        {
          flags: h.flags,
          pageSize: h.pageSize,
          commit: h.commit,
          minTxid: formatTxid(h.minTxid),
          maxTxid: formatTxid(h.maxTxid),
          timestampSec: new Date(Math.floor(h.timestamp / 1000) * 1000).toISOString().replace(".000Z", "Z"),
          walOffset: h.walOffset,
          walSize: h.walSize,
          walSalt1: h.walSalt1,
          walSalt2: h.walSalt2,
          pre: h.preApplyChecksum,
          nodeId: h.nodeId,
        },
        f.label,
      ).toEqual({
        // test/fixtures/README.md: "the header flags are 0x2 (HeaderFlagNoChecksum). Pre-apply and
        // post-apply checksums are 0 in every file"; the page size is the manifest's.
        flags: 2,
        pageSize: f.pageSize,
        commit: f.info.commit,
        minTxid: f.info.min_txid,
        maxTxid: f.info.max_txid,
        timestampSec: f.info.timestamp,
        walOffset: (f.info as FixtureFile & { wal_offset: number }).wal_offset,
        walSize: (f.info as FixtureFile & { wal_size: number }).wal_size,
        walSalt1: salt1,
        walSalt2: salt2,
        pre: 0n,
        nodeId: 0n,
      });
      expect(encodeHeader(h), f.label).toEqual(new Uint8Array(head));
    }
  });
});

describe("lockPgno (spec §9.4)", () => {
  test("spec examples", () => {
    expect(lockPgno(512)).toBe(2097153);
    expect(lockPgno(4096)).toBe(262145);
    expect(lockPgno(65536)).toBe(16385);
  });

  test("every page size: the lock page holds byte 0x40000000 (PENDING_BYTE)", () => {
    for (const ps of VALID_PAGE_SIZES) {
      const p = lockPgno(ps);
      expect(p).toBe(0x40000000 / ps + 1);
      expect((p - 1) * ps).toBe(0x40000000);
    }
    expect(lockPgno(1024)).toBe(1048577);
    expect(lockPgno(2048)).toBe(524289);
  });
});

describe("TXIDs (spec §9.7)", () => {
  test("formatTxid: 16 lowercase hex digits, zero padded", () => {
    expect(formatTxid(1)).toBe("0000000000000001");
    expect(formatTxid(0x15)).toBe("0000000000000015");
    expect(formatTxid(0xabcdef)).toBe("0000000000abcdef");
    expect(formatTxid(MAX_TXID)).toBe("001fffffffffffff");
  });

  test("parseTxid accepts 16 hex digits (any case), 0x-hex and decimal", () => {
    expect(parseTxid("0000000000000001")).toBe(1);
    expect(parseTxid("000000000000001a")).toBe(26);
    expect(parseTxid("000000000000001A")).toBe(26);
    expect(parseTxid("001fffffffffffff")).toBe(MAX_TXID);
    // Exactly 16 digits is always Litestream's hex form, even when all are decimal digits.
    expect(parseTxid("0000000000000010")).toBe(16);
    expect(parseTxid("0x15")).toBe(21);
    expect(parseTxid("0X15")).toBe(21);
    expect(parseTxid("0x1fffffffffffff")).toBe(MAX_TXID);
    expect(parseTxid("0x0000000000000001")).toBe(1);
    expect(parseTxid("21")).toBe(21);
    expect(parseTxid("1")).toBe(1);
    expect(parseTxid("  0x15\n")).toBe(21);
    expect(parseTxid("900719925474099")).toBe(900719925474099);
  });

  test("parseTxid rejects 15/17 hex digits, negatives, zero, garbage and values above 2^53 - 1", () => {
    for (const bad of [
      "00000000000000a", // 15 hex digits
      "0000000000000000a", // 17 hex digits
      "00000000000000001", // 17 digits
      "-1",
      "-0x15",
      "+21",
      "0",
      "0x0",
      "0000000000000000",
      "",
      "  ",
      "0x",
      "0x-1",
      "1e3",
      "1.5",
      "0x12345678901234567", // 17 hex digits after 0x
      "g000000000000001",
      "0020000000000000", // 2^53
      "ffffffffffffffff",
      "0x20000000000000", // 2^53
      "0xffffffffffffffff",
      "9007199254740993",
      "0000000000000001-0000000000000001.ltx",
    ]) {
      expect(parseTxid(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  test("format → parse round trip (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_TXID }), (t) => {
        expect(parseTxid(formatTxid(t))).toBe(t);
        expect(parseTxid(`0x${t.toString(16)}`)).toBe(t);
        expect(parseLtxFilename(formatLtxFilename(t, t))).toEqual({ minTxid: t, maxTxid: t });
      }),
      { numRuns: 500 },
    );
  });

  test("parseLtxFilename: lowercase only, exactly 16 digits each, min ≤ max, min ≥ 1", () => {
    expect(parseLtxFilename("0000000000000001-000000000000000e.ltx")).toEqual({ minTxid: 1, maxTxid: 14 });
    expect(formatLtxFilename(1, 14)).toBe("0000000000000001-000000000000000e.ltx");
    for (const bad of [
      "0000000000000001-000000000000000E.ltx",
      "000000000000000A-000000000000000a.ltx",
      "000000000000001-000000000000000e.ltx",
      "00000000000000001-000000000000000e.ltx",
      "0000000000000001-000000000000000e.LTX",
      "0000000000000001-000000000000000e.ltx.tmp",
      "0000000000000001_000000000000000e.ltx",
      "0000000000000000-0000000000000001.ltx",
      "0000000000000002-0000000000000001.ltx",
      "0000000000000001-0020000000000000.ltx",
      "ffffffffffffffff-ffffffffffffffff.ltx",
      "x/0000000000000001-0000000000000001.ltx",
      "",
    ]) {
      expect(parseLtxFilename(bad), bad).toBeNull();
    }
  });
});

describe("parseLtxKey (both layouts)", () => {
  const NAME = "0000000000000003-0000000000000007.ltx";

  test("s3 layout: <%04x level>/<name>", () => {
    expect(parseLtxKey(`0000/${NAME}`, "s3")).toEqual({ level: 0, minTxid: 3, maxTxid: 7 });
    expect(parseLtxKey(`0003/${NAME}`, "s3")).toEqual({ level: 3, minTxid: 3, maxTxid: 7 });
    expect(parseLtxKey(`0009/${NAME}`, "s3")).toEqual({ level: 9, minTxid: 3, maxTxid: 7 });
  });

  test("file layout: ltx/<decimal level>/<name>", () => {
    expect(parseLtxKey(`ltx/0/${NAME}`, "file")).toEqual({ level: 0, minTxid: 3, maxTxid: 7 });
    expect(parseLtxKey(`ltx/2/${NAME}`, "file")).toEqual({ level: 2, minTxid: 3, maxTxid: 7 });
    expect(parseLtxKey(`ltx/9/${NAME}`, "file")).toEqual({ level: 9, minTxid: 3, maxTxid: 7 });
  });

  test("levels above 9 are not LTX levels", () => {
    for (const k of [`000a/${NAME}`, `0010/${NAME}`, `ffff/${NAME}`]) expect(parseLtxKey(k, "s3"), k).toBeNull();
    for (const k of [`ltx/10/${NAME}`, `ltx/16/${NAME}`, `ltx/99/${NAME}`, `ltx/100/${NAME}`]) expect(parseLtxKey(k, "file"), k).toBeNull();
  });

  test("uppercase hex (levels or names) is not Litestream's and is ignored", () => {
    expect(parseLtxKey(`000A/${NAME}`, "s3")).toBeNull();
    expect(parseLtxKey("0000/000000000000000A-000000000000000A.ltx", "s3")).toBeNull();
    expect(parseLtxKey("ltx/0/000000000000000A-000000000000000A.ltx", "file")).toBeNull();
    expect(parseLtxKey("ltx/0/000000000000000a-000000000000000a.ltx", "file")).toEqual({ level: 0, minTxid: 10, maxTxid: 10 });
  });

  test("the other layout's keys, old generations/… keys and stray objects are ignored", () => {
    const stray = [
      `generations/abcdef0123456789/ltx/0/${NAME}`,
      `generations/abcdef0123456789/0000/${NAME}`,
      `generations/abcdef0123456789/wal/00000000/00000000.wal.lz4`,
      `generations/abcdef0123456789/snapshots/00000000.snapshot.lz4`,
      "generations",
      NAME,
      `0/${NAME}`,
      `00/${NAME}`,
      `000/${NAME}`,
      `00000/${NAME}`,
      `0000/sub/${NAME}`,
      `0000/${NAME}.tmp`,
      `0000/${NAME}/`,
      "0000/",
      "0000/README.md",
      "0000/0000000000000007-0000000000000003.ltx",
      "0000/0000000000000000-0000000000000000.ltx",
      `ltx/00/${NAME}`,
      `ltx/01/${NAME}`,
      `ltx/-1/${NAME}`,
      `ltx/a/${NAME}`,
      `ltx//${NAME}`,
      `ltx/0/sub/${NAME}`,
      `LTX/0/${NAME}`,
      `ltx/0/${NAME}.tmp`,
      "ltx/0/.DS_Store",
      "ltx/0/0000000000000001-0000000000000001.ltx~",
      "manifest.json",
      "",
      "/",
      `/ltx/0/${NAME}`,
      `/0000/${NAME}`,
    ];
    for (const k of stray) {
      expect(parseLtxKey(k, "s3"), `s3 ${k}`).toBeNull();
      expect(parseLtxKey(k, "file"), `file ${k}`).toBeNull();
    }
    expect(parseLtxKey(`ltx/0/${NAME}`, "s3")).toBeNull();
    expect(parseLtxKey(`0000/${NAME}`, "file")).toBeNull();
  });
});
