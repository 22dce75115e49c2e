/**
 * @module
 * One planned LTX file decoded as its ranges arrive, through the project's
 * streaming verifiers: block-encoded files (every file Litestream ≥ v0.5.16
 * writes) go through {@link LtxFrameWalker}, which needs no page index, so a
 * 100 GB snapshot costs one range of memory; frame-encoded files (v0.5.0 –
 * v0.5.15, never that large) through {@link LtxStreamVerifier} with their
 * index. Either decodes each page once, hands it on, and checks the file
 * checksum when the last range arrives. A frame cut by the end of a range is
 * carried over and completed by the next one.
 */
import { concatBytes, readU16, readU32 } from "../ltx/bytes.ts";
import { LtxError } from "../ltx/errors.ts";
import { decodeFileIndex, locateFileIndex } from "../ltx/file-index.ts";
import { LtxFrameWalker } from "../ltx/frame-verifier.ts";
import { HEADER_SIZE, type LtxHeader, decodeHeader } from "../ltx/header.ts";
import { PAGE_FLAG_SIZE } from "../ltx/page.ts";
import { LtxStreamVerifier } from "../ltx/verifier.ts";
import { type LtxFileInfo, type Replica, checkHeaderName } from "../replica/replica.ts";
import type { FileRange } from "./ranges.ts";

/** Bytes of a new range that complete a frame cut by the previous one: more than any valid frame (64 KiB page, LZ4 worst case). */
const STITCH_BYTES = 128 * 1024;

/** What both streaming verifiers offer. */
interface Feeder {
  feed(bytes: Uint8Array, offset: number): boolean;
  readonly done: boolean;
  readonly progress: { pos: number };
}

export interface FileStreamHooks {
  /** Called once with the validated header, before any page (a wrong page size stops here). */
  onHeader(header: LtxHeader): void;
  /** Every decoded page in file order; `data` is reused after the call. */
  onPage(pgno: number, data: Uint8Array): void;
}

export class FileStream {
  readonly file: LtxFileInfo;
  private readonly replica: Replica;
  private readonly hooks: FileStreamHooks;
  private feeder: Feeder | null = null;
  private headerValue: LtxHeader | null = null;
  /** Bytes from `carryAt` on that the last feed could not use (a partial frame). */
  private carry: Uint8Array = new Uint8Array(0);
  private carryAt = 0;

  constructor(replica: Replica, file: LtxFileInfo, hooks: FileStreamHooks) {
    this.replica = replica;
    this.file = file;
    this.hooks = hooks;
  }

  /** The file's header (after its first range). */
  get header(): LtxHeader {
    if (!this.headerValue) throw new Error(`${this.file.key}: no range pushed yet`);
    return this.headerValue;
  }

  /** Decodes the next range (ranges must come in order); throws on the first bad byte. */
  async push(r: FileRange): Promise<void> {
    const expected = this.carryAt + this.carry.length;
    if (r.offset !== expected) throw new RangeError(`${this.file.key}: expected a range at ${expected}, got ${r.offset}`);
    this.feeder ??= await this.open(r);
    if (this.carry.length === 0) {
      this.feed(r.bytes, r.offset);
    } else {
      // Complete the cut frame with the head of the new range, then walk on in the range itself:
      // this copies about a frame, not the range.
      const head = r.bytes.length <= 2 * STITCH_BYTES ? r.bytes : r.bytes.subarray(0, STITCH_BYTES);
      this.feed(concatBytes([this.carry, head]), this.carryAt);
      if (head !== r.bytes) {
        const pos = this.carryAt;
        // (A frame longer than the head is no valid frame; it is still fed whole, to fail where it breaks.)
        this.feed(pos >= r.offset ? r.bytes.subarray(pos - r.offset) : concatBytes([this.carry.subarray(0, r.offset - pos), r.bytes]), pos);
      }
    }
    if (r.last && !this.feeder.done) {
      throw new LtxError("LTX_TRUNCATED", `file ends inside the page frame at ${this.carryAt}`, { file: this.file.key, offset: this.carryAt });
    }
  }

  /** Feeds `bytes` (at `offset`) and keeps what the feeder could not use yet. */
  private feed(bytes: Uint8Array, offset: number): void {
    const feeder = this.feeder as Feeder;
    feeder.feed(bytes, offset);
    const pos = feeder.progress.pos;
    this.carry = bytes.subarray(pos - offset);
    this.carryAt = pos;
  }

  /** Validates the header and picks the verifier from the first frame's encoding. */
  private async open(r: FileRange): Promise<Feeder> {
    const file = this.file;
    const first = r.bytes;
    const header = checkHeaderName(decodeHeader(first, file.key), file);
    this.headerValue = header;
    this.hooks.onHeader(header);
    const onPage = this.hooks.onPage;
    const common = { file: file.key, size: file.size, header, onPage };
    // The range holding the end of the file (or the tail read with a larger file's first range) locates the index.
    const tail = r.last ? first : r.tail;
    if (!tail) throw new Error(`${file.key}: the first range of a multi-range file comes with its tail`);
    const bounds = locateFileIndex(tail, file.size, file.key);
    if (!isFrameEncoded(first)) return new LtxFrameWalker({ ...common, indexStart: bounds.start, indexEnd: bounds.end });
    const opts = { file: file.key, commit: header.commit, pageSize: header.pageSize };
    const index = r.last
      ? decodeFileIndex(first.subarray(bounds.start, bounds.end), bounds.start, bounds.end, opts)
      : (await this.replica.readIndex(file)).index;
    return new LtxStreamVerifier({ ...common, index });
  }
}

/** True when the first page frame uses the older LZ4-frame encoding (flags 0, spec §5.3). */
function isFrameEncoded(first: Uint8Array): boolean {
  if (first.length < HEADER_SIZE + 6 || readU32(first, HEADER_SIZE) === 0) return false;
  return readU16(first, HEADER_SIZE + 4) !== PAGE_FLAG_SIZE;
}
