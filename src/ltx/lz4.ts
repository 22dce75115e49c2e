/**
 * @module
 * Pure-TypeScript LZ4: raw block decode/encode and the frame format as used by
 * LTX page frames (LTX spec §6). No Node or Workers APIs, so the same code runs
 * in Node and workerd.
 *
 * The block decoder is on the hot path of every page read: it is a single loop
 * over Uint8Arrays (allocating only a subarray view for literal runs of 64+
 * bytes), and every length and offset read from the input is bounds-checked
 * before use, so hostile input can only make it throw {@link LtxError}
 * `LTX_BAD_LZ4`, never read or write out of range or loop without consuming
 * input. Short copies are done 8 bytes at a time ("wild copy", as in the C
 * reference), so up to 7 bytes of `dst` past the returned length may be
 * scribbled on; nothing outside `dst` is ever written.
 *
 * Error offsets are indices into the `src` buffer passed in; callers re-base
 * them to file offsets (see {@link LtxError.withFile}).
 */

import { LtxError } from "./errors.ts";
import { xxhash32 } from "./xxhash32.ts";

const MIN_MATCH = 4;
/** The last 5 bytes of a block are always literals (LZ4 block format). */
const LAST_LITERALS = 5;
/** The last match must start at least 12 bytes before the end of the block. */
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;

/** Literal runs at least this long are copied natively (see the decoder). */
const LITERAL_VIEW_MIN = 64;
/** Matches at least this long use copyWithin/fill; shorter ones a JS loop. */
const MATCH_BULK_MIN = 32;

const FRAME_MAGIC = 0x184d2204;
const FRAME_MAX_BLOCK_SIZE = 65536;

function bad(message: string, offset: number): LtxError {
  return new LtxError("LTX_BAD_LZ4", message, { offset });
}

function checkRange(what: string, buf: Uint8Array, start: number, end: number): void {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= buf.length)) {
    throw new RangeError(`${what}: range [${start}, ${end}) outside buffer of ${buf.length} bytes`);
  }
}

/**
 * Core block decoder: decodes src[start,end) into dst[dStart, dLimit).
 * Matches may reach back to `histStart` (dStart for independent blocks, 0 for
 * linked frame blocks). Returns the end position in dst.
 */
function decodeBlockInto(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  dStart: number,
  dLimit: number,
  histStart: number,
): number {
  let s = start;
  let d = dStart;
  if (s >= end) throw bad("empty LZ4 block", s);
  for (;;) {
    if (s >= end) throw bad("LZ4 block ends after a match instead of a final literal run", s);
    const tokenPos = s;
    const token = src[s++]!;

    // Literal run.
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= end) throw bad("truncated LZ4 literal length", s);
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (lit > 0) {
      if (lit > end - s) throw bad(`truncated LZ4 literals: need ${lit} bytes, have ${end - s}`, s);
      if (lit > dLimit - d) throw bad("LZ4 literals overflow the output buffer", tokenPos);
      if (lit < LITERAL_VIEW_MIN && end - s >= lit + 8 && dLimit - d >= lit + 8) {
        // Wild copy in 8-byte steps (no per-byte loop branch). It may run up
        // to 7 bytes past the literals, into output that later sequences
        // overwrite; the slack check keeps it inside src[..end) and dLimit.
        const litEnd = d + lit;
        do {
          dst[d] = src[s]!;
          dst[d + 1] = src[s + 1]!;
          dst[d + 2] = src[s + 2]!;
          dst[d + 3] = src[s + 3]!;
          dst[d + 4] = src[s + 4]!;
          dst[d + 5] = src[s + 5]!;
          dst[d + 6] = src[s + 6]!;
          dst[d + 7] = src[s + 7]!;
          d += 8;
          s += 8;
        } while (d < litEnd);
        s -= d - litEnd;
        d = litEnd;
      } else if (lit >= LITERAL_VIEW_MIN) {
        // Native memcpy. The subarray view is the decoder's only allocation:
        // there is no allocation-free bulk copy between two typed arrays, and
        // a JS loop is ~30x slower on incompressible pages (one long run).
        dst.set(src.subarray(s, s + lit), d);
        s += lit;
        d += lit;
      } else {
        const litEnd = s + lit;
        while (s < litEnd) dst[d++] = src[s++]!;
      }
    }
    // The last sequence is literals only and ends exactly at the input end.
    if (s === end) return d;

    // Match.
    if (end - s < 2) throw bad("truncated LZ4 match offset", s);
    const offPos = s;
    const off = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (off === 0) throw bad("LZ4 match offset 0", offPos);
    if (off > d - histStart) throw bad(`LZ4 match offset ${off} beyond the ${d - histStart} bytes produced`, offPos);
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (s >= end) throw bad("truncated LZ4 match length", s);
        b = src[s++]!;
        ml += b;
      } while (b === 255);
    }
    ml += MIN_MATCH;
    if (ml > dLimit - d) throw bad("LZ4 match overflows the output buffer", tokenPos);

    let m = d - off;
    if (ml < MATCH_BULK_MIN && dLimit - d >= ml + 8) {
      // Wild copy in 8-byte steps, forward byte by byte, which is also the
      // correct semantics for overlapping matches (offset < length). Bytes
      // written past the match are overwritten by later sequences.
      const mEnd = d + ml;
      do {
        dst[d] = dst[m]!;
        dst[d + 1] = dst[m + 1]!;
        dst[d + 2] = dst[m + 2]!;
        dst[d + 3] = dst[m + 3]!;
        dst[d + 4] = dst[m + 4]!;
        dst[d + 5] = dst[m + 5]!;
        dst[d + 6] = dst[m + 6]!;
        dst[d + 7] = dst[m + 7]!;
        d += 8;
        m += 8;
      } while (d < mEnd);
      d = mEnd;
    } else if (ml < MATCH_BULK_MIN) {
      // Near the end of the output there is no slack: exact byte loop.
      const mEnd = d + ml;
      while (d < mEnd) dst[d++] = dst[m++]!;
    } else if (off >= ml) {
      dst.copyWithin(d, m, m + ml);
      d += ml;
    } else if (off === 1) {
      // A run of one byte (the common "zero fill" case).
      dst.fill(dst[m]!, d, d + ml);
      d += ml;
    } else {
      // Overlapping copy of a period-`off` pattern: each copyWithin doubles the
      // already-written part, so chunks never overlap their own source.
      let left = ml;
      while (left > 0) {
        const chunk = Math.min(left, d - m);
        dst.copyWithin(d, m, m + chunk);
        d += chunk;
        left -= chunk;
      }
    }
  }
}

