/**
 * @module
 * The page index of an LTX file (spec §7), decoded incrementally: a 100 GB
 * database's snapshot has a ~260 MB index, which must be read in bounded
 * ranges and turned into entries without ever holding all of it.
 *
 * {@link FileIndexDecoder} takes consecutive byte ranges of the index in any
 * sizes and returns the entries each one completes (a triple cut by a range
 * boundary waits for the next range); {@link streamFileIndex} drives it with
 * range reads. Validation is the one of `decodeFileIndex`: strictly
 * ascending pgnos, frames inside the file and not overlapping, pgno ≤ Commit,
 * never the lock page, and exactly one terminator at the very end.
 */
import { LtxError } from "./errors.ts";
import type { FileIndex } from "./file-index.ts";
import { HEADER_SIZE, PAGE_HEADER_SIZE, lockPgno } from "./header.ts";

export interface IndexDecodeOptions {
  /** File name for error messages. */
  file?: string;
  /** The header's Commit: no entry may exceed it. */
  commit?: number;
  /** The header's page size: the lock page may not appear. */
  pageSize?: number;
}

/** Longest unsigned varint (64 bits in 7-bit groups). */
const MAX_VARINT = 10;

export class FileIndexDecoder {
  readonly #absEnd: number;
  readonly #opts: IndexDecodeOptions;
  readonly #framesEnd: number;
  readonly #lock: number;
  /** Absolute offset of the next byte to decode. */
  #pos: number;
  /** Undecoded bytes carried over from the previous push (a partial triple). */
  #carry: Uint8Array = new Uint8Array(0);
  #prevPgno = 0;
  #prevEnd = HEADER_SIZE;
  #done = false;

  /** The index occupies [absStart, absEnd) of the file; absEnd - 1 is the terminator. */
  constructor(absStart: number, absEnd: number, opts: IndexDecodeOptions = {}) {
    if (absStart < 0 || absEnd <= absStart) throw new LtxError("LTX_BAD_INDEX", `empty or negative page index range [${absStart}, ${absEnd})`, { file: opts.file, offset: absStart });
    this.#absEnd = absEnd;
    this.#opts = opts;
    this.#framesEnd = absStart - PAGE_HEADER_SIZE;
    this.#lock = opts.pageSize !== undefined ? lockPgno(opts.pageSize) : 0;
    this.#pos = absStart;
  }

  /** True once the terminator was decoded (and it was the last byte). */
  get done(): boolean {
    return this.#done;
  }

  /** Absolute offset of the first byte not yet pushed. */
  get nextOffset(): number {
    return this.#pos + this.#carry.length;
  }

