/**
 * @module
 * The 100-byte LTX header (spec §4) with every validation rule of the Go
 * reader, plus detection of the variants we refuse (v1, LTX4).
 */
import { readU32, readU64, readU64Number, writeU32, writeU64 } from "./bytes.ts";
import { LtxError } from "./errors.ts";

export const HEADER_SIZE = 100;
export const TRAILER_SIZE = 16;
/** v3 page header: u32 pgno + u16 flags. */
export const PAGE_HEADER_SIZE = 6;

export const HEADER_FLAG_COMPRESS_LZ4 = 0x1; // v1 only
export const HEADER_FLAG_NO_CHECKSUM = 0x2;
export const CHECKSUM_FLAG_BIGINT = 1n << 63n;

export interface LtxHeader {
  flags: number;
  pageSize: number;
  /** Database size in pages after this file is applied. */
  commit: number;
  minTxid: number;
  maxTxid: number;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  preApplyChecksum: bigint;
  walOffset: number;
  walSize: number;
  walSalt1: number;
  walSalt2: number;
  nodeId: bigint;
}

export function isValidPageSize(n: number): boolean {
  return n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}

/** SQLite's PENDING_BYTE page: never stored in LTX files; reads as zeros. */
export function lockPgno(pageSize: number): number {
  return Math.floor(0x40000000 / pageSize) + 1;
}

/** True for a snapshot: MinTXID 1, all pages 1..Commit. */
export function isSnapshot(h: Pick<LtxHeader, "minTxid">): boolean {
  return h.minTxid === 1;
}

/**
 * Decodes and validates a header. `bytes` must hold at least the first 100
 * bytes of the file. `file` names it in errors.
 */
export function decodeHeader(bytes: Uint8Array, file?: string): LtxHeader {
  const at = (offset: number) => ({ file, offset });
  if (bytes.length < 4) throw new LtxError("LTX_TRUNCATED", `file too short for an LTX header: ${bytes.length} bytes`, at(0));
  const magic = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0, bytes[2] ?? 0, bytes[3] ?? 0);
  if (magic === "LTX4") {
    throw new LtxError("LTX_ENCRYPTED", "unsupported: encrypted LTX (LTX4 magic, unmerged HPKE proposal)", at(0));
  }
  if (magic !== "LTX1") throw new LtxError("LTX_BAD_MAGIC", `not an LTX file: magic ${JSON.stringify(magic)}`, at(0));
  if (bytes.length < HEADER_SIZE) {
    throw new LtxError("LTX_TRUNCATED", `file too short for an LTX header: ${bytes.length} of ${HEADER_SIZE} bytes`, at(0));
  }
  const flags = readU32(bytes, 4);
  if (flags & HEADER_FLAG_COMPRESS_LZ4) {
    throw new LtxError(
      "LTX_UNSUPPORTED_VERSION",
      "unsupported: LTX v1 file with whole-block LZ4 compression (Litestream v0.5.0-beta1); re-snapshot the replica with a current Litestream",
      at(4),
    );
  }
  if ((flags & ~HEADER_FLAG_NO_CHECKSUM) !== 0) {
    throw new LtxError("LTX_BAD_HEADER", `invalid header flags 0x${flags.toString(16).padStart(8, "0")}`, at(4));
  }
  const pageSize = readU32(bytes, 8);
  if (!isValidPageSize(pageSize)) throw new LtxError("LTX_BAD_PAGE_SIZE", `invalid page size ${pageSize}`, at(8));
  const commit = readU32(bytes, 12);
  const minTxid = readU64Number(bytes, 16);
  const maxTxid = readU64Number(bytes, 24);
  if (minTxid < 0 || maxTxid < 0) throw new LtxError("LTX_BAD_HEADER", "TXID beyond 2^53 is not supported", at(16));
  if (minTxid === 0) throw new LtxError("LTX_BAD_HEADER", "MinTXID is zero", at(16));
  if (maxTxid === 0) throw new LtxError("LTX_BAD_HEADER", "MaxTXID is zero", at(24));
  if (minTxid > maxTxid) throw new LtxError("LTX_BAD_HEADER", `MinTXID ${minTxid} > MaxTXID ${maxTxid}`, at(16));
  const tsRaw = readU64(bytes, 32);
  const timestamp = Number(BigInt.asIntN(64, tsRaw));
  const preApplyChecksum = readU64(bytes, 40);
  const walOffsetBig = BigInt.asIntN(64, readU64(bytes, 48));
  const walSizeBig = BigInt.asIntN(64, readU64(bytes, 56));
  if (walOffsetBig < 0n) throw new LtxError("LTX_BAD_HEADER", "negative WAL offset", at(48));
  if (walSizeBig < 0n) throw new LtxError("LTX_BAD_HEADER", "negative WAL size", at(56));
  const walSalt1 = readU32(bytes, 64);
  const walSalt2 = readU32(bytes, 68);
  if ((walSalt1 !== 0 || walSalt2 !== 0) && walOffsetBig === 0n) {
    throw new LtxError("LTX_BAD_HEADER", "WAL salt set without a WAL offset", at(64));
  }
  if (walOffsetBig === 0n && walSizeBig !== 0n) throw new LtxError("LTX_BAD_HEADER", "WAL size set without a WAL offset", at(56));
  if (minTxid === 1 && preApplyChecksum !== 0n) {
    throw new LtxError("LTX_BAD_HEADER", "snapshot has a pre-apply checksum", at(40));
  }
  if (flags & HEADER_FLAG_NO_CHECKSUM) {
    if (preApplyChecksum !== 0n) throw new LtxError("LTX_BAD_HEADER", "pre-apply checksum set with NoChecksum flag", at(40));
  } else if (minTxid !== 1 && (preApplyChecksum & CHECKSUM_FLAG_BIGINT) === 0n) {
    throw new LtxError("LTX_BAD_HEADER", "pre-apply checksum missing its flag bit", at(40));
  }
  return {
    flags,
    pageSize,
    commit,
    minTxid,
    maxTxid,
    timestamp,
    preApplyChecksum,
    walOffset: Number(walOffsetBig),
    walSize: Number(walSizeBig),
    walSalt1,
    walSalt2,
    nodeId: readU64(bytes, 72),
  };
}

/** Encodes a header; the inverse of {@link decodeHeader}. */
export function encodeHeader(h: LtxHeader): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  b.set([0x4c, 0x54, 0x58, 0x31], 0);
  writeU32(b, 4, h.flags);
  writeU32(b, 8, h.pageSize);
  writeU32(b, 12, h.commit);
  writeU64(b, 16, h.minTxid);
  writeU64(b, 24, h.maxTxid);
  writeU64(b, 32, BigInt.asUintN(64, BigInt(h.timestamp)));
  writeU64(b, 40, h.preApplyChecksum);
  writeU64(b, 48, h.walOffset);
  writeU64(b, 56, h.walSize);
  writeU32(b, 64, h.walSalt1);
  writeU32(b, 68, h.walSalt2);
  writeU64(b, 72, h.nodeId);
  return b;
}