/**
 * Decodes one raw LZ4 block src[start,end) into dst starting at 0. Returns
 * bytes written. Throws LtxError LTX_BAD_LZ4 on: zero offset, offset beyond
 * output produced, output overflow past dst.length, truncated
 * literals/offset/length, input not ending exactly after a final literal run.
 * Bytes of dst past the returned length may be overwritten (scratch space).
 */
export function decodeLz4Block(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  checkRange("decodeLz4Block", src, start, end);
  return decodeBlockInto(src, start, end, dst, 0, dst.length, 0);
}

function u32le(d: Uint8Array, i: number): number {
  return (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24)) >>> 0;
}

function putU32le(d: Uint8Array, i: number, v: number): void {
  d[i] = v & 0xff;
  d[i + 1] = (v >>> 8) & 0xff;
  d[i + 2] = (v >>> 16) & 0xff;
  d[i + 3] = (v >>> 24) & 0xff;
}

/**
 * Decodes one LZ4 frame starting at src[start] (never reading at or past
 * `end`) into dst. Supports version 01, linked or independent blocks, the
 * optional content size, block checksums (over the stored bytes per the LZ4
 * spec, or over the decoded bytes as pierrec/lz4 writes them) and the content
 * checksum (all verified),
 * stored (bit 31) blocks and multiple data blocks up to the EndMark. Rejects
 * dictionary ids, reserved bits, unknown magic (including skippable frames).
 * Returns bytes consumed from src (through the content checksum) and bytes
 * produced into dst.
 */
