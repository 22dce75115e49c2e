/**
 * @module
 * The page index: page number → (LTX file, byte offset, frame size) of the
 * newest version of every page, plus the replica position. Pure TypeScript.
 *
 * Pages of a SQLite database are dense (1 … Commit), so the index is a set of
 * parallel typed arrays indexed by pgno rather than one object per page: a
 * 1 GiB database (262,144 pages of 4 KiB) costs about 6 MiB.
 *
 * Every entry also records the index version at which it was last set (the
 * version grows with every change: a new file, a re-pointed page), so a
 * holder of the index at version v can be sent only what changed since v —
 * including pages moved to a compacted file at the same TXID.
 *
 * @example
 * ```ts
 * const index = new PageIndex(4096);
 * for (const file of plan) index.apply(file, header, fileIndex);
 * const ref = index.lookup(1); // { file, offset, size }
 * ```
 */
import type { FileIndex } from "../ltx/file-index.ts";
import type { LtxHeader } from "../ltx/header.ts";
import { lockPgno } from "../ltx/header.ts";
import { LtxError } from "../ltx/errors.ts";
import type { LtxFileInfo } from "../replica/replica.ts";

/**
 * An LTX file the index points into. `id` is unique within one index and never
 * reused. `epoch` names one admission of the file's bytes (key + ETag) by the
 * Durable Object: it is part of every cache key of the file's bytes, and a file
 * re-admitted after it failed verification gets a new one, so bytes cached
 * under an earlier admission can never be served again.
 */
export interface IndexedFile extends Omit<LtxFileInfo, "uploaded"> {
  id: number;
  epoch: number;
}

/** What {@link PageIndex.apply} needs to know about a file (epoch 0 when the caller does not track admissions). */
export type FileToApply = Omit<IndexedFile, "id" | "epoch"> & { epoch?: number };

/** Identity of a file's bytes as served: key, ETag and admission epoch. */
export function fileIdentity(f: Pick<IndexedFile, "key" | "etag" | "epoch">): string {
  return `${f.key}\n${f.etag}\n${f.epoch}`;
}

export interface PageRef {
  file: IndexedFile;
  offset: number;
  size: number;
}

/** Replica position and shape of the database the index describes. */
export interface IndexPosition {
  pageSize: number;
  /** Monotonic change counter of this index. */
  version: number;
  /** Database size in pages. */
  commit: number;
  /** MaxTXID of the newest applied file. */
  txid: number;
  /** Header timestamp (ms) of the newest applied file. */
  timestamp: number;
}

/** A sparse list of entries; the wire and storage form of (parts of) an index. */
export interface PageEntries {
  pgno: Uint32Array;
  fileId: Uint32Array;
  offset: Float64Array;
  size: Uint32Array;
  /** Index version at which each entry was set. */
  setAt: Float64Array;
}

export interface IndexMeta {
  nextId: number;
  shrinks: { version: number; commit: number }[];
}

/** Bytes per page held by the index arrays. */
export const BYTES_PER_PAGE = 4 + 8 + 4 + 8;

export class PageIndex {
  readonly pageSize: number;
  commit = 0;
  txid = 0;
  timestamp = 0;
  version = 0;
  /** Versions at which Commit went down, and to what (bounded). */
  private shrinks: { version: number; commit: number }[] = [];
  private fileIds: Uint32Array;
  private offsets: Float64Array;
  private sizes: Uint32Array;
  private setAts: Float64Array;
  private readonly fileMap = new Map<number, IndexedFile>();
  private readonly refs = new Map<number, number>();
  private nextId = 1;

  constructor(pageSize: number, capacity = 64) {
    this.pageSize = pageSize;
    this.fileIds = new Uint32Array(capacity + 1);
    this.offsets = new Float64Array(capacity + 1);
    this.sizes = new Uint32Array(capacity + 1);
    this.setAts = new Float64Array(capacity + 1);
  }

  get position(): IndexPosition {
    return { pageSize: this.pageSize, version: this.version, commit: this.commit, txid: this.txid, timestamp: this.timestamp };
  }

  /** Files referenced by at least one page. */
  get files(): IndexedFile[] {
    return [...this.fileMap.values()];
  }

  /** Number of pages with an entry. */
  get pageCount(): number {
    let n = 0;
    for (let p = 1; p <= this.commit; p++) if (this.fileIds[p] !== 0) n++;
    return n;
  }

