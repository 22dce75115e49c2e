/**
 * @module
 * One chunk of the page index: the locations of {@link CHUNK_PAGES}
 * consecutive pages, in one binary format used everywhere — Durable Object
 * storage rows, RPC payloads and the Cache API. A chunk is self-contained (it
 * carries the LTX files its pages point into) and identified by a hash of
 * its bytes, so a chunk never changes under its id: isolates and colos cache
 * it forever, and identical chunks of two versions (or of a time-travel
 * index) are stored once. Pure TypeScript.
 *
 * Layout (little-endian):
 * ```
 *  0  u32  magic "LXC1"
 *  4  u32  chunk number (covers pgnos chunk*CHUNK_PAGES+1 …)
 *  8  u32  page size
 * 12  u32  count: pages covered (≤ CHUNK_PAGES; fewer in the last chunk)
 * 16  u32  byte length of the file table
 * 20  u32  0
 * 24  f64[count]  frame offsets
 *     u32[count]  frame sizes
 *     u16[count]  file number (1-based into the file table; 0 = no entry: the lock page)
 *     file table: UTF-8 JSON array of [key, etag, size, level, minTxid, maxTxid, epoch]
 * ```
 * The encoding is deterministic (the file table lists the files in use,
 * sorted), so equal contents give equal bytes and equal hashes.
 */

/** Pages per chunk: ≈ 57 KiB of entries, far below DO storage's 2 MB row limit. */
export const CHUNK_PAGES = 4096;

const MAGIC = 0x3143584c; // "LXC1" read as little-endian u32
const HEADER = 24;

/** An LTX file a chunk points into. `epoch` changes when a quarantined file is re-admitted. */
export interface ChunkFile {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly level: number;
  readonly minTxid: number;
  readonly maxTxid: number;
  readonly epoch: number;
}

export interface ChunkRef {
  file: ChunkFile;
  offset: number;
  size: number;
}

/** The chunk that holds page `pgno`. */
export function chunkOf(pgno: number): number {
  return Math.floor((pgno - 1) / CHUNK_PAGES);
}

/** Chunks of a database of `commit` pages. */
export function chunkCount(commit: number): number {
  return Math.ceil(commit / CHUNK_PAGES);
}

/** Pages chunk `chunkNo` covers in a database of `commit` pages. */
export function pagesIn(chunkNo: number, commit: number): number {
  return Math.max(0, Math.min(CHUNK_PAGES, commit - chunkNo * CHUNK_PAGES));
}

function fileKey(f: ChunkFile): string {
  return `${f.key}\n${f.etag}\n${f.epoch}`;
}

function compareFiles(a: ChunkFile, b: ChunkFile): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : a.etag < b.etag ? -1 : a.etag > b.etag ? 1 : a.epoch - b.epoch;
}

/**
 * A chunk being built or patched (the Durable Object's working form). Files
 * are interned per chunk; unused ones are dropped when encoding.
 */
export class ChunkData {
  readonly chunkNo: number;
  readonly pageSize: number;
  /** Pages covered. */
  count: number;
  readonly offsets = new Float64Array(CHUNK_PAGES);
  readonly sizes = new Uint32Array(CHUNK_PAGES);
  /** 1-based into {@link files}; 0 = no entry. */
  readonly fileNos = new Uint16Array(CHUNK_PAGES);
  readonly files: ChunkFile[] = [];
  readonly #fileNo = new Map<string, number>();

  constructor(chunkNo: number, pageSize: number, count: number) {
    if (count < 0 || count > CHUNK_PAGES) throw new RangeError(`chunk page count ${count} out of range`);
    this.chunkNo = chunkNo;
    this.pageSize = pageSize;
    this.count = count;
  }

  /** First pgno of the chunk. */
  get first(): number {
    return this.chunkNo * CHUNK_PAGES + 1;
  }

