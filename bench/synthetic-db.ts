/**
 * A synthetic SQLite database of any size, made page by page without ever
 * holding it: one table `t(id INTEGER PRIMARY KEY, b BLOB)` whose rows hold
 * zero-filled blobs of `overflowPages` full overflow pages each, so the bulk
 * of the database is overflow pages that are zero but for their 4-byte
 * next-page pointer (they compress to ~30 bytes in an LTX file).
 *
 * The table b-tree is packed as SQLite's append path leaves it (full leaves
 * and interior pages), and laid out in pre-order — an interior page, then
 * its subtree; a leaf, then its rows' overflow chains — so a point lookup
 * reads pages spread over the whole file, as in a database grown by inserts.
 * The lock page (the one holding byte 2^30) is never used. The result passes
 * `PRAGMA integrity_check` (bench/synthetic.check.ts).
 *
 * `SELECT id, length(b) FROM t WHERE id = ?` answers `[id, blobBytes]` for
 * 1 ≤ id ≤ rows, reading only b-tree pages (SQLite takes a blob's length from
 * the record header).
 */
import { lockPgno } from "../src/ltx/header.ts";

export interface SyntheticSpec {
  pageSize: number;
  /** Approximate database size in pages (the layout rounds to whole rows). */
  targetPages: number;
  /** Overflow pages per row (each row's blob fills them exactly). */
  overflowPages: number;
}

export const SCHEMA_SQL = "CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)";

/** SQLite's varint (big-endian groups of 7 bits, 9 bytes at most), length only. */
function varintLen(v: number): number {
  let n = 1;
  let x = Math.floor(v / 128);
  while (x > 0 && n < 9) {
    n++;
    x = Math.floor(x / 128);
  }
  return n;
}

/** Writes SQLite's varint for v < 2^56 at `off`; returns the next offset. */
function putVarint(b: Uint8Array, off: number, v: number): number {
  const n = varintLen(v);
  let x = v;
  for (let i = n - 1; i >= 0; i--) {
    b[off + i] = (x % 128) | (i === n - 1 ? 0 : 0x80);
    x = Math.floor(x / 128);
  }
  return off + n;
}

function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** One level of the table b-tree: node i covers children [first[i], first[i+1]) of the level below (rows, for leaves). */
interface Level {
  first: Uint32Array;
  /** Largest rowid under each node. */
  maxKey: Float64Array;
  /** Page of each node (assigned in pre-order). */
  pgno: Uint32Array;
}

export class SyntheticDb {
  readonly pageSize: number;
  readonly overflowPages: number;
  readonly rows: number;
  /** Record payload bytes of a row (header + blob). */
  readonly payloadBytes: number;
  readonly blobBytes: number;
  /** Payload bytes kept on the leaf (the rest is in overflow pages). */
  readonly localBytes: number;
  /** Levels from the leaves (0) up to the root (last). */
  readonly levels: Level[];
  /** Database size in pages (Commit). */
  readonly pages: number;
  readonly lock: number;
  /** First overflow page of each row (index id - 1). */
  readonly #firstOverflow: Uint32Array;
  readonly #recordHeader: Uint8Array;

