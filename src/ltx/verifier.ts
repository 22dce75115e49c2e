/**
 * @module
 * Streaming verification of one LTX file read in bounded range reads: the
 * file checksum (CRC-64/GO-ISO, spec §9.3) over header, page headers,
 * decompressed pages, zero page header, page index and post-apply checksum,
 * computed chunk by chunk so a file of any size is verified in steps of
 * about `maxBytes` (a frame is never split across steps: a step ends before
 * the first frame it does not hold whole and the next step starts there).
 *
 * The frame layout comes from the page index the reader already serves from
 * (read from the tail); the verifier proves that index is the file's own —
 * frames contiguous from byte 100 and decoding to exactly their indexed
 * size and pgno, the stored index bytes equal to its encoding, the header
 * equal to the one read before — so a verified checksum covers every byte a
 * reader will ever fetch through that index.
 *
 * Progress ({@link VerifyProgress}) is plain numbers: persist it after each
 * step and pass it back to continue after a restart.
 */
import { Crc64, type CrcState } from "./crc64.ts";
import { checkTrailer, hashFrame } from "./decoder.ts";
import { LtxError } from "./errors.ts";
import { type FileIndex, encodeFileIndex } from "./file-index.ts";
import { HEADER_SIZE, PAGE_HEADER_SIZE, TRAILER_SIZE, type LtxHeader, decodeHeader, isSnapshot, lockPgno } from "./header.ts";
import { decodePageFrame } from "./page.ts";

/** Where a verification stands: the next byte to read, the next frame, the CRC so far. */
export interface VerifyProgress {
  pos: number;
  frame: number;
  crc: CrcState;
}

export interface StreamVerifierOptions {
  /** Object key, for errors. */
  file: string;
  /** Object size in bytes. */
  size: number;
  /** The header and page index the file is served with. */
  header: LtxHeader;
  index: FileIndex;
  /** Continue a verification (ignored when it does not fit this file's layout). */
  progress?: VerifyProgress | null;
  /** Receives every decoded page in file order (restore writes them); `data` is reused after the call. */
  onPage?: (pgno: number, data: Uint8Array) => void;
}

const HEADER_FIELDS = ["flags", "pageSize", "commit", "minTxid", "maxTxid", "timestamp", "preApplyChecksum"] as const;

export class LtxStreamVerifier {
  readonly file: string;
  readonly size: number;
  private readonly header: LtxHeader;
  private readonly index: FileIndex;
  /** End of the last frame = start of the zero page header. */
  private readonly frameEnd: number;
  /** The index bytes and their length field as they must be stored after the zero page header. */
  private readonly tail: Uint8Array;
  private pos = 0;
  private frame = 0;
  private crc = new Crc64();
  private readonly onPage: ((pgno: number, data: Uint8Array) => void) | undefined;

  constructor(opts: StreamVerifierOptions) {
    this.onPage = opts.onPage;
    this.file = opts.file;
    this.size = opts.size;
    this.header = opts.header;
    this.index = opts.index;
    const fi = opts.index;
    let end = HEADER_SIZE;
    for (let i = 0; i < fi.count; i++) {
      if (fi.offset[i] !== end) {
        throw new LtxError("LTX_BAD_INDEX", `page index offset ${fi.offset[i]} does not follow the previous frame (ends at ${end})`, { file: this.file, offset: end });
      }
      end += fi.size[i] ?? 0;
    }
    this.frameEnd = end;
    this.tail = encodeFileIndex(fi);
    if (end + PAGE_HEADER_SIZE + this.tail.length + TRAILER_SIZE !== this.size) {
      throw new LtxError("LTX_BAD_INDEX", `page index describes a ${end + PAGE_HEADER_SIZE + this.tail.length + TRAILER_SIZE}-byte file, object is ${this.size} bytes`, {
        file: this.file,
      });
    }
    if (isSnapshot(opts.header)) checkSnapshotPages(opts.header, fi, this.file);
    const p = opts.progress;
    if (p && p.pos > 0 && p.pos <= this.size && (p.frame < fi.count ? fi.offset[p.frame] === p.pos : p.frame === fi.count && p.pos >= end)) {
      this.pos = p.pos;
      this.frame = p.frame;
      this.crc = Crc64.resume(p.crc);
    }
  }

  get done(): boolean {
    return this.pos >= this.size;
  }

  get progress(): VerifyProgress {
    return { pos: this.pos, frame: this.frame, crc: this.crc.state };
  }