  #intern(f: ChunkFile): number {
    const k = fileKey(f);
    let n = this.#fileNo.get(k);
    if (n === undefined) {
      this.files.push(f);
      n = this.files.length;
      if (n > 0xffff) throw new RangeError("too many files in one chunk");
      this.#fileNo.set(k, n);
    }
    return n;
  }

  /** Points page `pgno` (inside this chunk) at a frame of `file`. */
  set(pgno: number, file: ChunkFile, offset: number, size: number): void {
    const i = pgno - this.first;
    if (i < 0 || i >= CHUNK_PAGES) throw new RangeError(`page ${pgno} is not in chunk ${this.chunkNo}`);
    if (i >= this.count) this.count = i + 1;
    this.fileNos[i] = this.#intern(file);
    this.offsets[i] = offset;
    this.sizes[i] = size;
  }

  /** Where page `pgno` lives in this chunk, or null. */
  get(pgno: number): ChunkRef | null {
    const i = pgno - this.first;
    if (i < 0 || i >= this.count) return null;
    const n = this.fileNos[i] ?? 0;
    const file = n === 0 ? undefined : this.files[n - 1];
    return file ? { file, offset: this.offsets[i] ?? 0, size: this.sizes[i] ?? 0 } : null;
  }

  /** Drops pages beyond Commit `commit` (a shrinking database). */
  truncate(commit: number): void {
    const keep = pagesIn(this.chunkNo, commit);
    if (keep >= this.count) return;
    this.fileNos.fill(0, keep);
    this.offsets.fill(0, keep);
    this.sizes.fill(0, keep);
    this.count = keep;
  }

  /** Pages of the chunk without an entry, except `skip` (the lock page). */
  missing(skip: number, limit = 10): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count && out.length < limit; i++) {
      const p = this.first + i;
      if (this.fileNos[i] === 0 && p !== skip) out.push(p);
    }
    return out;
  }

  /** The files pages of this chunk point into, with how many pages each. */
  fileUse(): Map<ChunkFile, number> {
    const n = new Uint32Array(this.files.length + 1);
    for (let i = 0; i < this.count; i++) {
      const k = this.fileNos[i] ?? 0;
      n[k] = (n[k] ?? 0) + 1;
    }
    const out = new Map<ChunkFile, number>();
    this.files.forEach((f, k) => {
      const c = n[k + 1] ?? 0;
      if (c > 0) out.set(f, c);
    });
    return out;
  }

  /** The canonical bytes (files in use only, sorted). */
  encode(): Uint8Array {
    const used = [...this.fileUse().keys()].sort(compareFiles);
    const renumber = new Uint16Array(this.files.length + 1);
    for (const [k, f] of used.entries()) renumber[(this.#fileNo.get(fileKey(f)) as number)] = k + 1;
    const table = new TextEncoder().encode(JSON.stringify(used.map((f) => [f.key, f.etag, f.size, f.level, f.minTxid, f.maxTxid, f.epoch])));
    const n = this.count;
    const out = new Uint8Array(HEADER + n * 14 + table.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, this.chunkNo, true);
    dv.setUint32(8, this.pageSize, true);
    dv.setUint32(12, n, true);
    dv.setUint32(16, table.length, true);
    new Float64Array(out.buffer, HEADER, n).set(this.offsets.subarray(0, n));
    new Uint32Array(out.buffer, HEADER + 8 * n, n).set(this.sizes.subarray(0, n));
    const nos = new Uint16Array(out.buffer, HEADER + 12 * n, n);
    for (let i = 0; i < n; i++) nos[i] = renumber[this.fileNos[i] ?? 0] ?? 0;
    out.set(table, HEADER + 14 * n);
    return out;
  }

  /** An editable copy of an encoded chunk. */
  static decode(bytes: Uint8Array): ChunkData {
    const v = ChunkView.decode(bytes);
    const c = new ChunkData(v.chunkNo, v.pageSize, v.count);
    for (let i = 0; i < v.count; i++) {
      const n = v.fileNos[i] ?? 0;
      const f = n === 0 ? undefined : v.files[n - 1];
      if (f) c.set(c.first + i, f, v.offsets[i] ?? 0, v.sizes[i] ?? 0);
    }
    return c;
  }
}

/** A read-only chunk over its encoded bytes (what isolates hold). */
export class ChunkView {
  readonly chunkNo: number;
  readonly pageSize: number;
  readonly count: number;
  readonly offsets: Float64Array;
  readonly sizes: Uint32Array;
  readonly fileNos: Uint16Array;
  readonly files: readonly ChunkFile[];
  /** Bytes held (for byte-bounded caches). */
  readonly byteLength: number;

  private constructor(bytes: Uint8Array) {
    if (bytes.length < HEADER) throw new RangeError("index chunk: too short");
    // Typed-array views need 8-byte alignment: copy when the bytes are not aligned.
    const b = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (dv.getUint32(0, true) !== MAGIC) throw new RangeError("index chunk: bad magic");
    this.chunkNo = dv.getUint32(4, true);
    this.pageSize = dv.getUint32(8, true);
    const n = dv.getUint32(12, true);
    const tableLen = dv.getUint32(16, true);
    if (n > CHUNK_PAGES || b.length !== HEADER + n * 14 + tableLen) throw new RangeError("index chunk: inconsistent length");
    this.count = n;
    this.offsets = new Float64Array(b.buffer, b.byteOffset + HEADER, n);
    this.sizes = new Uint32Array(b.buffer, b.byteOffset + HEADER + 8 * n, n);
    this.fileNos = new Uint16Array(b.buffer, b.byteOffset + HEADER + 12 * n, n);
    const rows = JSON.parse(new TextDecoder().decode(b.subarray(HEADER + 14 * n))) as unknown;
    if (!Array.isArray(rows)) throw new RangeError("index chunk: bad file table");
    this.files = rows.map((r: unknown): ChunkFile => {
      if (!Array.isArray(r) || r.length !== 7) throw new RangeError("index chunk: bad file entry");
      const [key, etag, size, level, minTxid, maxTxid, epoch] = r as unknown[];
      if (typeof key !== "string" || typeof etag !== "string" || ![size, level, minTxid, maxTxid, epoch].every((x) => typeof x === "number")) {
        throw new RangeError("index chunk: bad file entry");
      }
      return { key, etag, size: size as number, level: level as number, minTxid: minTxid as number, maxTxid: maxTxid as number, epoch: epoch as number };
    });
    for (const no of this.fileNos) if (no > this.files.length) throw new RangeError("index chunk: file number out of range");
    this.byteLength = b.byteLength;
  }

  static decode(bytes: Uint8Array): ChunkView {
    return new ChunkView(bytes);
  }

  get first(): number {
    return this.chunkNo * CHUNK_PAGES + 1;
  }

  /** Where page `pgno` lives, or null (not in this chunk, or no entry). */
  get(pgno: number): ChunkRef | null {
    const i = pgno - this.first;
    if (i < 0 || i >= this.count) return null;
    const n = this.fileNos[i] ?? 0;
    const file = n === 0 ? undefined : this.files[n - 1];
    return file ? { file, offset: this.offsets[i] ?? 0, size: this.sizes[i] ?? 0 } : null;
  }
}

/** The id of a chunk: the first 16 bytes of the SHA-256 of its bytes, in hex. */
export async function chunkId(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let s = "";
  for (let i = 0; i < 16; i++) s += (d[i] as number).toString(16).padStart(2, "0");
  return s;
}
