/**
 * @module
 * The files of a restore plan as one sequence of bounded range reads, with
 * exactly one read in flight ahead of the one being decoded — across file
 * boundaries too, so the next file's first range downloads while the current
 * file's last pages are written. Memory: two ranges, whatever the file sizes.
 */
import { LtxError } from "../ltx/errors.ts";
import { MIN_FILE_SIZE } from "../ltx/file-index.ts";
import { TRAILER_SIZE } from "../ltx/header.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";

/** Default bytes per range read: large enough that per-request latency hardly counts. */
export const RESTORE_RANGE_BYTES = 4 * 1024 * 1024;
/** Bytes at the end of a file that locate its page index: the u64 index length, then the trailer. */
export const INDEX_LENGTH_TAIL = 8 + TRAILER_SIZE;

/**
 * Fills `dst` with the bytes of `file` at `offset` (exactly `dst.length`),
 * for stores that can read into a caller's buffer (local files): the ranges
 * then rotate through three buffers instead of allocating one per read.
 */
export type ReadInto = (file: LtxFileInfo, offset: number, dst: Uint8Array) => Promise<void>;

/** One range of one planned file. */
export interface FileRange {
  file: LtxFileInfo;
  /** Position of the file in the plan. */
  planIndex: number;
  offset: number;
  bytes: Uint8Array;
  /** True for the range that ends the file. */
  last: boolean;
  /**
   * The file's last {@link INDEX_LENGTH_TAIL} bytes, read with the first range
   * of a file longer than one range (they locate its page index).
   */
  tail: Uint8Array | null;
}

/**
 * Splits a file into consecutive ranges of about `rangeBytes`. The trailer is
 * never split (a read that ends within 16 bytes of the end takes them too),
 * so the read that completes a file holds its whole trailer.
 */
export function* splitRanges(size: number, rangeBytes: number): Generator<{ offset: number; length: number }> {
  let offset = 0;
  while (offset < size) {
    let end = Math.min(size, offset + rangeBytes);
    if (size - end < TRAILER_SIZE) end = size;
    yield { offset, length: end - offset };
    offset = end;
  }
}

/** Reads `length` bytes at `offset`, insisting on the object the listing described. */
async function readExact(replica: Replica, file: LtxFileInfo, offset: number, length: number): Promise<Uint8Array> {
  const r = await replica.store.getRange(file.key, offset, length);
  if (r.size !== file.size) {
    throw new LtxError("LTX_TRUNCATED", `object is ${r.size} bytes, listing said ${file.size} (replaced while reading?)`, { file: file.key, offset });
  }
  if (r.etag && file.etag && unquote(r.etag) !== unquote(file.etag)) {
    throw new LtxError("LTX_TRUNCATED", `object changed since it was listed (ETag ${r.etag}, listed ${file.etag})`, { file: file.key, offset });
  }
  if (r.bytes.length !== length) {
    throw new LtxError("LTX_TRUNCATED", `short read: ${r.bytes.length} of ${length} bytes`, { file: file.key, offset: offset + r.bytes.length });
  }
  return r.bytes;
}

const unquote = (etag: string): string => etag.replace(/"/g, "");

/**
 * Yields every range of every planned file in plan order. While the caller
 * works on one range, the next one (possibly the next file's first) is being
 * read; never more. With `readInto`, range i lands in buffer i mod 3: while
 * range i is decoded, range i+1 is being read, and the caller may still hold
 * the tail of range i-1 (a frame cut by the boundary) — three distinct buffers.
 */
export async function* readPlanRanges(
  replica: Replica,
  plan: readonly LtxFileInfo[],
  rangeBytes = RESTORE_RANGE_BYTES,
  readInto?: ReadInto,
): AsyncGenerator<FileRange> {
  for (const f of plan) {
    if (f.size < MIN_FILE_SIZE) throw new LtxError("LTX_TRUNCATED", `file of ${f.size} bytes is too short to be an LTX file`, { file: f.key, offset: 0 });
  }
  // Every first range must hold the 100-byte header.
  const step = Math.max(rangeBytes, 128);
  type Step = { file: LtxFileInfo; planIndex: number; offset: number; length: number; last: boolean };
  function* steps(): Generator<Step> {
    for (const [planIndex, file] of plan.entries()) {
      for (const r of splitRanges(file.size, step)) yield { file, planIndex, ...r, last: r.offset + r.length === file.size };
    }
  }
  // The longest range: a step plus a trailer never split off.
  const buffers = readInto ? [0, 1, 2].map(() => new Uint8Array(step + TRAILER_SIZE - 1)) : [];
  let n = 0;
  const read = (s: Step): Promise<Uint8Array> => {
    const dst = buffers[n++ % 3]?.subarray(0, s.length);
    return readInto && dst ? readInto(s.file, s.offset, dst).then(() => dst) : readExact(replica, s.file, s.offset, s.length);
  };
  const start = (s: Step): Promise<FileRange> => {
    const wantTail = s.offset === 0 && !s.last;
    const tail = wantTail ? readExact(replica, s.file, s.file.size - INDEX_LENGTH_TAIL, INDEX_LENGTH_TAIL) : Promise.resolve(null);
    const body = read(s);
    const p = Promise.all([body, tail]).then(([bytes, t]) => ({ file: s.file, planIndex: s.planIndex, offset: s.offset, bytes, last: s.last, tail: t }));
    // The caller may stop (a bad file) before awaiting this read: never an unhandled rejection.
    p.catch(() => undefined);
    return p;
  };
  const it = steps();
  let s = it.next();
  let ahead = s.done ? null : start(s.value);
  while (ahead) {
    const current = await ahead;
    s = it.next();
    ahead = s.done ? null : start(s.value);
    yield current;
  }
}
