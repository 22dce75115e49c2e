/**
 * @module
 * Writes LTX files exactly as the spec describes (header, frames, zero page
 * header, page index, trailer, file checksum), so tests and benchmarks can
 * build any replica they need, and `ltx-edge import` can snapshot a plain
 * SQLite database. Block encoding is what Litestream ≥ v0.5.16 writes; the
 * frame encoding (v0.5.0–v0.5.15) is available to exercise legacy readers.
 *
 * By default the whole file is returned by `finish()`. With a `sink`, bytes
 * are handed over in blocks as they are produced, and the page index is kept
 * as its encoded varints (≈ 10 bytes a page, not three JS numbers): that is
 * what lets a benchmark write a 100 GB database's snapshot from a process of
 * a few hundred MB. The bytes are the same either way.
 */
import { concatBytes, writeU32, writeU64 } from "./bytes.ts";
import { CHECKSUM_FLAG, Crc64 } from "./crc64.ts";
import { LtxError } from "./errors.ts";
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
  /**
   * Streaming mode: receives the file's bytes in order, in blocks of
   * {@link SINK_BLOCK_BYTES} (the last one smaller); `finish()` then returns
   * an empty array. Blocks are never reused: the sink may keep them.
   */
  sink?: (bytes: Uint8Array) => void;
}

/** Size of the blocks a streaming writer hands to its sink. */
export const SINK_BLOCK_BYTES = 1024 * 1024;
/** Block size in memory (most files are small: a writer should not cost MiBs). */
const MEMORY_BLOCK_BYTES = 64 * 1024;

/** An append-only byte buffer in fixed-size blocks; full blocks go to `flush`. */
class BlockBuffer {
  #block: Uint8Array;
  #used = 0;
  readonly #size: number;
  readonly #flush: (b: Uint8Array) => void;

  constructor(size: number, flush: (b: Uint8Array) => void) {
    this.#size = size;
    this.#block = new Uint8Array(size);
    this.#flush = flush;
  }

  push(bytes: Uint8Array): void {
    let i = 0;
    while (i < bytes.length) {
      const n = Math.min(bytes.length - i, this.#size - this.#used);
      this.#block.set(bytes.subarray(i, i + n), this.#used);
      this.#used += n;
      i += n;
      if (this.#used === this.#size) this.end();
    }
  }

  /** Appends an unsigned varint (spec §1: LEB128, as Go's AppendUvarint). */
  pushUvarint(v: number): void {
    let x = v;
    while (x >= 0x80) {
      this.pushByte((x % 128) | 0x80);
      x = Math.floor(x / 128);
    }
    this.pushByte(x);
  }

  pushByte(b: number): void {
    this.#block[this.#used++] = b;
    if (this.#used === this.#size) this.end();
  }

  /** Hands over what is buffered (a partial block is trimmed). */
  end(): void {
    if (this.#used === 0) return;
    this.#flush(this.#used === this.#size ? this.#block : this.#block.slice(0, this.#used));
    this.#block = new Uint8Array(this.#size);
    this.#used = 0;
  }
}

/** Incremental writer: add pages in ascending pgno order, then finish(). */
export class LtxWriter {
  readonly header: LtxHeader;
  private readonly encoding: "block" | "frame";
  /** Blocks of the file so far (in-memory mode only). */
  private readonly parts: Uint8Array[] = [];
  private readonly out: BlockBuffer;
  private readonly crc = new Crc64();
  /** The page index as encoded varint triples, in blocks. */
  private readonly indexBlocks: Uint8Array[] = [];
  private readonly index: BlockBuffer;
  private indexBytes = 0;
  private readonly streaming: boolean;
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
    const sink = opts.sink;
    this.streaming = sink !== undefined;
    const blockBytes = sink ? SINK_BLOCK_BYTES : MEMORY_BLOCK_BYTES;
    this.out = new BlockBuffer(blockBytes, sink ?? ((b) => this.parts.push(b)));
    this.index = new BlockBuffer(blockBytes, (b) => {
      this.indexBlocks.push(b);
      this.indexBytes += b.length;
    });
    this.lock = lockPgno(opts.pageSize);
    const h = encodeHeader(this.header);
    // Never write a header that decodeHeader (spec §4 rules) would refuse.
    try {
      decodeHeader(h);
    } catch (e) {
      if (e instanceof LtxError) throw new RangeError(`invalid LTX header: ${e.message}`);
      throw e;
    }
    this.out.push(h);
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
    this.out.push(frame);
    this.index.pushUvarint(pgno);
    this.index.pushUvarint(this.pos);
    this.index.pushUvarint(frame.length);
    this.pos += frame.length;
    this.lastPgno = pgno;
  }

  /** Writes terminator, index and trailer; returns the whole file (empty in streaming mode: the sink has it). */
  finish(): Uint8Array {
    if (this.done) throw new Error("LtxWriter already finished");
    this.done = true;
    if (this.header.minTxid === 1) {
      // A snapshot whose Commit is the lock page ends one page before it.
      const last = this.lastPgno + 1 === this.lock && this.header.commit === this.lock ? this.lock : this.lastPgno;
      if (last !== this.header.commit) throw new RangeError(`snapshot ends at page ${this.lastPgno}, commit is ${this.header.commit}`);
    }
    const zero = new Uint8Array(PAGE_HEADER_SIZE);
    this.out.push(zero);
    this.crc.update(zero);
    // Index (spec §7.1): the varint triples, a 0x00 terminator, then its length as u64 BE.
    this.index.pushByte(0);
    this.index.end();
    for (const b of this.indexBlocks.splice(0)) {
      this.out.push(b);
      this.crc.update(b);
    }
    const tail = new Uint8Array(8 + 16);
    writeU64(tail, 0, this.indexBytes);
    // PostApplyChecksum: 0 under NoChecksum, as Litestream writes.
    writeU64(tail, 8, this.postApply);
    this.crc.update(tail, 0, tail.length - 8);
    writeU64(tail, tail.length - 8, this.crc.digest() | CHECKSUM_FLAG);
    this.out.push(tail);
    this.out.end();
    return this.streaming ? new Uint8Array(0) : concatBytes(this.parts);
  }
}

/** One-shot helper over {@link LtxWriter}. */
export function encodeLtxFile(opts: LtxWriteOptions, pages: Iterable<readonly [number, Uint8Array]>): Uint8Array {
  const w = new LtxWriter(opts);
  for (const [pgno, data] of pages) w.addPage(pgno, data);
  return w.finish();
}