  /** Approximate bytes held by the arrays. */
  get byteLength(): number {
    return this.fileIds.byteLength + this.offsets.byteLength + this.sizes.byteLength + this.setAts.byteLength;
  }

  private grow(maxPgno: number): void {
    if (maxPgno < this.fileIds.length) return;
    let cap = this.fileIds.length;
    while (cap <= maxPgno) cap *= 2;
    const f = new Uint32Array(cap);
    f.set(this.fileIds);
    this.fileIds = f;
    const o = new Float64Array(cap);
    o.set(this.offsets);
    this.offsets = o;
    const s = new Uint32Array(cap);
    s.set(this.sizes);
    this.sizes = s;
    const t = new Float64Array(cap);
    t.set(this.setAts);
    this.setAts = t;
  }

  private addFile(info: FileToApply, id?: number): IndexedFile {
    const file: IndexedFile = {
      id: id ?? this.nextId,
      key: info.key,
      level: info.level,
      minTxid: info.minTxid,
      maxTxid: info.maxTxid,
      size: info.size,
      etag: info.etag,
      epoch: info.epoch ?? 0,
    };
    this.nextId = Math.max(this.nextId, file.id + 1);
    this.fileMap.set(file.id, file);
    this.refs.set(file.id, 0);
    return file;
  }

  /**
   * Points a page at a file. Invariant: refs[id] = number of pages whose
   * fileIds entry is id, and fileMap holds exactly the files with refs > 0
   * (between calls). The new reference is counted before the old one is
   * released, so re-setting a page to the file it already points at never
   * drops that file — even when it is the file's only page.
   */
  private set(pgno: number, fileId: number, offset: number, size: number, setAt: number): void {
    const old = this.fileIds[pgno] ?? 0;
    if (fileId !== 0) this.refs.set(fileId, (this.refs.get(fileId) ?? 0) + 1);
    if (old !== 0) this.unref(old);
    this.fileIds[pgno] = fileId;
    this.offsets[pgno] = offset;
    this.sizes[pgno] = size;
    this.setAts[pgno] = setAt;
  }

  private unref(id: number): void {
    const n = (this.refs.get(id) ?? 1) - 1;
    if (n <= 0) {
      this.refs.delete(id);
      this.fileMap.delete(id);
    } else this.refs.set(id, n);
  }

  /**
   * Overlays one LTX file (in plan/apply order). Pages above the file's
   * Commit are dropped, so a shrinking Commit truncates the database.
   */
  apply(info: FileToApply, header: LtxHeader, fileIndex: FileIndex): IndexedFile {
    if (header.pageSize !== this.pageSize) {
      throw new LtxError("LTX_PAGE_SIZE_MISMATCH", `page size ${header.pageSize} differs from the replica's ${this.pageSize}`, { file: info.key, offset: 8 });
    }
    const file = this.addFile(info);
    const version = this.version + 1;
    const maxPgno = fileIndex.count > 0 ? (fileIndex.pgno[fileIndex.count - 1] ?? 0) : 0;
    this.grow(Math.max(header.commit, maxPgno));
    for (let i = 0; i < fileIndex.count; i++) {
      this.set(fileIndex.pgno[i] ?? 0, file.id, fileIndex.offset[i] ?? 0, fileIndex.size[i] ?? 0, version);
    }
    this.setCommit(header.commit, version);
    this.version = version;
    this.txid = header.maxTxid;
    this.timestamp = header.timestamp;
    if ((this.refs.get(file.id) ?? 0) === 0) this.fileMap.delete(file.id);
    return file;
  }

  private truncate(commit: number): void {
    const top = this.fileIds.length - 1;
    for (let p = commit + 1; p <= top; p++) if (this.fileIds[p] !== 0) this.set(p, 0, 0, 0, 0);
  }

  /** Moves Commit, dropping pages above it and remembering shrinks for deltas. */
  private setCommit(commit: number, version: number): void {
    this.truncate(commit);
    if (commit < this.commit) {
      this.shrinks.push({ version, commit });
      if (this.shrinks.length > 1024) this.shrinks.splice(0, this.shrinks.length - 1024);
    }
    this.commit = commit;
  }

