/**
 * @module
 * The page index at the tail of an LTX file (spec §7): varint triples
 * (pgno, offset, size), a 0x00 terminator, then a u64 BE length, then the
 * 16-byte trailer. Decoded into typed arrays because a 1 GiB snapshot has
 * 262,144 entries.
 */
import { pushUvarint, readU64Number, readUvarint, writeU64 } from "./bytes.ts";
import { LtxError } from "./errors.ts";
import { HEADER_SIZE, PAGE_HEADER_SIZE, TRAILER_SIZE, lockPgno } from "./header.ts";

/** Entries of one file's page index, in ascending pgno order. */
export interface FileIndex {
  readonly count: number;
  readonly pgno: Uint32Array;
  /** Absolute byte offset of each page frame in the file. */
  readonly offset: Float64Array;
  /** Full frame length (page header + size prefix + payload). */
  readonly size: Uint32Array;
}

/** How much of the tail to read in one request to usually get the whole index. */
export const DEFAULT_INDEX_SUFFIX = 64 * 1024;

/** Smallest valid v3 file: header, zero page header, 1-byte index, length, trailer. */
export const MIN_FILE_SIZE = HEADER_SIZE + PAGE_HEADER_SIZE + 1 + 8 + TRAILER_SIZE;

/**
 * Given the last `tail.length` bytes of a file of `fileSize` bytes, returns the
 * absolute [start, end) of the index entry bytes (terminator included), which
 * may start before the tail (then the caller reads more).
 */
export function locateFileIndex(tail: Uint8Array, fileSize: number, file?: string): { start: number; end: number } {
  if (fileSize < MIN_FILE_SIZE) {
    throw new LtxError("LTX_TRUNCATED", `file of ${fileSize} bytes is too short to hold an LTX page index`, { file, offset: 0 });
  }
  if (tail.length < 24) throw new LtxError("LTX_TRUNCATED", "tail too short to hold the page index length", { file, offset: fileSize - tail.length });
  const lenOff = tail.length - 24;
  const length = readU64Number(tail, lenOff);
  const absLenOff = fileSize - 24;
  if (length < 1 || length > absLenOff - HEADER_SIZE - PAGE_HEADER_SIZE) {
    throw new LtxError("LTX_BAD_INDEX", `page index length ${length} out of range for a ${fileSize}-byte file`, { file, offset: absLenOff });
  }
  return { start: absLenOff - length, end: absLenOff };
}

/**
 * Decodes index bytes. `bytes[0]` is at absolute offset `absStart`, and the
 * entries end at `absEnd` (the terminator is the byte before it). Validates
 * ordering, bounds and overlap; `commit`/`pageSize` (from the header) add the
 * pgno ≤ Commit and lock-page checks when given.
 */
export function decodeFileIndex(
  bytes: Uint8Array,
  absStart: number,
  absEnd: number,
  opts: { file?: string; commit?: number; pageSize?: number } = {},
): FileIndex {
  const { file } = opts;
  const rel = (abs: number) => abs - absStart;
  if (absStart < 0 || rel(absEnd) > bytes.length || absEnd <= absStart) {
    throw new LtxError("LTX_TRUNCATED", "page index bytes not fully present", { file, offset: absStart });
  }
  if (bytes[rel(absEnd) - 1] !== 0) {
    throw new LtxError("LTX_BAD_INDEX", "page index does not end with a zero terminator", { file, offset: absEnd - 1 });
  }
  // Frames must end before the zero page header that precedes the index.
  const framesEnd = absStart - PAGE_HEADER_SIZE;
  const lock = opts.pageSize !== undefined ? lockPgno(opts.pageSize) : 0;
  let cap = 64;
  let pgno = new Uint32Array(cap);
  let offset = new Float64Array(cap);
  let size = new Uint32Array(cap);
  let count = 0;
  let pos = rel(absStart);
  const end = rel(absEnd);
  let prevPgno = 0;
  let prevEnd = HEADER_SIZE;
  for (;;) {
    const p = readUvarint(bytes, pos, end);
    if (!p) throw new LtxError("LTX_BAD_INDEX", "truncated or overlong varint in page index", { file, offset: absStart + pos });
    if (p.value === 0) {
      if (p.next !== end) throw new LtxError("LTX_BAD_INDEX", "bytes after the page index terminator", { file, offset: absStart + p.next });
      break;
    }
    const entryAt = absStart + pos;
    const o = readUvarint(bytes, p.next, end);
    const s = o ? readUvarint(bytes, o.next, end) : null;
    if (!o || !s) throw new LtxError("LTX_BAD_INDEX", "truncated page index entry", { file, offset: entryAt });
    if (p.value > 0xffffffff || p.value <= prevPgno) {
      throw new LtxError("LTX_BAD_INDEX", `page numbers not strictly ascending (${p.value} after ${prevPgno})`, { file, offset: entryAt });
    }
    if (opts.commit !== undefined && p.value > opts.commit) {
      throw new LtxError("LTX_BAD_INDEX", `page ${p.value} beyond commit ${opts.commit}`, { file, offset: entryAt });
    }
    if (p.value === lock) throw new LtxError("LTX_BAD_INDEX", `lock page ${lock} present in page index`, { file, offset: entryAt });
    if (o.value < prevEnd || s.value < PAGE_HEADER_SIZE + 4 || o.value + s.value > framesEnd) {
      throw new LtxError("LTX_BAD_INDEX", `page ${p.value} frame [${o.value}, +${s.value}) out of bounds or overlapping`, {
        file,
        offset: entryAt,
      });
    }
    if (count === cap) {
      cap *= 2;
      const np = new Uint32Array(cap);
      np.set(pgno);
      pgno = np;
      const no = new Float64Array(cap);
      no.set(offset);
      offset = no;
      const ns = new Uint32Array(cap);
      ns.set(size);
      size = ns;
    }
    pgno[count] = p.value;
    offset[count] = o.value;
    size[count] = s.value;
    count++;
    prevPgno = p.value;
    prevEnd = o.value + s.value;
    pos = s.next;
  }
  return { count, pgno: pgno.subarray(0, count), offset: offset.subarray(0, count), size: size.subarray(0, count) };
}

/** Convenience: decode the index from a tail that contains all of it. */
export function decodeFileIndexFromTail(
  tail: Uint8Array,
  fileSize: number,
  opts: { file?: string; commit?: number; pageSize?: number } = {},
): FileIndex {
  const { start, end } = locateFileIndex(tail, fileSize, opts.file);
  const tailStart = fileSize - tail.length;
  if (start < tailStart) throw new LtxError("LTX_TRUNCATED", "page index starts before the bytes read", { file: opts.file, offset: start });
  return decodeFileIndex(tail.subarray(start - tailStart), start, end, opts);
}

/**
 * The bytes a file stores for its page index: varint triples, the 0x00
 * terminator and the u64 BE length of both (spec §7.1) — everything between
 * the zero page header and the trailer.
 */
export function encodeFileIndex(fi: FileIndex): Uint8Array {
  const idx: number[] = [];
  for (let i = 0; i < fi.count; i++) {
    pushUvarint(idx, fi.pgno[i] ?? 0);
    pushUvarint(idx, fi.offset[i] ?? 0);
    pushUvarint(idx, fi.size[i] ?? 0);
  }
  idx.push(0);
  const out = new Uint8Array(idx.length + 8);
  out.set(idx, 0);
  writeU64(out, idx.length, idx.length);
  return out;
}
