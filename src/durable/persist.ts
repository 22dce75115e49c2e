/**
 * @module
 * Durable Object SQLite persistence of a page index: the position and
 * follower state as JSON in `meta`, referenced files in `files`, and the
 * entries in `chunks` of {@link CHUNK_PAGES} pages. Only chunks touched by a
 * change are rewritten, and only file rows that changed are upserted or
 * deleted (rows written are billed).
 */
import type { IndexMeta, IndexPosition, IndexedFile } from "../page-index/page-index.ts";
import { PageIndex } from "../page-index/page-index.ts";
import { CHUNK_PAGES, decodeEntries, emptyEntries, encodeEntries } from "../page-index/serialize.ts";

type FileRow = { id: number; key: string; level: number; min_txid: number; max_txid: number; size: number; etag: string; epoch: number };

/** DO SQLite with a count of rows written (for status and tests: writes are what storage bills). */
export class CountedSql {
  readonly storage: DurableObjectStorage;
  rowsWritten = 0;
  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
  }
  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: (SqlStorageValue | Uint8Array)[]): T[] {
    const cursor = this.storage.sql.exec<T>(query, ...bindings);
    const rows = cursor.toArray();
    this.rowsWritten += cursor.rowsWritten;
    return rows;
  }
  /** Adds a column to an existing table unless it is there (schema upgrades of live objects). */
  addColumn(table: string, column: string, decl: string): void {
    if (!this.exec<{ name: string }>(`PRAGMA table_info(${table})`).some((c) => c.name === column)) {
      this.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${decl}`);
    }
  }
}

const rowOf = (f: IndexedFile): FileRow => ({
  id: f.id,
  key: f.key,
  level: f.level,
  min_txid: f.minTxid,
  max_txid: f.maxTxid,
  size: f.size,
  etag: f.etag,
  epoch: f.epoch,
});
const sameRow = (a: FileRow, b: FileRow): boolean => (Object.keys(a) as (keyof FileRow)[]).every((k) => a[k] === b[k]);


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
  /** Post-apply checksum (hex) of the last applied file: the next file's pre-apply checksum must match when both carry one. */
  postApply?: string;
}

export class IndexStore {
  readonly sql: CountedSql;
  private readonly storage: DurableObjectStorage;
  /** The `files` table as last written or read (null: unknown, the next full save rewrites it). */
  private fileRows: Map<number, FileRow> | null = null;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.sql = new CountedSql(storage);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, key TEXT NOT NULL, level INTEGER NOT NULL, min_txid INTEGER NOT NULL, max_txid INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, epoch INTEGER NOT NULL DEFAULT 0)`,
    );
    // Objects created before admission epochs existed: their files keep epoch 0, which is never issued again.
    this.sql.addColumn("files", "epoch", "INTEGER NOT NULL DEFAULT 0");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS chunks (chunk INTEGER PRIMARY KEY, data BLOB NOT NULL)`);
  }

  /** Rows written through this store since the object started. */
  get rowsWritten(): number {
    return this.sql.rowsWritten;
  }

  loadState(): PersistedState | null {
    const row = this.sql.exec<{ v: string }>(`SELECT v FROM meta WHERE k = 'state'`)[0];
    return row ? (JSON.parse(row.v) as PersistedState) : null;
  }

  saveState(state: PersistedState): void {
    this.sql.exec(`INSERT OR REPLACE INTO meta (k, v) VALUES ('state', ?)`, JSON.stringify(state));
  }

  /** Rebuilds the in-memory index from storage. */
  loadIndex(position: IndexPosition): PageIndex {
    const rows = this.sql.exec<FileRow>(`SELECT id, key, level, min_txid, max_txid, size, etag, epoch FROM files`);
    const files = rows.map(
      (r): IndexedFile => ({ id: r.id, key: r.key, level: r.level, minTxid: r.min_txid, maxTxid: r.max_txid, size: r.size, etag: r.etag, epoch: r.epoch }),
    );
    const index = new PageIndex(position.pageSize, position.commit);
    let any = false;
    for (const row of this.sql.exec<{ data: ArrayBuffer }>(`SELECT data FROM chunks ORDER BY chunk`)) {
      index.merge(position, files, decodeEntries(new Uint8Array(row.data)));
      any = true;
    }
    if (!any) index.merge(position, files, decodeEntries(encodeEntries(emptyEntries())));
    this.fileRows = new Map(rows.map((r) => [r.id, r] as const));
    return index;
  }

  /**
   * Writes what changed since `sinceVersion` (everything when null) in one
   * transaction: touched chunks, chunks above Commit removed, and the file
   * rows that were added, changed or dropped.
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
      this.saveFiles(index.files);
    });
  }

  /** Upserts changed file rows and deletes dropped ones (everything the first time after a start). */
  private saveFiles(files: readonly IndexedFile[]): void {
    const prev = this.fileRows;
    if (prev === null) this.sql.exec(`DELETE FROM files`);
    const next = new Map<number, FileRow>();
    for (const f of files) {
      const row = rowOf(f);
      next.set(row.id, row);
      const old = prev?.get(row.id);
      if (old && sameRow(old, row)) continue;
      this.sql.exec(
        `INSERT OR REPLACE INTO files (id, key, level, min_txid, max_txid, size, etag, epoch) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        row.id,
        row.key,
        row.level,
        row.min_txid,
        row.max_txid,
        row.size,
        row.etag,
        row.epoch,
      );
    }
    for (const id of prev?.keys() ?? []) if (!next.has(id)) this.sql.exec(`DELETE FROM files WHERE id = ?`, id);
    this.fileRows = next;
  }

  /** Bytes of index data stored (for status and benchmarks). */
  storedBytes(): number {
    const r = this.sql.exec<{ n: number | null }>(`SELECT sum(length(data)) AS n FROM chunks`)[0];
    return r?.n ?? 0;
  }

  /** Forgets the index and follower state (the integrity ledger, with its epoch counter, stays). */
  clear(): void {
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM chunks`);
      this.sql.exec(`DELETE FROM files`);
      this.sql.exec(`DELETE FROM meta WHERE k = 'state'`);
    });
    this.fileRows = new Map();
  }
}
