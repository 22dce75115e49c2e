/**
 * @module
 * Writes LTX files exactly as the spec describes (header, frames, zero page
 * header, page index, trailer, file checksum), so tests and benchmarks can
 * build any replica they need, and `ltx-edge import` can snapshot a plain
 * SQLite database. Block encoding is what Litestream ≥ v0.5.16 writes; the
 * frame encoding (v0.5.0–v0.5.15) is available to exercise legacy readers.
 */
import { concatBytes, writeU32, writeU64 } from "./bytes.ts";
import { CHECKSUM_FLAG, Crc64 } from "./crc64.ts";
import { LtxError } from "./errors.ts";
import { encodeFileIndex } from "./file-index.ts";
import { HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, PAGE_HEADER_SIZE, type LtxHeader, decodeHeader, encodeHeader, isValidPageSize, lockPgno } from "./header.ts";
import { encodeLz4Block, encodeLz4Frame } from "./lz4.ts";
import { PAGE_FLAG_SIZE } from "./page.ts";

export interface LtxWriteOptions {
  pageSize: number;
  commit: number;
  minTxid: number;
  maxTxid: number;
  /** ms since the epoch; defaults to now. */
  timestamp?: number;
  encoding?: "block" | "frame";
  walOffset?: number;
  walSize?: number;
  walSalt1?: number;
  walSalt2?: number;
  /**
   * Database checksums (as LiteFS writes them; Litestream writes NoChecksum
   * files): pre-apply (0 for a snapshot) and post-apply, each with bit 63 set.
   */
  checksums?: { preApply: bigint; postApply: bigint };
}

/** Incremental writer: add pages in ascending pgno order, then finish(). */
export class LtxWriter {
  readonly header: LtxHeader;
  private readonly encoding: "block" | "frame";
  private readonly parts: Uint8Array[] = [];
  private readonly crc = new Crc64();
  private readonly index: number[] = [];
  private pos = HEADER_SIZE;
  private lastPgno = 0;
  private readonly postApply: bigint;
  private readonly lock: number;
  private done = false;

  constructor(opts: LtxWriteOptions) {
    if (!isValidPageSize(opts.pageSize)) throw new RangeError(`invalid page size ${opts.pageSize}`);
    if (!(opts.minTxid >= 1 && opts.maxTxid >= opts.minTxid)) throw new RangeError(`invalid TXID range ${opts.minTxid}-${opts.maxTxid}`);
    if (opts.checksums && (opts.checksums.postApply & CHECKSUM_FLAG) === 0n) throw new RangeError("post-apply checksum needs bit 63 set");
    this.postApply = opts.checksums?.postApply ?? 0n;
    this.header = {
      flags: opts.checksums ? 0 : HEADER_FLAG_NO_CHECKSUM,
      pageSize: opts.pageSize,
      commit: opts.commit,
      minTxid: opts.minTxid,
      maxTxid: opts.maxTxid,
      timestamp: opts.timestamp ?? Date.now(),
      preApplyChecksum: opts.checksums?.preApply ?? 0n,
      walOffset: opts.walOffset ?? 0,
      walSize: opts.walSize ?? 0,
      walSalt1: opts.walSalt1 ?? 0,
      walSalt2: opts.walSalt2 ?? 0,
      nodeId: 0n,
    };
    if (!(Number.isInteger(opts.commit) && opts.commit >= 0 && opts.commit <= 0xffffffff)) {
      throw new RangeError(`commit ${opts.commit} is not a u32`);
    }
    this.encoding = opts.encoding ?? "block";
    this.lock = lockPgno(opts.pageSize);
    const h = encodeHeader(this.header);
    // Never write a header that decodeHeader (spec §4 rules) would refuse.
    try {
      decodeHeader(h);
    } catch (e) {
      if (e instanceof LtxError) throw new RangeError(`invalid LTX header: ${e.message}`);
      throw e;
    }
    this.parts.push(h);
    this.crc.update(h);
  }

