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
 * offset and size): superseded versions, the trailer and anything else are
 * stepped over or end the walk. It never awaits and never fails the query:
 * a frame it cannot use ends the walk, and the read SQLite makes later (if it
 * does) goes the normal way and reports any error then.
 */
import { readU16, readU32 } from "../ltx/bytes.ts";
import { decodePageFrame, PAGE_FLAG_SIZE } from "../ltx/page.ts";
import type { PageLocation } from "./page-fetcher.ts";

/** Header of a block frame: pgno u32, flags u16, compressed size u32. */
const BLOCK_FRAME_HEADER = 10;

export interface WalkContext {
  readonly pageSize: number;
  readonly pageCount: number;
  /** Where the index says a page is, when that is known without awaiting. */
  locateNow(pgno: number): PageLocation | null;
  /** `length` bytes of the file at `offset` from the isolate's segments, or null when any is not there. */
  bytesAt(offset: number, length: number): Uint8Array | null;
  /** True when the frame at this location is decoded in the page cache already. */
  isDecoded(at: PageLocation): boolean;
  /** Keeps a decoded page. */
  keep(at: PageLocation, page: Uint8Array): void;
}

/**
 * Walks the frames of `file` from `from` up to `until` (exclusive), decoding
 * at most `maxPages` of them; stops early at a page already decoded (the walk
 * from there was done before). Returns the number of pages decoded.
 */
export function decodeAhead(ctx: WalkContext, file: PageLocation["file"], from: number, until: number, maxPages: number): number {
  let pos = from;
  let decoded = 0;
  while (pos + BLOCK_FRAME_HEADER <= until && decoded < maxPages) {
    const head = ctx.bytesAt(pos, BLOCK_FRAME_HEADER);
    // A frame-encoded page (older Litestream) does not say its size: the walk ends.
    if (head === null || readU16(head, 4) !== PAGE_FLAG_SIZE) return decoded;
    const pgno = readU32(head, 0);
    const size = BLOCK_FRAME_HEADER + readU32(head, 6);
    if (pgno === 0 || pgno > ctx.pageCount || size > 2 * ctx.pageSize + 64) return decoded;
    const at = ctx.locateNow(pgno);
    if (at !== null && at.offset === pos && at.size === size && at.file.key === file.key && at.file.etag === file.etag && at.file.epoch === file.epoch) {
      if (ctx.isDecoded(at)) return decoded;
      const frame = ctx.bytesAt(pos, size);
      if (frame === null) return decoded;
      const page = new Uint8Array(ctx.pageSize);
      try {
        decodePageFrame(frame, 0, size, page, { expectedPgno: pgno });
      } catch {
        return decoded;
      }
      ctx.keep(at, page);
      decoded++;
    }
    pos += size;
  }
  return decoded;
}
