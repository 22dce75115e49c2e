/**
 * @module
 * Big-endian integer helpers over Uint8Array, and unsigned LEB128 varints as
 * Go's encoding/binary writes them.
 */

export function readU16(b: Uint8Array, off: number): number {
  return ((b[off] ?? 0) << 8) | (b[off + 1] ?? 0);
}

export function readU32(b: Uint8Array, off: number): number {
  return (((b[off] ?? 0) << 24) | ((b[off + 1] ?? 0) << 16) | ((b[off + 2] ?? 0) << 8) | (b[off + 3] ?? 0)) >>> 0;
}

/** Reads a u64 as a bigint. */
export function readU64(b: Uint8Array, off: number): bigint {
  return (BigInt(readU32(b, off)) << 32n) | BigInt(readU32(b, off + 4));
}

/** Reads a u64 as a number, or returns -1 when it exceeds 2^53 - 1. */
export function readU64Number(b: Uint8Array, off: number): number {
  const hi = readU32(b, off);
  if (hi > 0x1fffff) return -1;
  return hi * 0x1_0000_0000 + readU32(b, off + 4);
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function writeU64(b: Uint8Array, off: number, v: bigint | number): void {
  const big = BigInt(v) & 0xffff_ffff_ffff_ffffn;
  writeU32(b, off, Number(big >> 32n));
  writeU32(b, off + 4, Number(big & 0xffff_ffffn));
}

/** Result of a varint read: the value and the offset after it, or null when truncated/overlong. */
export function readUvarint(b: Uint8Array, off: number, end: number): { value: number; next: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (off + i >= end) return null;
    const byte = b[off + i] ?? 0;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      // Values beyond 2^53 cannot be offsets/sizes/pgnos in anything we can serve.
      if (!Number.isSafeInteger(value)) return null;
      return { value, next: off + i + 1 };
    }
    scale *= 128;
  }
  return null;
}

/** Appends an unsigned varint to `out`. */
export function pushUvarint(out: number[], v: number): void {
  let x = v;
  while (x >= 0x80) {
    out.push((x % 128) | 0x80);
    x = Math.floor(x / 128);
  }
  out.push(x);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
