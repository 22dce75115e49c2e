/**
 * @module
 * xxHash32 (Yann Collet's XXH32), as used by the LZ4 frame format for the
 * header checksum byte, optional block checksums and the content checksum
 * (LTX spec §6.3). Pure JS: runs unchanged in Node and workerd.
 *
 * All arithmetic is done on uint32 values with `Math.imul`, so nothing is
 * allocated and no floating point rounding can creep in.
 */

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Little-endian uint32 at `i` (caller guarantees 4 readable bytes). */
function u32le(d: Uint8Array, i: number): number {
  return (d[i]! | (d[i + 1]! << 8) | (d[i + 2]! << 16) | (d[i + 3]! << 24)) >>> 0;
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

/**
 * xxHash32 of `data[start, end)` with `seed` (default 0).
 * Returns the unsigned 32-bit hash.
 */
export function xxhash32(data: Uint8Array, seed = 0, start = 0, end: number = data.length): number {
  if (start < 0 || end > data.length || start > end) {
    throw new RangeError(`xxhash32: range [${start}, ${end}) outside buffer of ${data.length} bytes`);
  }
  const len = end - start;
  let i = start;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = end - 16;
    while (i <= limit) {
      v1 = round(v1, u32le(data, i));
      v2 = round(v2, u32le(data, i + 4));
      v3 = round(v3, u32le(data, i + 8));
      v4 = round(v4, u32le(data, i + 12));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  // The total length is mixed in modulo 2^32, as the reference does.
  h = (h + len) | 0;
  while (i + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(u32le(data, i), P3)) | 0, 17), P4);
    i += 4;
  }
  while (i < end) {
    h = Math.imul(rotl((h + Math.imul(data[i]!, P5)) | 0, 11), P1);
    i++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}