export function decodeLz4Frame(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
): { consumed: number; produced: number } {
  checkRange("decodeLz4Frame", src, start, end);
  let p = start;
  if (end - p < 7) throw bad("truncated LZ4 frame header", p);
  const magic = u32le(src, p);
  if (magic !== FRAME_MAGIC) throw bad(`bad LZ4 frame magic 0x${magic.toString(16)}`, p);
  p += 4;
  const descStart = p;
  const flg = src[p]!;
  const bd = src[p + 1]!;
  if (flg >>> 6 !== 1) throw bad(`unsupported LZ4 frame version ${flg >>> 6}`, p);
  if ((flg & 0x02) !== 0) throw bad("reserved LZ4 FLG bit set", p);
  if ((flg & 0x01) !== 0) throw bad("LZ4 frame dictionary id is not supported", p);
  if ((bd & 0x8f) !== 0) throw bad("reserved LZ4 BD bits set", p + 1);
  const sizeIndex = (bd >>> 4) & 7;
  if (sizeIndex < 4) throw bad(`invalid LZ4 block max size index ${sizeIndex}`, p + 1);
  const blockMax = 1 << (8 + 2 * sizeIndex);
  const independent = (flg & 0x20) !== 0;
  const blockChecksums = (flg & 0x10) !== 0;
  const hasContentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  p += 2;

  let contentSize = -1;
  if (hasContentSize) {
    if (end - p < 9) throw bad("truncated LZ4 frame content size", p);
    const lo = u32le(src, p);
    const hi = u32le(src, p + 4);
    // Anything >= 2^32 cannot fit any buffer we decode into; keep it as a sentinel.
    contentSize = hi === 0 ? lo : Number.MAX_SAFE_INTEGER;
    if (contentSize > dst.length) throw bad(`LZ4 frame content size ${contentSize} exceeds the output buffer`, p);
    p += 8;
  }
  const hc = (xxhash32(src, 0, descStart, p) >>> 8) & 0xff;
  if (src[p] !== hc) throw bad("LZ4 frame header checksum mismatch", p);
  p += 1;

  let d = 0;
  for (;;) {
    if (end - p < 4) throw bad("truncated LZ4 frame: missing block size or EndMark", p);
    const word = u32le(src, p);
    const wordPos = p;
    p += 4;
    if (word === 0) break; // EndMark
    const stored = word >= 0x80000000;
    const size = word & 0x7fffffff;
    if (size > blockMax) throw bad(`LZ4 block size ${size} exceeds frame maximum ${blockMax}`, wordPos);
    if (size > end - p) throw bad(`truncated LZ4 frame block: need ${size} bytes, have ${end - p}`, p);
    const blockEnd = p + size;
    if (blockChecksums && end - blockEnd < 4) throw bad("truncated LZ4 block checksum", blockEnd);
    const blockOut = d;
    if (stored) {
      if (size > dst.length - d) throw bad("stored LZ4 block overflows the output buffer", wordPos);
      dst.set(src.subarray(p, blockEnd), d);
      d += size;
    } else {
      const limit = Math.min(dst.length, d + blockMax);
      d = decodeBlockInto(src, p, blockEnd, dst, d, limit, independent ? d : 0);
    }
    if (blockChecksums) {
      // The LZ4 spec hashes the stored block bytes; pierrec/lz4 hashes the
      // decoded bytes instead. Accept either so both writers' frames decode.
      const want = u32le(src, blockEnd);
      if (xxhash32(src, 0, p, blockEnd) !== want && xxhash32(dst, 0, blockOut, d) !== want) {
        throw bad("LZ4 block checksum mismatch", blockEnd);
      }
    }
    p = blockChecksums ? blockEnd + 4 : blockEnd;
  }

  if (contentSize >= 0 && d !== contentSize) {
    throw bad(`LZ4 frame produced ${d} bytes but declares content size ${contentSize}`, p);
  }
  if (contentChecksum) {
    if (end - p < 4) throw bad("truncated LZ4 frame content checksum", p);
    const want = u32le(src, p);
    const got = xxhash32(dst, 0, 0, d);
    if (got !== want) {
      throw bad(`LZ4 frame content checksum mismatch: got 0x${got.toString(16)}, stored 0x${want.toString(16)}`, p);
    }
    p += 4;
  }
  return { consumed: p - start, produced: d };
}

/** Hash-table size for the block encoder (positions keyed by 4-byte sequences). */
const HASH_LOG = 14;
/** Reused across calls (single-threaded); stores position + 1, 0 = empty. */
const hashTable = new Int32Array(1 << HASH_LOG);

function hash4(seq: number): number {
  return Math.imul(seq, 0x9e3779b1) >>> (32 - HASH_LOG);
}

/** Writes an LZ4 length extension for `n` (already minus 15); returns the new position. */
function putLenExt(out: Uint8Array, o: number, n: number): number {
  while (n >= 255) {
    out[o++] = 255;
    n -= 255;
  }
  out[o++] = n;
  return o;
}