  /**
   * The lowest Commit the database had after `sinceVersion`, or null when it
   * never went below the current one. A delta receiver truncates to it first,
   * so pages dropped and later re-grown are never served from stale entries.
   * Infinity-safe: when the shrink history was trimmed past `sinceVersion`,
   * returns 0 (forces the receiver to rely on the delta alone).
   */
  lowestCommitSince(sinceVersion: number): number | null {
    let low: number | null = null;
    const oldest = this.shrinks[0];
    if (oldest && this.shrinks.length >= 1024 && oldest.version > sinceVersion) return 0;
    for (const s of this.shrinks) if (s.version > sinceVersion && (low === null || s.commit < low)) low = s.commit;
    return low !== null && low < this.commit ? low : null;
  }

  /** Where page `pgno` lives, or null (absent, beyond Commit, or the lock page). */
  lookup(pgno: number): PageRef | null {
    if (pgno < 1 || pgno > this.commit) return null;
    const id = this.fileIds[pgno] ?? 0;
    if (id === 0) return null;
    const file = this.fileMap.get(id);
    if (!file) return null;
    return { file, offset: this.offsets[pgno] ?? 0, size: this.sizes[pgno] ?? 0 };
  }

  /** {@link lookup}, as the page fetcher's PageLocator asks. */
  locate(pgno: number): PageRef | null {
    return this.lookup(pgno);
  }

  /** {@link lookup}: the whole index is in memory, so always known at once. */
  locateNow(pgno: number): PageRef | null {
    return this.lookup(pgno);
  }

  /** File id of a page, 0 when absent (cheap; for run detection). */
  fileIdOf(pgno: number): number {
    return pgno >= 1 && pgno <= this.commit ? (this.fileIds[pgno] ?? 0) : 0;
  }

  /** Byte offset of a page's frame (valid when fileIdOf(pgno) !== 0). */
  offsetOf(pgno: number): number {
    return this.offsets[pgno] ?? 0;
  }

  /** Frame size of a page (valid when fileIdOf(pgno) !== 0). */
  sizeOf(pgno: number): number {
    return this.sizes[pgno] ?? 0;
  }

  file(id: number): IndexedFile | undefined {
    return this.fileMap.get(id);
  }

  /** Pages 1 … Commit (except the lock page) without an entry: non-empty means an incomplete chain. */
  missingPages(limit = 10): number[] {
    const lock = lockPgno(this.pageSize);
    const out: number[] = [];
    for (let p = 1; p <= this.commit && out.length < limit; p++) if (p !== lock && this.fileIds[p] === 0) out.push(p);
    return out;
  }

  /**
   * Entries set after version `sinceVersion` (all entries for 0), for pages in
   * [fromPgno, fromPgno + maxPages). Used for snapshots, deltas and storage.
   */
  entries(sinceVersion = 0, fromPgno = 1, maxPages = Number.MAX_SAFE_INTEGER): PageEntries {
    const end = Math.min(this.commit, fromPgno + maxPages - 1);
    let n = 0;
    for (let p = fromPgno; p <= end; p++) if (this.fileIds[p] !== 0 && (this.setAts[p] ?? 0) > sinceVersion) n++;
    const out: PageEntries = {
      pgno: new Uint32Array(n),
      fileId: new Uint32Array(n),
      offset: new Float64Array(n),
      size: new Uint32Array(n),
      setAt: new Float64Array(n),
    };
    let i = 0;
    for (let p = fromPgno; p <= end; p++) {
      if (this.fileIds[p] === 0 || (this.setAts[p] ?? 0) <= sinceVersion) continue;
      out.pgno[i] = p;
      out.fileId[i] = this.fileIds[p] ?? 0;
      out.offset[i] = this.offsets[p] ?? 0;
      out.size[i] = this.sizes[p] ?? 0;
      out.setAt[i] = this.setAts[p] ?? 0;
      i++;
    }
    return out;
  }

