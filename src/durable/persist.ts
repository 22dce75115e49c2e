/**
 * @module
 * Durable Object SQLite persistence: the follower state as JSON in `meta`,
 * and the page index as content-addressed chunks and roots (chunk-store.ts,
 * chunked-index.ts). Rows written are billed, so every write here is
 * counted and only changed rows are written.
 */
import type { IndexPosition } from "../page-index/page-index.ts";
import { ChunkStore } from "./chunk-store.ts";
import { ChunkedIndex } from "./chunked-index.ts";

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

/** Follower state kept across evictions. */
export interface PersistedState {
  name: string;
  /** Random per storage: chunk versions of two lineages are never compared (a DO whose storage was lost starts a new one). */
  lineage?: string;
  generation: number;
  position: IndexPosition | null;
  rebuilds: number;
  lastOkPollAt: number | null;
  lastRequestAt: number;
  lastError: { code: string; message: string; at: number } | null;
  heals: { at: number; reason: string }[];
  /** Keys of the files of the last plan followed, in order (to notice compaction). */
  chain: string[];
  /** Post-apply checksum (hex) of the last applied file: the next file's pre-apply checksum must match when both carry one. */
  postApply?: string;
}

export class IndexStore {
  readonly sql: CountedSql;
  readonly chunks: ChunkStore;
  private readonly storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.storage = storage;
    this.sql = new CountedSql(storage);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
    // Objects from before the chunked index kept every entry in `chunks`/`files`: dropped, rebuilt from the replica.
    this.sql.exec(`DROP TABLE IF EXISTS chunks`);
    this.sql.exec(`DROP TABLE IF EXISTS files`);
    this.chunks = new ChunkStore(this.sql);
    ChunkedIndex.createTables(this.sql);
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
    this.sql.exec(`INSERT INTO meta (k, v) VALUES ('state', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, JSON.stringify(state));
  }

  /** The live index as stored, or null. */
  loadIndex(): ChunkedIndex | null {
    return ChunkedIndex.load(this.chunks, this.sql);
  }

  /** Bytes of index data stored (for status and benchmarks). */
  storedBytes(): number {
    return this.chunks.stats().bytes;
  }

  /** Forgets the index and follower state (the integrity ledger, with its epoch counter, stays). */
  clear(): void {
    this.chunks.clear();
    this.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM index_files`);
      this.sql.exec(`DELETE FROM meta WHERE k = 'state'`);
    });
  }
}