  /**
   * The next range to read: about `maxBytes` and at most `maxPages` frames
   * (decoding, not reading, is the CPU cost: a compressible file holds many
   * pages per byte), never less than the next whole frame, the trailer in
   * one piece. Null when done.
   */
  nextRange(maxBytes: number, maxPages = Number.POSITIVE_INFINITY): { offset: number; length: number } | null {
    if (this.done) return null;
    const fi = this.index;
    let end = Math.min(this.size, this.pos + Math.max(maxBytes, HEADER_SIZE));
    const stopAt = this.frame + Math.max(1, Math.floor(maxPages));
    if (stopAt < fi.count) end = Math.min(end, fi.offset[stopAt] ?? end);
    if (this.frame < fi.count) end = Math.max(end, (fi.offset[this.frame] ?? 0) + (fi.size[this.frame] ?? 0));
    if (this.size - end < TRAILER_SIZE) end = this.size;
    return { offset: this.pos, length: Math.min(this.size, end) - this.pos };
  }

  /**
   * Verifies `bytes` read at `offset` (= the range {@link nextRange} gave).
   * Throws an {@link LtxError} (LTX_CHECKSUM_MISMATCH, LTX_BAD_INDEX, …) on
   * the first byte that does not match; returns true once the whole file verified.
   */
  feed(bytes: Uint8Array, offset: number): boolean {
    if (offset !== this.pos) throw new RangeError(`verifier expects bytes at ${this.pos}, got ${offset}`);
    const end = offset + bytes.length;
    const file = this.file;
    let p = offset;
    if (p === 0) {
      if (bytes.length < HEADER_SIZE) throw new LtxError("LTX_TRUNCATED", "first read shorter than the header", { file, offset: 0 });
      const h = decodeHeader(bytes.subarray(0, HEADER_SIZE), file);
      for (const k of HEADER_FIELDS) {
        if (h[k] !== this.header[k]) throw new LtxError("LTX_BAD_HEADER", `header ${k} is ${h[k]}, the file was read with ${this.header[k]}`, { file, offset: 0 });
      }
      this.crc.update(bytes, 0, HEADER_SIZE);
      p = HEADER_SIZE;
    }
    const fi = this.index;
    const page = new Uint8Array(this.header.pageSize);
    while (this.frame < fi.count) {
      const o = fi.offset[this.frame] ?? 0;
      const s = fi.size[this.frame] ?? 0;
      if (o + s > end) break;
      const r = decodePageFrame(bytes, o - offset, o - offset + s, page, { file, absBase: offset, expectedPgno: fi.pgno[this.frame] ?? 0 });
      if (r.consumed !== s) throw new LtxError("LTX_BAD_FRAME", `page ${r.pgno} frame is ${r.consumed} bytes, index says ${s}`, { file, offset: o });
      hashFrame(this.crc, bytes, o - offset, r.flags, page);
      this.onPage?.(r.pgno, page);
      p = o + s;
      this.frame++;
    }
    if (this.frame === fi.count && end > this.frameEnd) {
      this.checkTail(bytes, offset, Math.max(p, this.frameEnd), end);
      p = end;
    }
    this.pos = p;
    return this.done;
  }

  /** Zero page header, index bytes, length, trailer: bytes [from, to) of a read starting at `offset`. */
  private checkTail(bytes: Uint8Array, offset: number, from: number, to: number): void {
    const zeroEnd = this.frameEnd + PAGE_HEADER_SIZE;
    const tailEnd = this.size - TRAILER_SIZE;
    for (let a = from; a < Math.min(to, tailEnd); a++) {
      const got = bytes[a - offset];
      const want = a < zeroEnd ? 0 : this.tail[a - zeroEnd];
      if (got !== want) {
        const what = a < zeroEnd ? "zero page header" : "page index bytes differ from the index the file is served with";
        throw new LtxError(a < zeroEnd ? "LTX_BAD_FRAME" : "LTX_BAD_INDEX", what, { file: this.file, offset: a });
      }
    }
    const hashEnd = Math.min(to, this.size - 8);
    if (from < hashEnd) this.crc.update(bytes, from - offset, hashEnd - offset);
    // nextRange() never splits the trailer, so a read reaching the end holds all of it.
    if (to === this.size) checkTrailer(this.header, bytes.subarray(tailEnd - offset), this.crc, this.file, this.size);
  }
}

/** A snapshot holds exactly pages 1 … Commit except the lock page (spec §5.6). */
function checkSnapshotPages(header: LtxHeader, fi: FileIndex, file: string): void {
  const lock = lockPgno(header.pageSize);
  let want = 1;
  for (let i = 0; i < fi.count; i++) {
    if (want === lock) want++;
    if (fi.pgno[i] !== want) throw new LtxError("LTX_BAD_FRAME", `snapshot is missing page ${want}`, { file });
    want++;
  }
  if (want === lock) want++;
  if (want !== header.commit + 1) throw new LtxError("LTX_BAD_FRAME", `snapshot holds pages up to ${want - 1}, commit is ${header.commit}`, { file });
}
