/**
 * @module
 * Streaming verification of an LTX file too large to hold its page index
 * (a 100 GB database's snapshot has 26M frames and a ~260 MB index): walks
 * the block-encoded frames from byte 100 by their own size prefixes, feeds
 * the file checksum (CRC-64, spec §9.3), and proves the stored page index is
 * the file's own by hashing the index these frames imply while reading and
 * comparing it with a hash of the stored index bytes. Memory: one read.
 *
 * Only the block encoding (Litestream ≥ v0.5.16, flag 0x0001: a u32 size
 * prefix) can be walked without an index; files in the older frame encoding
 * are verified with the index (verifier.ts), which is never this large in
 * practice. Progress is plain numbers: persist it after each step.
 */
import { pushUvarint, readU32 } from "./bytes.ts";
import { Crc64, type CrcState } from "./crc64.ts";
import { checkTrailer, hashFrame } from "./decoder.ts";
import { LtxError } from "./errors.ts";
import { HEADER_SIZE, PAGE_HEADER_SIZE, TRAILER_SIZE, type LtxHeader, decodeHeader, isSnapshot, lockPgno } from "./header.ts";
import { PAGE_FLAG_SIZE, decodePageFrame } from "./page.ts";

/** Where a walk stands (all plain numbers, to persist). */
export interface WalkProgress {
  pos: number;
  /** "frames" until the zero page header, then "index", then "tail". */
  phase: "frames" | "index" | "tail";
  prevPgno: number;
  crc: CrcState;
  /** CRC of the index the frames imply, and of the stored index bytes read so far. */
  implied: CrcState;
  stored: CrcState;
  impliedLength: number;
}

export interface FrameWalkerOptions {
  file: string;
  size: number;
  /** The header the file is served with. */
  header: LtxHeader;
  /** Where the stored page index lies ([start, end) of the file, terminator included). */
  indexStart: number;
  indexEnd: number;
  progress?: WalkProgress | null;
  /** Receives every decoded page in file order (restore writes them); `data` is reused after the call. */
  onPage?: (pgno: number, data: Uint8Array) => void;
}

const HEADER_FIELDS = ["flags", "pageSize", "commit", "minTxid", "maxTxid", "timestamp", "preApplyChecksum"] as const;

export class LtxFrameWalker {
  readonly file: string;
  readonly size: number;
  private readonly header: LtxHeader;
  private readonly indexStart: number;
  private readonly indexEnd: number;
  private p: WalkProgress;
  private crc: Crc64;
  private implied: Crc64;
  private stored: Crc64;
  private readonly onPage: ((pgno: number, data: Uint8Array) => void) | undefined;

  constructor(o: FrameWalkerOptions) {
    this.onPage = o.onPage;
    this.file = o.file;
    this.size = o.size;
    this.header = o.header;
    this.indexStart = o.indexStart;
    this.indexEnd = o.indexEnd;
    const fresh: WalkProgress = { pos: 0, phase: "frames", prevPgno: 0, crc: new Crc64().state, implied: new Crc64().state, stored: new Crc64().state, impliedLength: 0 };
    this.p = o.progress && o.progress.pos > 0 && o.progress.pos <= o.size ? { ...o.progress } : fresh;
    this.crc = Crc64.resume(this.p.crc);
    this.implied = Crc64.resume(this.p.implied);
    this.stored = Crc64.resume(this.p.stored);
  }

  get done(): boolean {
    return this.p.pos >= this.size;
  }

  get progress(): WalkProgress {
    return { ...this.p, crc: this.crc.state, implied: this.implied.state, stored: this.stored.state };
  }

  /** The next range to read: `maxBytes` from where the walk stands (the trailer never split). */
  nextRange(maxBytes: number): { offset: number; length: number } | null {
    if (this.done) return null;
    let end = Math.min(this.size, this.p.pos + Math.max(maxBytes, HEADER_SIZE));
    if (this.size - end < TRAILER_SIZE) end = this.size;
    return { offset: this.p.pos, length: end - this.p.pos };
  }

