/**
 * @module
 * Binary form of {@link PageEntries} for Durable Object storage rows:
 * `"LPE1"`, u32 count, then the five arrays back to back (little-endian,
 * the byte order of every platform Workers run on).
 */
import type { PageEntries } from "./page-index.ts";

/** Pages per stored row: ≈ 112 KiB of entries, far below DO storage's 2 MB row limit. */
export const CHUNK_PAGES = 4096;

const MAGIC = 0x3145504c; // "LPE1" read as little-endian u32

/** Bytes needed for `n` entries. */
export function entriesByteLength(n: number): number {
  return 8 + n * (4 + 4 + 4 + 8 + 8);
}

export function emptyEntries(): PageEntries {
  return { pgno: new Uint32Array(0), fileId: new Uint32Array(0), size: new Uint32Array(0), offset: new Float64Array(0), setAt: new Float64Array(0) };
}

export function encodeEntries(e: PageEntries): Uint8Array {
  const n = e.pgno.length;
  const out = new Uint8Array(entriesByteLength(n));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, n, true);
  let o = 8;
  for (const arr of [e.pgno, e.fileId, e.size, e.offset, e.setAt]) {
    out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), o);
    o += arr.byteLength;
  }
  return out;
}

export function decodeEntries(bytes: Uint8Array): PageEntries {
  if (bytes.length < 8) throw new RangeError("page entries: too short");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw new RangeError("page entries: bad magic");
  const n = dv.getUint32(4, true);
  if (bytes.length !== entriesByteLength(n)) throw new RangeError(`page entries: ${bytes.length} bytes for ${n} entries`);
  // Copy into fresh buffers so typed-array views are aligned.
  const take = (from: number, len: number) => bytes.slice(from, from + len).buffer;
  let o = 8;
  const pgno = new Uint32Array(take(o, 4 * n));
  o += 4 * n;
  const fileId = new Uint32Array(take(o, 4 * n));
  o += 4 * n;
  const size = new Uint32Array(take(o, 4 * n));
  o += 4 * n;
  const offset = new Float64Array(take(o, 8 * n));
  o += 8 * n;
  const setAt = new Float64Array(take(o, 8 * n));
  return { pgno, fileId, size, offset, setAt };
}