  constructor(spec: SyntheticSpec) {
    const U = spec.pageSize;
    this.pageSize = U;
    this.overflowPages = spec.overflowPages;
    this.lock = lockPgno(U);
    // Spec of the file format §2.3.1: a payload P > X keeps M + (P - M) % (U - 4) bytes local
    // when that is ≤ X; choosing P = M + k (U - 4) keeps exactly M local and fills k pages.
    const M = Math.floor(((U - 12) * 32) / 255) - 23;
    this.localBytes = M;
    this.payloadBytes = M + spec.overflowPages * (U - 4);
    // Record header: its own size, serial type 0 (the rowid alias is stored as NULL), the blob's type.
    let blob = 0;
    for (let tl = 1; tl <= 4; tl++) {
      blob = this.payloadBytes - (2 + tl);
      if (varintLen(12 + 2 * blob) === tl) break;
    }
    this.blobBytes = blob;
    const header = new Uint8Array(2 + varintLen(12 + 2 * blob));
    header[0] = header.length;
    header[1] = 0;
    putVarint(header, 2, 12 + 2 * blob);
    this.#recordHeader = header;

    // Rows for about targetPages: k overflow pages each, plus their share of a leaf (~8 cells).
    const perRow = spec.overflowPages + 1 / Math.floor((U - 8) / (varintLen(this.payloadBytes) + 4 + M + 4 + 2));
    this.rows = Math.max(1, Math.floor((spec.targetPages - 2) / perRow));

    // Leaves: as many cells as fit, in rowid order.
    const leafFirst: number[] = [0];
    let used = 0;
    for (let id = 1; id <= this.rows; id++) {
      const cell = varintLen(this.payloadBytes) + varintLen(id) + M + 4 + 2;
      if (used + cell > U - 8) {
        leafFirst.push(id - 1);
        used = 0;
      }
      used += cell;
    }
    leafFirst.push(this.rows);
    const leaves: Level = { first: Uint32Array.from(leafFirst), maxKey: new Float64Array(leafFirst.length - 1), pgno: new Uint32Array(leafFirst.length - 1) };
    for (let i = 0; i < leaves.maxKey.length; i++) leaves.maxKey[i] = leaves.first[i + 1] as number;
    this.levels = [leaves];
    // Interior levels until one node is left: cells (child, key) while they fit, then the right child.
    for (let below = leaves; below.maxKey.length > 1; ) {
      const first: number[] = [0];
      const n = below.maxKey.length;
      let c = 0;
      while (c < n) {
        let room = U - 12;
        // Take children as cells while they fit; the next one is the right child.
        while (c < n - 1 && room >= 6 + varintLen(below.maxKey[c] as number)) {
          room -= 6 + varintLen(below.maxKey[c] as number);
          c++;
        }
        c++; // right child
        first.push(c);
      }
      const level: Level = { first: Uint32Array.from(first), maxKey: new Float64Array(first.length - 1), pgno: new Uint32Array(first.length - 1) };
      for (let i = 0; i < level.maxKey.length; i++) level.maxKey[i] = below.maxKey[(level.first[i + 1] as number) - 1] as number;
      this.levels.push(level);
      below = level;
    }
    this.#firstOverflow = new Uint32Array(this.rows);
    // Pre-order page numbers; page 1 is the schema, so the root is page 2.
    let next = 2;
    const alloc = (): number => {
      if (next === this.lock) next++;
      return next++;
    };
    const assign = (depth: number, i: number): void => {
      const level = this.levels[depth] as Level;
      level.pgno[i] = alloc();
      const a = level.first[i] as number;
      const b = level.first[i + 1] as number;
      if (depth > 0) {
        for (let c = a; c < b; c++) assign(depth - 1, c);
        return;
      }
      for (let r = a; r < b; r++) {
        this.#firstOverflow[r] = alloc();
        for (let k = 1; k < this.overflowPages; k++) alloc();
      }
    };
    assign(this.levels.length - 1, 0);
    this.pages = next - 1;
  }

  /** B-tree levels from the root to a leaf (a point lookup reads one page of each, plus page 1). */
  get depth(): number {
    return this.levels.length;
  }

