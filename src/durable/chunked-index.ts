/**
 * @module
 * The Durable Object's live page index, kept as chunks in its storage
 * (chunk-store.ts) and never whole in memory: what it holds is the root
 * (16 bytes per 4096 pages) and the files its pages point into, with how
 * many pages each. Applying an LTX file rewrites only the chunks it touches;
 * a rebuild from a restore plan streams new chunks and becomes a new version
 * whose delta is the chunks that differ. Memory never grows with the size of
 * the database beyond the root.
 *
 * Only one change runs at a time (the caller holds the DO's lock); a change
 * becomes visible — root, history, file counts — in one storage transaction,
 * after every chunk it needs is stored.
 */
import { LtxError } from "../ltx/errors.ts";
import type { FileIndex } from "../ltx/file-index.ts";
import { lockPgno } from "../ltx/header.ts";
import { buildChunks, type PlanSource } from "../page-index/chunk-build.ts";
import { type ChunkFile, type ChunkRef, ChunkData, chunkCount, chunkOf, pagesIn } from "../page-index/chunk.ts";
import { ID_BYTES, type IndexRoot, type RootPosition, hexToId, idToHex } from "../page-index/root.ts";
import type { IndexPosition } from "../page-index/page-index.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { CountedSql } from "./persist.ts";

/** Identity of a file version as the index knows it. */
export function fileKeyOf(f: Pick<ChunkFile, "key" | "etag" | "epoch">): string {
  return `${f.key}\n${f.etag}\n${f.epoch}`;
}

/** Files a set of chunks points into, with how many pages each. */
export type FileUse = Map<string, { file: ChunkFile; pages: number }>;

/** A full index written as chunks, not yet the live one. */
export interface BuiltRoot extends RootPosition {
  chunks: Uint8Array;
  files: FileUse;
}

/** What an applied file says about the database after it. */
export interface ApplyHeader {
  pageSize: number;
  commit: number;
  maxTxid: number;
  timestamp: number;
}

function addUse(into: FileUse, f: ChunkFile, n: number): void {
  if (n === 0) return;
  const k = fileKeyOf(f);
  const cur = into.get(k);
  if (cur) cur.pages += n;
  else into.set(k, { file: f, pages: n });
}

/** Streams a plan into stored chunks (memory: one chunk and one batch per file). */
export async function buildRoot(store: ChunkStore, pageSize: number, commit: number, txid: number, timestamp: number, sources: readonly PlanSource[]): Promise<BuiltRoot> {
  const chunks = new Uint8Array(chunkCount(commit) * ID_BYTES);
  const files: FileUse = new Map();
  await buildChunks(pageSize, commit, sources, async (c) => {
    hexToId(await store.put(c.encode()), chunks, c.chunkNo);
    for (const [f, n] of c.fileUse()) addUse(files, f, n);
  });
  return { pageSize, commit, txid, timestamp, chunks, files };
}

export class ChunkedIndex {
  readonly #store: ChunkStore;
  readonly #sql: CountedSql;
  #root: IndexRoot;
  readonly #files: FileUse;

  private constructor(store: ChunkStore, sql: CountedSql, root: IndexRoot, files: FileUse) {
    this.#store = store;
    this.#sql = sql;
    this.#root = root;
    this.#files = files;
  }

  /** Creates the tables (idempotent). */
  static createTables(sql: CountedSql): void {
    sql.exec(
      `CREATE TABLE IF NOT EXISTS index_files (fkey TEXT PRIMARY KEY, key TEXT NOT NULL, etag TEXT NOT NULL, epoch INTEGER NOT NULL, level INTEGER NOT NULL, min_txid INTEGER NOT NULL, max_txid INTEGER NOT NULL, size INTEGER NOT NULL, pages INTEGER NOT NULL) WITHOUT ROWID`,
    );
  }

  /** The live index stored in `store`, or null when there is none yet. */
  static load(store: ChunkStore, sql: CountedSql): ChunkedIndex | null {
    ChunkedIndex.createTables(sql);
    const root = store.root("live");
    if (!root) return null;
    const files: FileUse = new Map();
    for (const r of sql.exec<{ fkey: string; key: string; etag: string; epoch: number; level: number; min_txid: number; max_txid: number; size: number; pages: number }>(`SELECT * FROM index_files`)) {
      files.set(r.fkey, { file: { key: r.key, etag: r.etag, epoch: r.epoch, level: r.level, minTxid: r.min_txid, maxTxid: r.max_txid, size: r.size }, pages: r.pages });
    }
    return new ChunkedIndex(store, sql, root, files);
  }

  /** Makes `built` the live index (replacing whatever was live) at the given identity. */
  static create(store: ChunkStore, sql: CountedSql, built: BuiltRoot, id: { lineage: string; generation: number; version: number }): ChunkedIndex {
    ChunkedIndex.createTables(sql);
    const x = new ChunkedIndex(store, sql, { ...id, ...position(built), chunks: built.chunks }, new Map());
    x.#commit(x.#root, built.files, null);
    return x;
  }

