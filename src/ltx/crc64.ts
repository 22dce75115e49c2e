/**
 * @module
 * CRC-64/GO-ISO: Go's `hash/crc64` with the `crc64.ISO` table, the checksum of
 * every LTX checksum field (LTX spec §9.3). Reflected polynomial
 * 0xD800000000000000, init and final XOR all ones.
 *
 * BigInt arithmetic per byte would be orders of magnitude too slow for
 * multi-MB restores, so the 64-bit state is kept as two uint32 halves and the
 * input is consumed 8 bytes at a time with slicing-by-8 tables. A bigint is
 * only built in {@link Crc64.digest}.
 */

/** Bit 63: set on every stored LTX checksum so that a valid one is never 0. */
export const CHECKSUM_FLAG: bigint = 1n << 63n;

/** High 32 bits of the reflected ISO polynomial (its low half is zero). */
const POLY_HI = 0xd8000000;

/**
 * Slicing tables, table k at [k * 256, k * 256 + 256): entry k,i is the CRC
 * register contribution of byte i followed by k zero bytes. Split into halves.
 */
const T_LO = new Uint32Array(8 * 256);
const T_HI = new Uint32Array(8 * 256);

(function buildTables(): void {
  for (let i = 0; i < 256; i++) {
    let lo = i;
    let hi = 0;
    for (let b = 0; b < 8; b++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi >>>= 1;
      if (carry !== 0) hi = (hi ^ POLY_HI) >>> 0;
    }
    T_LO[i] = lo;
    T_HI[i] = hi;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const plo = T_LO[(k - 1) * 256 + i]!;
      const phi = T_HI[(k - 1) * 256 + i]!;
      const idx = plo & 0xff;
      // (prev >> 8) ^ T0[prev & 0xff]
      T_LO[k * 256 + i] = (((plo >>> 8) | (phi << 24)) ^ T_LO[idx]!) >>> 0;
      T_HI[k * 256 + i] = ((phi >>> 8) ^ T_HI[idx]!) >>> 0;
    }
  }
})();

/** The register of a CRC in progress, as two uint32 halves (JSON- and SQL-safe, to persist). */
export interface CrcState {
  lo: number;
  hi: number;
}

/** Incremental CRC-64/GO-ISO. `update` may be called any number of times. */
export class Crc64 {
  // Register state (already inverted, i.e. init = all ones), as uint32 halves.
  private lo = 0xffffffff;
  private hi = 0xffffffff;

  /** Continues a CRC from a saved {@link state} (e.g. a verification resumed after a restart). */
  static resume(state: CrcState): Crc64 {
    const c = new Crc64();
    c.lo = state.lo >>> 0;
    c.hi = state.hi >>> 0;
    return c;
  }

  /** The register now; {@link resume} continues from it. */
  get state(): CrcState {
    return { lo: this.lo, hi: this.hi };
  }

  /** Feeds `data[start, end)` into the CRC. */
  update(data: Uint8Array, start = 0, end: number = data.length): this {
    if (start < 0 || end > data.length || start > end) {
      throw new RangeError(`Crc64.update: range [${start}, ${end}) outside buffer of ${data.length} bytes`);
    }
    let lo = this.lo;
    let hi = this.hi;
    let i = start;
    const tl = T_LO;
    const th = T_HI;
    const end8 = end - 8;
    while (i <= end8) {
      const a = lo ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
      const b = hi ^ (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24));
      const i7 = 0x700 | (a & 0xff);
      const i6 = 0x600 | ((a >>> 8) & 0xff);
      const i5 = 0x500 | ((a >>> 16) & 0xff);
      const i4 = 0x400 | (a >>> 24);
      const i3 = 0x300 | (b & 0xff);
      const i2 = 0x200 | ((b >>> 8) & 0xff);
      const i1 = 0x100 | ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      // Tables 0-2 have all-zero low halves for this polynomial (its set bits
      // are all in the top byte), so their low lookups are skipped.
      lo = tl[i7]! ^ tl[i6]! ^ tl[i5]! ^ tl[i4]! ^ tl[i3]!;
      hi = th[i7]! ^ th[i6]! ^ th[i5]! ^ th[i4]! ^ th[i3]! ^ th[i2]! ^ th[i1]! ^ th[i0]!;
      i += 8;
    }
    while (i < end) {
      const idx = (lo ^ data[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ tl[idx]!;
      hi = (hi >>> 8) ^ th[idx]!;
      i++;
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  /** The CRC of everything fed so far (without {@link CHECKSUM_FLAG}). Does not reset. */
  digest(): bigint {
    return (BigInt(~this.hi >>> 0) << 32n) | BigInt(~this.lo >>> 0);
  }
}

/** One-shot CRC-64/GO-ISO of `data`. */
export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).digest();
}