  /** The page after `p` in an overflow chain (the lock page is skipped). */
  #after(p: number): number {
    return p + 1 === this.lock ? p + 2 : p + 1;
  }

  /** Overflow page `k` (0-based) of row `id`. */
  overflowPage(id: number, k: number): number {
    let p = this.#firstOverflow[id - 1] as number;
    for (let i = 0; i < k; i++) p = this.#after(p);
    return p;
  }

  /** Pages a lookup of `id` reads, root first (page 1 not included). */
  pathOf(id: number): number[] {
    const out: number[] = [];
    let node = 0;
    for (let d = this.levels.length - 1; d >= 0; d--) {
      const level = this.levels[d] as Level;
      out.push(level.pgno[node] as number);
      if (d === 0) break;
      const below = this.levels[d - 1] as Level;
      let c = level.first[node] as number;
      while (c < (level.first[node + 1] as number) - 1 && (below.maxKey[c] as number) < id) c++;
      node = c;
    }
    return out;
  }

  /** Calls `emit` with every page in pgno order (the buffer is reused: copy to keep). */
  generate(emit: (pgno: number, page: Uint8Array) => void): void {
    const U = this.pageSize;
    const page = new Uint8Array(U);
    this.#schemaPage(page, 1);
    emit(1, page);
    const visit = (depth: number, i: number): void => {
      const level = this.levels[depth] as Level;
      const a = level.first[i] as number;
      const b = level.first[i + 1] as number;
      page.fill(0);
      if (depth > 0) this.#interiorPage(page, depth, a, b);
      else this.#leafPage(page, a, b);
      emit(level.pgno[i] as number, page);
      if (depth > 0) {
        for (let c = a; c < b; c++) visit(depth - 1, c);
        return;
      }
      page.fill(0);
      for (let r = a; r < b; r++) {
        let p = this.#firstOverflow[r] as number;
        for (let k = 0; k < this.overflowPages; k++) {
          const next = k + 1 < this.overflowPages ? this.#after(p) : 0;
          putU32(page, 0, next);
          emit(p, page);
          p = next;
        }
      }
    };
    visit(this.levels.length - 1, 0);
  }

  /** Page 1 as it is after `changeCounter` writes (a later transaction's copy of it). */
  schemaPage(changeCounter: number): Uint8Array {
    const page = new Uint8Array(this.pageSize);
    this.#schemaPage(page, changeCounter);
    return page;
  }

  /** An overflow page of row `id` (0-based `k`) with `data` written at the start of its content. */
  overflowPageWith(id: number, k: number, data: Uint8Array): Uint8Array {
    const page = new Uint8Array(this.pageSize);
    putU32(page, 0, k + 1 < this.overflowPages ? this.#after(this.overflowPage(id, k)) : 0);
    page.set(data, 4);
    return page;
  }

  /** 1-based offset in the blob of the first content byte of overflow page `k`. */
  blobOffsetOfOverflow(k: number): number {
    return this.localBytes - this.#recordHeader.length + k * (this.pageSize - 4) + 1;
  }

  #schemaPage(page: Uint8Array, changeCounter: number): void {
    const U = this.pageSize;
    page.fill(0);
    page.set(new TextEncoder().encode("SQLite format 3\0"), 0);
    putU16(page, 16, U === 65536 ? 1 : U);
    page[18] = 1; // legacy (rollback journal) file format
    page[19] = 1;
    page[20] = 0; // reserved bytes per page
    page[21] = 64;
    page[22] = 32;
    page[23] = 32;
    putU32(page, 24, changeCounter);
    putU32(page, 28, this.pages); // in-header database size (valid: 92 equals 24)
    putU32(page, 40, 1); // schema cookie
    putU32(page, 44, 4); // schema format
    putU32(page, 56, 1); // UTF-8
    putU32(page, 92, changeCounter); // version-valid-for: the in-header size is valid
    putU32(page, 96, 3_045_000);
    // sqlite_schema: one row ('table', 't', 't', rootpage, sql).
    const enc = new TextEncoder();
    const texts = [enc.encode("table"), enc.encode("t"), enc.encode("t")];
    const sql = enc.encode(SCHEMA_SQL);
    const root = (this.levels[this.levels.length - 1] as Level).pgno[0] as number;
    const types = [...texts.map((t) => 13 + 2 * t.length), 4, 13 + 2 * sql.length];
    const hdrLen = 1 + types.reduce((n, t) => n + varintLen(t), 0);
    const record = new Uint8Array(hdrLen + texts.reduce((n, t) => n + t.length, 0) + 4 + sql.length);
    let o = putVarint(record, 0, hdrLen);
    for (const t of types) o = putVarint(record, o, t);
    for (const t of texts) {
      record.set(t, o);
      o += t.length;
    }
    putU32(record, o, root);
    record.set(sql, o + 4);
    const cell = new Uint8Array(varintLen(record.length) + 1 + record.length);
    putVarint(cell, putVarint(cell, 0, record.length), 1);
    cell.set(record, cell.length - record.length);
    const at = U - cell.length;
    page.set(cell, at);
    page[100] = 0x0d;
    putU16(page, 103, 1);
    putU16(page, 105, at);
    putU16(page, 108, at);
  }

  #leafPage(page: Uint8Array, a: number, b: number): void {
    let end = this.pageSize;
    for (let r = a; r < b; r++) {
      const id = r + 1;
      const len = varintLen(this.payloadBytes) + varintLen(id) + this.localBytes + 4;
      end -= len;
      let o = putVarint(page, end, this.payloadBytes);
      o = putVarint(page, o, id);
      page.set(this.#recordHeader, o); // the rest of the local payload is the blob's first (zero) bytes
      putU32(page, o + this.localBytes, this.#firstOverflow[r] as number);
      putU16(page, 8 + 2 * (r - a), end);
    }
    page[0] = 0x0d;
    putU16(page, 3, b - a);
    putU16(page, 5, end);
  }

  #interiorPage(page: Uint8Array, depth: number, a: number, b: number): void {
    const below = this.levels[depth - 1] as Level;
    let end = this.pageSize;
    for (let c = a; c < b - 1; c++) {
      const key = below.maxKey[c] as number;
      end -= 4 + varintLen(key);
      putU32(page, end, below.pgno[c] as number);
      putVarint(page, end + 4, key);
      putU16(page, 12 + 2 * (c - a), end);
    }
    page[0] = 0x05;
    putU16(page, 3, b - a - 1);
    putU16(page, 5, end);
    putU32(page, 8, below.pgno[b - 1] as number);
  }
}