function putSequence(
  out: Uint8Array,
  o: number,
  src: Uint8Array,
  litStart: number,
  litLen: number,
  offset: number,
  matchLen: number,
): number {
  const tokenPos = o++;
  let token = 0;
  if (litLen >= 15) {
    token = 0xf0;
    o = putLenExt(out, o, litLen - 15);
  } else {
    token = litLen << 4;
  }
  out.set(src.subarray(litStart, litStart + litLen), o);
  o += litLen;
  if (matchLen > 0) {
    out[o++] = offset & 0xff;
    out[o++] = offset >>> 8;
    const code = matchLen - MIN_MATCH;
    if (code >= 15) {
      token |= 15;
      o = putLenExt(out, o, code - 15);
    } else {
      token |= code;
    }
  }
  out[tokenPos] = token;
  return o;
}

/**
 * Compresses `src` into a valid raw LZ4 block (greedy hash-table matcher, like
 * LZ4 fast). Obeys the end-of-block rules (last 5 bytes are literals, last match
 * starts at least 12 bytes before the end) so any standard decoder accepts it.
 * Returns a new Uint8Array of exactly the compressed length. Incompressible
 * input gives a literal-only block.
 */
export function encodeLz4Block(src: Uint8Array): Uint8Array {
  const n = src.length;
  const out = new Uint8Array(n + Math.floor(n / 255) + 16);
  let o = 0;
  let anchor = 0;
  if (n > MF_LIMIT) {
    const table = hashTable;
    table.fill(0);
    const lastMatchStart = n - MF_LIMIT; // inclusive
    const matchEndLimit = n - LAST_LITERALS;
    let ip = 0;
    while (ip <= lastMatchStart) {
      const seq = src[ip]! | (src[ip + 1]! << 8) | (src[ip + 2]! << 16) | (src[ip + 3]! << 24);
      const h = hash4(seq);
      const ref = table[h]! - 1;
      table[h] = ip + 1;
      if (
        ref >= 0 &&
        ip - ref <= MAX_OFFSET &&
        (src[ref]! | (src[ref + 1]! << 8) | (src[ref + 2]! << 16) | (src[ref + 3]! << 24)) === seq
      ) {
        const offset = ip - ref;
        // Extend backwards over pending literals, then forwards.
        let ms = ip;
        let r = ref;
        while (ms > anchor && r > 0 && src[ms - 1] === src[r - 1]) {
          ms--;
          r--;
        }
        let me = ip + MIN_MATCH;
        while (me < matchEndLimit && src[me] === src[me - offset]) me++;
        o = putSequence(out, o, src, anchor, ms - anchor, offset, me - ms);
        anchor = me;
        ip = me;
        // Index a position inside the match so the next sequence can chain onto it.
        if (me - 2 <= lastMatchStart) {
          const p = me - 2;
          table[hash4(src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24))] = p + 1;
        }
        continue;
      }
      // Skip faster through incompressible stretches, like LZ4 fast.
      ip += 1 + ((ip - anchor) >>> 6);
    }
  }
  o = putSequence(out, o, src, anchor, n - anchor, 0, 0);
  return out.slice(0, o);
}

/** Frame header as written by pierrec/lz4 for ltx pages: magic, FLG 0x64, BD 0x40, HC 0xA7. */
const PAGE_FRAME_HEADER = [0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7] as const;

/**
 * Writes one LZ4 frame as pierrec/lz4 does for ltx v0.5.1 pages (spec §6.3):
 * FLG 0x64, BD 0x40, header checksum, one block (stored with bit 31 set when
 * compression does not shrink it), EndMark, xxHash32 content checksum.
 * Input length must be <= 65536.
 */
export function encodeLz4Frame(src: Uint8Array): Uint8Array {
  if (src.length > FRAME_MAX_BLOCK_SIZE) {
    throw new RangeError(`encodeLz4Frame: input of ${src.length} bytes exceeds one 64 KiB block`);
  }
  const block = src.length > 0 ? encodeLz4Block(src) : new Uint8Array(0);
  // pierrec keeps the compressed block only if it is strictly smaller.
  const stored = block.length >= src.length;
  const payload = stored ? src : block;
  const hasBlock = src.length > 0;
  const out = new Uint8Array(7 + (hasBlock ? 4 + payload.length : 0) + 8);
  out.set(PAGE_FRAME_HEADER, 0);
  let o = 7;
  if (hasBlock) {
    putU32le(out, o, (payload.length | (stored ? 0x80000000 : 0)) >>> 0);
    o += 4;
    out.set(payload, o);
    o += payload.length;
  }
  putU32le(out, o, 0); // EndMark
  o += 4;
  putU32le(out, o, xxhash32(src));
  return out;
}