  /**
   * Merges entries produced by {@link entries} on another index (a snapshot or
   * a delta), with the files they reference, then moves to `position`.
   * `truncateTo` (from {@link lowestCommitSince}) drops pages first.
   */
  merge(position: IndexPosition, files: readonly IndexedFile[], e: PageEntries, truncateTo: number | null = null): void {
    if (position.pageSize !== this.pageSize) throw new LtxError("LTX_PAGE_SIZE_MISMATCH", `page size changed from ${this.pageSize} to ${position.pageSize}`);
    if (truncateTo !== null) this.truncate(truncateTo);
    for (const f of files) if (!this.fileMap.has(f.id)) this.addFile(f, f.id);
    this.grow(Math.max(position.commit, e.pgno.length > 0 ? (e.pgno[e.pgno.length - 1] ?? 0) : 0));
    for (let i = 0; i < e.pgno.length; i++) {
      // Entries above the new Commit would be dropped anyway; never resolve their files.
      if ((e.pgno[i] ?? 0) > position.commit) continue;
      const id = e.fileId[i] ?? 0;
      if (!this.fileMap.has(id)) throw new RangeError(`entry for page ${e.pgno[i]} references unknown file ${id}`);
      this.set(e.pgno[i] ?? 0, id, e.offset[i] ?? 0, e.size[i] ?? 0, e.setAt[i] ?? 0);
    }
    this.setCommit(position.commit, position.version);
    this.txid = position.txid;
    this.timestamp = position.timestamp;
    this.version = position.version;
    for (const f of files) if ((this.refs.get(f.id) ?? 0) === 0) this.fileMap.delete(f.id);
  }

  /** Files referenced by a set of entries (to ship alongside them). */
  filesFor(e: PageEntries): IndexedFile[] {
    const ids = new Set<number>();
    for (const id of e.fileId) ids.add(id);
    return [...ids].map((id) => this.fileMap.get(id)).filter((f): f is IndexedFile => f !== undefined);
  }

  /**
   * Adopts `fresh` (an index rebuilt from a new restore plan at the same or a
   * newer TXID) as a change of this one: pages whose location differs are
   * re-pointed at a new version, so holders of this index get a small delta
   * (pages moved to a compacted file are the same bytes elsewhere).
   * Returns how many pages changed.
   */
  adopt(fresh: PageIndex): number {
    if (fresh.pageSize !== this.pageSize) throw new LtxError("LTX_PAGE_SIZE_MISMATCH", `page size changed from ${this.pageSize} to ${fresh.pageSize}`);
    const version = this.version + 1;
    this.grow(fresh.commit);
    // Files are the same only with the same admission epoch: a re-admitted file gets a new entry (and id).
    const byKey = new Map<string, IndexedFile>();
    for (const f of this.fileMap.values()) byKey.set(fileIdentity(f), f);
    let changed = 0;
    for (let p = 1; p <= fresh.commit; p++) {
      const fid = fresh.fileIds[p] ?? 0;
      const ref = fid === 0 ? null : fresh.fileMap.get(fid);
      const cur = this.lookup(p);
      if (ref === null || ref === undefined) {
        if (cur !== null) {
          this.set(p, 0, 0, 0, 0);
          changed++;
        }
        continue;
      }
      const off = fresh.offsets[p] ?? 0;
      const size = fresh.sizes[p] ?? 0;
      if (cur && fileIdentity(cur.file) === fileIdentity(ref) && cur.offset === off && cur.size === size) continue;
      let mine = byKey.get(fileIdentity(ref));
      if (!mine) {
        mine = this.addFile(ref, this.nextId);
        byKey.set(fileIdentity(mine), mine);
      }
      this.set(p, mine.id, off, size, version);
      changed++;
    }
    this.setCommit(fresh.commit, version);
    for (const [id, n] of [...this.refs]) {
      if (n === 0) {
        this.refs.delete(id);
        this.fileMap.delete(id);
      }
    }
    if (changed > 0 || fresh.txid !== this.txid) this.version = version;
    this.txid = fresh.txid;
    this.timestamp = fresh.timestamp;
    return changed;
  }

  /** What a reload must restore beyond the entries: file ids are never reused, shrinks stay known to deltas. */
  get meta(): IndexMeta {
    return { nextId: this.nextId, shrinks: this.shrinks.map((x) => ({ ...x })) };
  }

  restoreMeta(m: IndexMeta): void {
    this.nextId = Math.max(this.nextId, m.nextId);
    this.shrinks = m.shrinks.map((x) => ({ ...x }));
  }

  /** A deep copy (the DO builds a new version while readers keep the old). */
  clone(): PageIndex {
    const c = new PageIndex(this.pageSize, this.fileIds.length - 1);
    c.merge(this.position, this.files, this.entries());
    c.restoreMeta(this.meta);
    return c;
  }
}