  get root(): IndexRoot {
    return this.#root;
  }
  /** Position and version (what follower state and status report). */
  get position(): IndexPosition {
    const r = this.#root;
    return { pageSize: r.pageSize, version: r.version, commit: r.commit, txid: r.txid, timestamp: r.timestamp };
  }
  get pageSize(): number {
    return this.#root.pageSize;
  }
  get commit(): number {
    return this.#root.commit;
  }
  get txid(): number {
    return this.#root.txid;
  }
  get timestamp(): number {
    return this.#root.timestamp;
  }
  get version(): number {
    return this.#root.version;
  }
  get generation(): number {
    return this.#root.generation;
  }

  /** The files pages point into. */
  get files(): ChunkFile[] {
    return [...this.#files.values()].map((x) => x.file);
  }

  /** Pages per file (status, tests). */
  get fileUse(): ReadonlyMap<string, { file: ChunkFile; pages: number }> {
    return this.#files;
  }

  /** Where page `pgno` lives now (reads its chunk from storage). */
  lookup(pgno: number): ChunkRef | null {
    if (pgno < 1 || pgno > this.commit) return null;
    const c = chunkOf(pgno);
    return this.#store.view(idToHex(this.#root.chunks, c))?.get(pgno) ?? null;
  }

  /**
   * Overlays one LTX file (its entries in pgno order, possibly in batches):
   * rewrites the chunks it touches, drops pages above its Commit, and makes
   * the result the next version. Throws (changing nothing) when the result
   * would leave a page without a version — a grown database needs every new page.
   */
  async apply(file: ChunkFile, header: ApplyHeader, entries: Iterable<FileIndex> | AsyncIterable<FileIndex>): Promise<void> {
    if (header.pageSize !== this.pageSize) {
      throw new LtxError("LTX_PAGE_SIZE_MISMATCH", `page size ${header.pageSize} of ${file.key} differs from the replica's ${this.pageSize}`, { file: file.key });
    }
    await this.#patch(file, entries, { commit: header.commit, txid: header.maxTxid, timestamp: header.timestamp }, null);
  }

  /**
   * Moves pages to a compacted file `file` (TXIDs up to its MaxTXID, at or
   * below the position) where that file holds them and the index points into
   * a file no newer than it: there the copies are the same bytes, so readers
   * see no change but the location. Lets retention delete the files it
   * replaces without a rebuild: the cost is the size of `file`'s index, not
   * the database's. Returns how many pages moved (0: no new version).
   */
  async repoint(file: ChunkFile, entries: Iterable<FileIndex> | AsyncIterable<FileIndex>): Promise<number> {
    if (file.maxTxid > this.txid) throw new RangeError(`${file.key} reaches TXID ${file.maxTxid}, beyond the position ${this.txid}`);
    return this.#patch(file, entries, { commit: this.commit, txid: this.txid, timestamp: this.timestamp }, file.maxTxid);
  }

  /**
   * The one way chunks change: `file`'s entries overlaid (all of them, or
   * with `olderThan` only over pages whose current file ends at or before
   * it), pages beyond `to.commit` dropped, every touched chunk stored, then
   * root, history and file counts committed together. Returns pages changed.
   */
  async #patch(file: ChunkFile, entries: Iterable<FileIndex> | AsyncIterable<FileIndex>, to: { commit: number; txid: number; timestamp: number }, olderThan: number | null): Promise<number> {
    const oldCommit = this.commit;
    const newCommit = to.commit;
    const chunks = new Uint8Array(chunkCount(newCommit) * ID_BYTES);
    chunks.set(this.#root.chunks.subarray(0, Math.min(chunks.length, this.#root.chunks.length)));
    const delta: FileUse = new Map();
    const changed = new Set<number>();
    const lock = lockPgno(this.pageSize);
    const self = fileKeyOf(file);
    let moved = 0;
    let open: ChunkData | null = null;
    let openChanged = false;

    const finish = async (c: ChunkData, dirty: boolean): Promise<void> => {
      if (!dirty) {
        // Nothing moved in it: put its file use back as it was.
        for (const [f, n] of c.fileUse()) addUse(delta, f, n);
        return;
      }
      c.truncate(newCommit);
      const missing = c.missing(lock, 1);
      if (missing.length > 0) throw new LtxError("LTX_BAD_INDEX", `applying ${file.key} leaves page ${missing[0]} without a version`, { file: file.key });
      for (const [f, n] of c.fileUse()) addUse(delta, f, n);
      hexToId(await this.#store.put(c.encode()), chunks, c.chunkNo);
      changed.add(c.chunkNo);
    };
    /** The editable chunk `n`, its old file use already subtracted. */
    const load = (n: number): ChunkData => {
      if (n < chunkCount(oldCommit)) {
        const c = this.#chunk(n);
        for (const [f, k] of c.fileUse()) addUse(delta, f, -k);
        return c;
      }
      return new ChunkData(n, this.pageSize, pagesIn(n, newCommit));
    };

    for await (const batch of entries) {
      for (let i = 0; i < batch.count; i++) {
        const p = batch.pgno[i] as number;
        if (p > newCommit) continue;
        const n = chunkOf(p);
        if (open && open.chunkNo !== n) {
          await finish(open, openChanged);
          open = null;
        }
        if (!open) {
          open = load(n);
          openChanged = olderThan === null;
        }
        if (olderThan !== null) {
          const cur = open.get(p);
          if (!cur || cur.file.maxTxid > olderThan || fileKeyOf(cur.file) === self) continue;
          openChanged = true;
        }
        open.set(p, file, batch.offset[i] as number, batch.size[i] as number);
        moved++;
      }
    }
    if (open) await finish(open, openChanged);
    // A shrink: the chunk holding the new Commit loses pages even when the file did not touch it.
    const last = chunkCount(newCommit) - 1;
    if (newCommit < oldCommit && last >= 0 && !changed.has(last)) await finish(load(last), true);
    // New chunks the file did not fill (it must bring every page of a grown database).
    for (let n = chunkCount(oldCommit); n <= last; n++) if (!changed.has(n)) await finish(load(n), true);
    for (let n = chunkCount(newCommit); n < chunkCount(oldCommit); n++) {
      for (const [f, k] of this.#chunk(n).fileUse()) addUse(delta, f, -k);
    }
    const positionMoved = newCommit !== oldCommit || to.txid !== this.txid || to.timestamp !== this.timestamp;
    if (changed.size === 0 && !positionMoved) return 0;

    const next: IndexRoot = { ...this.#root, version: this.version + 1, commit: newCommit, txid: to.txid, timestamp: to.timestamp, chunks };
    const files: FileUse = new Map([...this.#files].map(([k, v]) => [k, { ...v }]));
    for (const [k, d] of delta) {
      const cur = files.get(k);
      const pages = (cur?.pages ?? 0) + d.pages;
      if (pages > 0) files.set(k, { file: cur?.file ?? d.file, pages });
      else files.delete(k);
    }
    this.#commit(next, files, changed);
    return moved;
  }

  /**
   * Adopts a rebuilt index. Same history: the next version of this
   * generation, whose delta is the chunks that differ (pages re-pointed to a
   * compacted file are the same bytes elsewhere). New history: the next
   * generation; isolates drop what they hold and load it whole.
   */
  replace(built: BuiltRoot, newGeneration: boolean): number {
    const old = this.#root;
    const next: IndexRoot = {
      lineage: old.lineage,
      generation: newGeneration ? old.generation + 1 : old.generation,
      version: old.version + 1,
      ...position(built),
      chunks: built.chunks,
    };
    const changed = new Set<number>();
    for (let c = 0; c < chunkCount(next.commit); c++) {
      if ((c + 1) * ID_BYTES > old.chunks.length || idToHex(old.chunks, c) !== idToHex(next.chunks, c)) changed.add(c);
    }
    this.#commit(next, built.files, newGeneration ? null : changed);
    return changed.size;
  }

  /** Chunk `n` of the live root, editable. */
  #chunk(n: number): ChunkData {
    const bytes = this.#store.get(idToHex(this.#root.chunks, n));
    if (!bytes) throw new Error(`index chunk ${n} of version ${this.version} is missing from storage`);
    return ChunkData.decode(bytes);
  }

  /** Root, history and file rows in one transaction; `changed` null starts the history afresh. */
  #commit(next: IndexRoot, files: FileUse, changed: Set<number> | null): void {
    const before = this.#files;
    this.#sql.storage.transactionSync(() => {
      this.#store.setRoot("live", next);
      if (changed === null) {
        this.#store.clearHistory();
        this.#sql.exec(`DELETE FROM index_files`);
      } else {
        this.#store.recordChange(next.version, changed);
      }
      for (const [k, v] of files) {
        const was = changed === null ? undefined : before.get(k);
        if (was && was.pages === v.pages) continue; // rows written are billed: only changed ones
        const f = v.file;
        this.#sql.exec(
          `INSERT INTO index_files (fkey, key, etag, epoch, level, min_txid, max_txid, size, pages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(fkey) DO UPDATE SET pages = excluded.pages`,
          k, f.key, f.etag, f.epoch, f.level, f.minTxid, f.maxTxid, f.size, v.pages,
        );
      }
      if (changed !== null) for (const k of before.keys()) if (!files.has(k)) this.#sql.exec(`DELETE FROM index_files WHERE fkey = ?`, k);
    });
    this.#root = next;
    this.#files.clear();
    for (const [k, v] of files) this.#files.set(k, v);
  }
}

function position(p: RootPosition): RootPosition {
  return { pageSize: p.pageSize, commit: p.commit, txid: p.txid, timestamp: p.timestamp };
}
