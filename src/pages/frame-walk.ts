/**
 * @module
 * Decode-ahead for reads scattered densely over a region of an LTX file: the
 * frames that follow a page just read are decoded into the isolate's page
 * cache while their bytes are at hand, so the query's later reads in the
 * region find decoded pages instead of raw segments (which the shared cache
 * budget evicts first) or another Cache API lookup or storage read.
 *
 * Page frames lie back to back after the LTX header (spec §5), and a block
 * frame (flag 0x0001) states its compressed size, so the walk steps from one
 * frame to the next without decompressing the frames it skips. It decodes a
 * frame only where the index points at that very frame (same file version,
 * offset and size): pages decoded already, superseded versions, the trailer
 * and anything else are stepped over or end the walk. Frames lie in ascending
 * pgno order (spec §5), which lets the fetcher find the first frame of a
 * region by a binary search over pgno ({@link firstFrameAtOrAfter}). It
 * never awaits and never fails the query:
 * a frame it cannot use ends the walk, and the read SQLite makes later (if it
 * does) goes the normal way and reports any error then.
 */
import { concatBytes, readU16, readU32 } from "../ltx/bytes.ts";
import { decodePageFrame, PAGE_FLAG_SIZE } from "../ltx/page.ts";
import type { PageLocation } from "./page-fetcher.ts";

/**
 * Decodes the frame of page `pgno` at `at` from the bytes that hold it
 * (`parts`, consecutive, the first at file offset `base`); throws the
 * codec's LtxError for bad bytes.
 */
export function decodeFrameFrom(parts: Uint8Array[], base: number, at: PageLocation, pgno: number, pageSize: number): Uint8Array {
  const frame = parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts);
  const page = new Uint8Array(pageSize);
  decodePageFrame(frame, at.offset - base, at.offset - base + at.size, page, { file: at.file.key, absBase: base, expectedPgno: pgno });
  return page;
}

/** Header of a block frame: pgno u32, flags u16, compressed size u32. */
const BLOCK_FRAME_HEADER = 10;

export interface WalkContext {
  readonly pageSize: number;
  readonly pageCount: number;
  /** Where the index says a page is, when that is known without awaiting. */
  locateNow(pgno: number): PageLocation | null;
  /** `length` bytes of the file at `offset` from the isolate's segments, or null when any is not there. */
  bytesAt(file: PageLocation["file"], offset: number, length: number): Uint8Array | null;
  /** True when the frame at this location is decoded in the page cache already. */
  isDecoded(at: PageLocation): boolean;
  /** Keeps a decoded page. */
  keep(at: PageLocation, page: Uint8Array): void;
}

/**
 * Walks the frames of `file` from `from` (a frame boundary) up to `until`
 * (exclusive), decoding at most `maxPages` of them. Returns the pages
 * decoded and whether the walk reached `until` (else bytes were missing, or
 * something that is not a usable frame ended it).
 */
export function decodeAhead(ctx: WalkContext, file: PageLocation["file"], from: number, until: number, maxPages: number): { decoded: number; complete: boolean } {
  let pos = from;
  let decoded = 0;
  const done = (complete: boolean) => ({ decoded, complete });
  while (pos + BLOCK_FRAME_HEADER <= until && decoded < maxPages) {
    const head = ctx.bytesAt(file, pos, BLOCK_FRAME_HEADER);
    if (head === null) return done(false);
    const pgno = readU32(head, 0);
    // The zero page header after the last frame: the frames end here.
    if (pgno === 0) return done(true);
    // A frame-encoded page (older Litestream) does not say its size: the walk ends.
    if (readU16(head, 4) !== PAGE_FLAG_SIZE) return done(false);
    const size = BLOCK_FRAME_HEADER + readU32(head, 6);
    if (pgno > ctx.pageCount || size > 2 * ctx.pageSize + 64) return done(false);
    // A frame running past `until` is the next region's business (or a read's): this walk is done.
    if (pos + size > until) return done(true);
    const at = ctx.locateNow(pgno);
    if (at !== null && at.offset === pos && at.size === size && at.file.key === file.key && at.file.etag === file.etag && at.file.epoch === file.epoch) {
      if (ctx.isDecoded(at)) {
        pos += size;
        continue;
      }
      const frame = ctx.bytesAt(file, pos, size);
      if (frame === null) return done(false);
      const page = new Uint8Array(ctx.pageSize);
      try {
        decodePageFrame(frame, 0, size, page, { expectedPgno: pgno });
      } catch {
        return done(false);
      }
      ctx.keep(at, page);
      decoded++;
    }
    pos += size;
  }
  return done(pos + BLOCK_FRAME_HEADER > until);
}

/** How many pgnos a probe tries before it takes the ones between as stored elsewhere. */
const PROBES = 8;

/**
 * The offset of the first frame of `file` at or after `regionStart`, found
 * among pages 1..`pgno` (page `pgno` itself lies in `file` at or after
 * `regionStart`): within one LTX file, frame offsets grow with pgno, so a
 * binary search over pgno finds it; pages whose newest version lives in
 * another file are skipped over. Answers from the index as far as it is at
 * hand (never loading anything): null when page `pgno` itself is not.
 */
export function firstFrameAtOrAfter(ctx: WalkContext, file: PageLocation["file"], pgno: number, regionStart: number): number | null {
  const inFile = (p: number): PageLocation | null => {
    const at = ctx.locateNow(p);
    return at !== null && at.file.key === file.key && at.file.etag === file.etag && at.file.epoch === file.epoch ? at : null;
  };
  const own = inFile(pgno);
  if (own === null) return null;
  let best = own;
  let lo = 1;
  let hi = pgno;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >>> 1);
    // The first page of this file in [mid, hi), within a few probes.
    let q = -1;
    let at: PageLocation | null = null;
    for (let p = mid; p < hi && p < mid + PROBES; p++) {
      at = inFile(p);
      if (at !== null) {
        q = p;
        break;
      }
    }
    if (at === null) hi = mid;
    else if (at.offset >= regionStart) {
      best = at;
      hi = mid;
    } else lo = q + 1;
  }
  return best.offset;
}