  /** Appends one page (exactly pageSize bytes). */
  addPage(pgno: number, data: Uint8Array): void {
    if (this.done) throw new Error("LtxWriter already finished");
    if (data.length !== this.header.pageSize) throw new RangeError(`page ${pgno} is ${data.length} bytes, expected ${this.header.pageSize}`);
    if (!Number.isInteger(pgno) || pgno <= this.lastPgno) throw new RangeError(`pages must be strictly ascending: ${pgno} after ${this.lastPgno}`);
    if (pgno > this.header.commit) throw new RangeError(`page ${pgno} beyond commit ${this.header.commit}`);
    if (pgno === this.lock) throw new RangeError(`the lock page ${pgno} is never stored`);
    if (this.header.minTxid === 1) {
      const expected = this.lastPgno + 1 === this.lock ? this.lock + 1 : this.lastPgno + 1;
      if (pgno !== expected) throw new RangeError(`a snapshot must hold every page: expected ${expected}, got ${pgno}`);
    }
    let frame: Uint8Array;
    let headerLen: number;
    if (this.encoding === "block") {
      const block = encodeLz4Block(data);
      frame = new Uint8Array(10 + block.length);
      writeU32(frame, 0, pgno);
      frame[4] = 0;
      frame[5] = PAGE_FLAG_SIZE;
      writeU32(frame, 6, block.length);
      frame.set(block, 10);
      headerLen = 10;
    } else {
      const lz = encodeLz4Frame(data);
      frame = new Uint8Array(PAGE_HEADER_SIZE + lz.length);
      writeU32(frame, 0, pgno);
      frame.set(lz, PAGE_HEADER_SIZE);
      headerLen = PAGE_HEADER_SIZE;
    }
    this.crc.update(frame, 0, headerLen);
    this.crc.update(data);
    this.parts.push(frame);
    this.index.push(pgno, this.pos, frame.length);
    this.pos += frame.length;
    this.lastPgno = pgno;
  }

  /** Writes terminator, index and trailer; returns the whole file. */
  finish(): Uint8Array {
    if (this.done) throw new Error("LtxWriter already finished");
    this.done = true;
    if (this.header.minTxid === 1) {
      // A snapshot whose Commit is the lock page ends one page before it.
      const last = this.lastPgno + 1 === this.lock && this.header.commit === this.lock ? this.lock : this.lastPgno;
      if (last !== this.header.commit) throw new RangeError(`snapshot ends at page ${this.lastPgno}, commit is ${this.header.commit}`);
    }
    const zero = new Uint8Array(PAGE_HEADER_SIZE);
    const n = this.index.length / 3;
    const idx = encodeFileIndex({
      count: n,
      pgno: Uint32Array.from({ length: n }, (_, i) => this.index[3 * i] ?? 0),
      offset: Float64Array.from({ length: n }, (_, i) => this.index[3 * i + 1] ?? 0),
      size: Uint32Array.from({ length: n }, (_, i) => this.index[3 * i + 2] ?? 0),
    });
    const tail = new Uint8Array(idx.length + 16);
    tail.set(idx, 0);
    // PostApplyChecksum: 0 under NoChecksum, as Litestream writes.
    writeU64(tail, idx.length, this.postApply);
    this.crc.update(zero);
    this.crc.update(tail, 0, tail.length - 8);
    writeU64(tail, tail.length - 8, this.crc.digest() | CHECKSUM_FLAG);
    this.parts.push(zero, tail);
    return concatBytes(this.parts);
  }
}

/** One-shot helper over {@link LtxWriter}. */
export function encodeLtxFile(opts: LtxWriteOptions, pages: Iterable<readonly [number, Uint8Array]>): Uint8Array {
  const w = new LtxWriter(opts);
  for (const [pgno, data] of pages) w.addPage(pgno, data);
  return w.finish();
}