  /**
   * Verifies what `bytes` (read at the current position) hold; a frame cut by
   * the end of the read waits for the next one (a read must hold at least one
   * whole frame: read at least a page size plus 10 bytes). Throws an
   * {@link LtxError} at the first byte that does not match; true once done.
   */
  feed(bytes: Uint8Array, offset: number): boolean {
    const st = this.p;
    if (offset !== st.pos) throw new RangeError(`walker expects bytes at ${st.pos}, got ${offset}`);
    const file = this.file;
    const end = offset + bytes.length;
    let at = offset;
    if (at === 0) {
      if (bytes.length < HEADER_SIZE) throw new LtxError("LTX_TRUNCATED", "first read shorter than the header", { file, offset: 0 });
      const h = decodeHeader(bytes.subarray(0, HEADER_SIZE), file);
      for (const k of HEADER_FIELDS) {
        if (h[k] !== this.header[k]) throw new LtxError("LTX_BAD_HEADER", `header ${k} is ${h[k]}, the file was read with ${this.header[k]}`, { file, offset: 0 });
      }
      this.crc.update(bytes, 0, HEADER_SIZE);
      at = HEADER_SIZE;
    }
    const page = new Uint8Array(this.header.pageSize);
    const lock = lockPgno(this.header.pageSize);
    while (st.phase === "frames") {
      if (end - at < PAGE_HEADER_SIZE) break;
      const rel = at - offset;
      const pgno = readU32(bytes, rel);
      if (pgno === 0) {
        // The zero page header ends the frames; the index must start right after it.
        for (let k = 0; k < PAGE_HEADER_SIZE; k++) if (bytes[rel + k] !== 0) throw new LtxError("LTX_BAD_FRAME", "malformed zero page header", { file, offset: at });
        if (at + PAGE_HEADER_SIZE !== this.indexStart) throw new LtxError("LTX_BAD_INDEX", `frames end at ${at}, the page index starts at ${this.indexStart}`, { file, offset: at });
        if (isSnapshot(this.header) && st.prevPgno !== this.header.commit && !(st.prevPgno === this.header.commit - 1 && this.header.commit === lock)) {
          throw new LtxError("LTX_BAD_FRAME", `snapshot holds pages up to ${st.prevPgno}, commit is ${this.header.commit}`, { file, offset: at });
        }
        this.crc.update(bytes, rel, rel + PAGE_HEADER_SIZE);
        at += PAGE_HEADER_SIZE;
        st.phase = "index";
        break;
      }
      if (end - at < PAGE_HEADER_SIZE + 4) break;
      const flags = (bytes[rel + 4] as number) * 256 + (bytes[rel + 5] as number);
      if (flags !== PAGE_FLAG_SIZE) throw new LtxError("LTX_BAD_FRAME", `frame flags 0x${flags.toString(16)}: only block-encoded files are walked without their index`, { file, offset: at });
      const frameLen = PAGE_HEADER_SIZE + 4 + readU32(bytes, rel + PAGE_HEADER_SIZE);
      if (at + frameLen > this.indexStart) throw new LtxError("LTX_BAD_FRAME", `page ${pgno} frame runs into the page index`, { file, offset: at });
      if (at + frameLen > end) break; // the next read starts with this frame
      if (pgno <= st.prevPgno || pgno > this.header.commit || pgno === lock) {
        throw new LtxError("LTX_BAD_FRAME", `page ${pgno} out of order or out of range (after ${st.prevPgno})`, { file, offset: at });
      }
      if (isSnapshot(this.header)) {
        const want = st.prevPgno + 1 === lock ? lock + 1 : st.prevPgno + 1;
        if (pgno !== want) throw new LtxError("LTX_BAD_FRAME", `snapshot is missing page ${want}`, { file, offset: at });
      }
      decodePageFrame(bytes, rel, rel + frameLen, page, { file, absBase: offset, expectedPgno: pgno });
      hashFrame(this.crc, bytes, rel, flags, page);
      this.onPage?.(pgno, page);
      const entry: number[] = [];
      pushUvarint(entry, pgno);
      pushUvarint(entry, at);
      pushUvarint(entry, frameLen);
      this.implied.update(Uint8Array.from(entry));
      st.impliedLength += entry.length;
      st.prevPgno = pgno;
      at += frameLen;
    }
    if (st.phase === "index") {
      const upTo = Math.min(end, this.indexEnd);
      if (upTo > at) {
        this.crc.update(bytes, at - offset, upTo - offset);
        this.stored.update(bytes, at - offset, upTo - offset);
        at = upTo;
      }
      if (at === this.indexEnd) {
        // The stored index minus its terminator must be exactly the one the frames imply.
        const storedLen = this.indexEnd - this.indexStart - 1;
        const term = new Uint8Array([0]);
        const implied = Crc64.resume(this.implied.state);
        implied.update(term);
        if (storedLen !== st.impliedLength || implied.digest() !== this.stored.digest()) {
          throw new LtxError("LTX_BAD_INDEX", "the stored page index is not the one the frames describe", { file, offset: this.indexStart });
        }
        st.phase = "tail";
      }
    }
    if (st.phase === "tail" && end > at) {
      const hashEnd = Math.min(end, this.size - 8);
      if (hashEnd > at) this.crc.update(bytes, at - offset, hashEnd - offset);
      if (end === this.size) checkTrailer(this.header, bytes.subarray(this.size - TRAILER_SIZE - offset), this.crc, file, this.size);
      at = end;
    }
    st.pos = at;
    return this.done;
  }
}