  /**
   * Decodes the next bytes of the index (they must start at {@link nextOffset}).
   * Returns the entries they complete, in pgno order.
   */
  push(chunk: Uint8Array): FileIndex {
    const { file } = this.#opts;
    if (this.#done) {
      if (chunk.length === 0) return emptyIndex();
      throw new LtxError("LTX_BAD_INDEX", "bytes after the page index terminator", { file, offset: this.nextOffset });
    }
    const buf = this.#carry.length === 0 ? chunk : concat(this.#carry, chunk);
    const base = this.#pos; // absolute offset of buf[0]
    const bufEnd = base + buf.length;
    if (bufEnd > this.#absEnd) throw new LtxError("LTX_BAD_INDEX", "page index bytes beyond its recorded end", { file, offset: this.#absEnd });
    const last = bufEnd === this.#absEnd;
    const out = new Builder();
    let i = 0;
    for (;;) {
      const p = varint(buf, i);
      if (p === null) break; // need more bytes
      if (p === "overlong") throw this.#bad("overlong varint in page index", base + i);
      if (p.value === 0) {
        if (base + p.next !== this.#absEnd) throw this.#bad("bytes after the page index terminator", base + p.next);
        if (buf[p.next - 1] !== 0) throw this.#bad("page index does not end with a zero terminator", this.#absEnd - 1);
        this.#done = true;
        i = p.next;
        break;
      }
      const o = varint(buf, p.next);
      const s = o === null || o === "overlong" ? o : varint(buf, o.next);
      if (o === "overlong" || s === "overlong") throw this.#bad("overlong varint in page index", base + i);
      if (o === null || s === null) break; // need more bytes
      this.#check(p.value, o.value, s.value, base + i);
      out.push(p.value, o.value, s.value);
      i = s.next;
    }
    this.#pos = base + i;
    this.#carry = buf.slice(i);
    if (last && !this.#done) {
      throw this.#bad(this.#carry.length > 0 ? "truncated page index entry" : "page index does not end with a zero terminator", this.#pos);
    }
    if (this.#carry.length > 3 * MAX_VARINT) throw this.#bad("truncated or overlong page index entry", this.#pos);
    return out.build();
  }

  #check(pgno: number, offset: number, size: number, at: number): void {
    if (pgno > 0xffffffff || pgno <= this.#prevPgno) throw this.#bad(`page numbers not strictly ascending (${pgno} after ${this.#prevPgno})`, at);
    if (this.#opts.commit !== undefined && pgno > this.#opts.commit) throw this.#bad(`page ${pgno} beyond commit ${this.#opts.commit}`, at);
    if (pgno === this.#lock) throw this.#bad(`lock page ${this.#lock} present in page index`, at);
    if (offset < this.#prevEnd || size < PAGE_HEADER_SIZE + 4 || offset + size > this.#framesEnd) {
      throw this.#bad(`page ${pgno} frame [${offset}, +${size}) out of bounds or overlapping`, at);
    }
    this.#prevPgno = pgno;
    this.#prevEnd = offset + size;
  }

  #bad(message: string, offset: number): LtxError {
    return new LtxError("LTX_BAD_INDEX", message, { file: this.#opts.file, offset });
  }
}

/**
 * Streams the entries of the index at [start, end) of a file, reading at most
 * `rangeBytes` per request. Memory: one range plus the entries it decodes.
 */
export async function* streamFileIndex(
  read: (offset: number, length: number) => Promise<Uint8Array>,
  start: number,
  end: number,
  opts: IndexDecodeOptions = {},
  rangeBytes = 1024 * 1024,
): AsyncGenerator<FileIndex> {
  const dec = new FileIndexDecoder(start, end, opts);
  let at = start;
  while (at < end) {
    const len = Math.min(rangeBytes, end - at);
    const bytes = await read(at, len);
    if (bytes.length !== len) throw new LtxError("LTX_TRUNCATED", `short read of the page index: ${bytes.length} of ${len} bytes`, { file: opts.file, offset: at });
    at += len;
    const batch = dec.push(bytes);
    if (batch.count > 0) yield batch;
  }
  if (!dec.done) throw new LtxError("LTX_BAD_INDEX", "page index does not end with a zero terminator", { file: opts.file, offset: end - 1 });
}

/** A varint at `i`: its value and the index after it; null when the bytes end first; "overlong" past 10 bytes or 2^53. */
function varint(b: Uint8Array, i: number): { value: number; next: number } | null | "overlong" {
  let value = 0;
  let scale = 1;
  for (let k = 0; k < MAX_VARINT; k++) {
    if (i + k >= b.length) return null;
    const byte = b[i + k] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return Number.isSafeInteger(value) ? { value, next: i + k + 1 } : "overlong";
    scale *= 128;
  }
  return "overlong";
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function emptyIndex(): FileIndex {
  return { count: 0, pgno: new Uint32Array(0), offset: new Float64Array(0), size: new Uint32Array(0) };
}

/** Growable typed arrays for a batch of entries. */
class Builder {
  #pgno = new Uint32Array(256);
  #offset = new Float64Array(256);
  #size = new Uint32Array(256);
  #n = 0;

  push(pgno: number, offset: number, size: number): void {
    if (this.#n === this.#pgno.length) {
      const cap = this.#n * 2;
      const p = new Uint32Array(cap);
      p.set(this.#pgno);
      this.#pgno = p;
      const o = new Float64Array(cap);
      o.set(this.#offset);
      this.#offset = o;
      const s = new Uint32Array(cap);
      s.set(this.#size);
      this.#size = s;
    }
    this.#pgno[this.#n] = pgno;
    this.#offset[this.#n] = offset;
    this.#size[this.#n] = size;
    this.#n++;
  }

  build(): FileIndex {
    const n = this.#n;
    return { count: n, pgno: this.#pgno.subarray(0, n), offset: this.#offset.subarray(0, n), size: this.#size.subarray(0, n) };
  }
}
