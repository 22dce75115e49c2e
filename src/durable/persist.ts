/**
 * @module
 * Durable Object SQLite persistence of a page index: the position and
 * follower state as JSON in `meta`, referenced files in `files`, and the
 * entries in `chunks` of {@link CHUNK_PAGES} pages. Only chunks touched by a change are rewritten.
 */
import type { IndexMeta, IndexPosition, IndexedFile } from "../page-index/page-index.ts";
import { PageIndex } from "../page-index/page-index.ts";
import { CHUNK_PAGES, decodeEntries, emptyEntries, encodeEntries } from "../page-index/serialize.ts";


/** Follower state kept across evictions. */
export interface PersistedState {
  name: string;
  generation: number;
  position: IndexPosition | null;
  rebuilds: number;
  lastOkPollAt: number | null;
  lastRequestAt: number;
  lastError: { code: string; message: string; at: number } | null;
  heals: { at: number; reason: string }[];
  /** Keys of the files applied since the last plan, in order (to notice compaction). */
  chain: string[];
  /** Index state beyond its entries (file id counter, shrink history). */
  indexMeta?: IndexMeta;
}

export class IndexStore {
  private readonly sql: SqlStorage;
  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.sql = storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, key TEXT NOT NULL, level INTEGER NOT NULL, min_txid INTEGER NOT NULL, max_txid INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL)`,
    );
    this.sql.exec(`CREATE TABLE IF NOT EXISTS chunks (chunk INTEGER PRIMARY KEY, data BLOB NOT NULL)`);
  }

  loadState(): PersistedState | null {
    const row = this.sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'state'`).toArray()[0];
    return row ? (JSON.parse(row.v) as PersistedState) : null;
  }

  saveState(state: PersistedState): void {
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('state', ?)`, JSON.stringify(state));
  }

  /** Rebuilds the in-memory index from storage. */
  loadIndex(position: IndexPosition): PageIndex {
    const files = this.sql
      .exec<{ id: number; key: string; level: number; min_txid: number; max_txid: number; size: number; etag: string }>(
        `SELECT id, key, level, min_txid, max_txid, size, etag FROM files`,
      )
      .toArray()
      .map((r): IndexedFile => ({ id: r.id, key: r.key, level: r.level, minTxid: r.min_txid, maxTxid: r.max_txid, size: r.size, etag: r.etag }));
    const index = new PageIndex(position.pageSize, position.commit);
    let any = false;
    for (const row of this.sql.exec<{ data: ArrayBuffer }>(`SELECT data FROM chunks ORDER BY chunk`)) {
      index.merge(position, files, decodeEntries(new Uint8Array(row.data)));
      any = true;
    }
    if (!any) index.merge(position, files, decodeEntries(encodeEntries(emptyEntries())));
    return index;
  }

  /**
   * Writes what changed since `sinceVersion` (everything when null) in one
   * transaction: touched chunks, chunks above Commit removed, the file table.
   */
  saveIndex(index: PageIndex, sinceVersion: number | null): void {
    const changed = new Set<number>();
    if (sinceVersion === null) {
      for (let c = 0; c * CHUNK_PAGES < index.commit; c++) changed.add(c);
    } else {
      for (const p of index.entries(sinceVersion).pgno) changed.add(Math.floor((p - 1) / CHUNK_PAGES));
    }
    const lastChunk = Math.floor(Math.max(0, index.commit - 1) / CHUNK_PAGES);
    // The chunk holding Commit is always rewritten: after a shrink it may still hold
    // entries above Commit (cleared pages never show up in entries(since)).
    if (index.commit > 0) changed.add(lastChunk);
    this.storage.transactionSync(() => {
      if (sinceVersion === null) this.sql.exec(`DELETE FROM chunks`);
      this.sql.exec(`DELETE FROM chunks WHERE chunk > ?`, index.commit === 0 ? -1 : lastChunk);
      for (const c of changed) {
        if (c > lastChunk) continue;
        const e = index.entries(0, c * CHUNK_PAGES + 1, CHUNK_PAGES);
        this.sql.exec(`INSERT OR REPLACE INTO chunks (chunk, data) VALUES (?, ?)`, c, encodeEntries(e));
      }
      this.sql.exec(`DELETE FROM files`);
      for (const f of index.files) {
        this.sql.exec(
          `INSERT INTO files (id, key, level, min_txid, max_txid, size, etag) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          f.id,
          f.key,
          f.level,
          f.minTxid,
          f.maxTxid,
          f.size,
          f.etag,
        );
      }
    });
  }

  /** Bytes of index data stored (for status and benchmarks). */
  storedBytes(): number {
    const r = this.sql.exec<{ n: number | null }>(`SELECT sum(length(data)) AS n FROM chunks`).toArray()[0];
    return r?.n ?? 0;
  }

  clear(): void {
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM chunks`);
      this.sql.exec(`DELETE FROM files`);
      this.sql.exec(`DELETE FROM meta`);
    });
  }
}
