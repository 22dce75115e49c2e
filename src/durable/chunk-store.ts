/**
 * @module
 * The Durable Object's store of index chunks and roots, in its SQLite
 * storage: one format for storage, RPC and the Cache API (src/page-index/chunk.ts).
 *
 * - `index_chunks`: content-addressed chunks (id = hash of the bytes), with
 *   the time they last left a root (null while a root may use them).
 *   Identical chunks of two versions, or of the live index and a time-travel
 *   index, are stored once.
 * - `index_roots`: named roots — `live`, and `tt:<target>` for time travel —
 *   with their position (JSON) and chunk ids (16 bytes each).
 * - `index_history`: which chunk numbers each live version changed, so an
 *   isolate holding version v gets only the chunks changed since v.
 *
 * A chunk that leaves a root is not deleted at once: isolates may still hold
 * a root of a version that used it and load it lazily, so it is kept for
 * {@link CHUNK_GRACE_MS}; the sweep then deletes it unless a current root
 * names it again (mark and sweep over the roots, so a change writes one row
 * per chunk it retires, not reference counts). A chunk written by a build
 * that never became a root is swept the same way.
 */
import { ChunkView, chunkCount, chunkId } from "../page-index/chunk.ts";
import { ID_BYTES, type IndexRoot, idToHex } from "../page-index/root.ts";
import type { CountedSql } from "./persist.ts";

/** How long an unreferenced chunk stays loadable (isolates hold roots for seconds, queries for at most minutes). */
export const CHUNK_GRACE_MS = 15 * 60_000;
/** Live versions whose changed chunks are remembered (older holders get a full root). */
export const HISTORY_VERSIONS = 2048;

type RootMeta = Omit<IndexRoot, "chunks">;

export class ChunkStore {
  readonly #sql: CountedSql;
  readonly #now: () => number;

  constructor(sql: CountedSql, now: () => number = Date.now) {
    this.#sql = sql;
    this.#now = now;
    // WITHOUT ROWID: one b-tree per table, so a write is one row written (storage bills rows, index entries included).
    sql.exec(`CREATE TABLE IF NOT EXISTS index_chunks (id TEXT PRIMARY KEY, data BLOB NOT NULL, created_at INTEGER NOT NULL, retired_at INTEGER) WITHOUT ROWID`);
    sql.exec(`CREATE TABLE IF NOT EXISTS index_roots (name TEXT PRIMARY KEY, meta TEXT NOT NULL, chunks BLOB NOT NULL) WITHOUT ROWID`);
    sql.exec(`CREATE TABLE IF NOT EXISTS index_history (version INTEGER PRIMARY KEY, chunks BLOB NOT NULL)`);
  }

  /** Stores a chunk (once per content) and returns its id. */
  async put(bytes: Uint8Array): Promise<string> {
    const id = await chunkId(bytes);
    // An existing chunk is left alone (no row written); a new one no root names is swept after the grace period.
    this.#sql.exec(`INSERT OR IGNORE INTO index_chunks (id, data, created_at, retired_at) VALUES (?, ?, ?, NULL)`, id, bytes, this.#now());
    return id;
  }

  /** A chunk's bytes, or null once it was swept. */
  get(id: string): Uint8Array | null {
    const row = this.#sql.exec<{ data: ArrayBuffer }>(`SELECT data FROM index_chunks WHERE id = ?`, id)[0];
    return row ? new Uint8Array(row.data) : null;
  }

  /** A decoded chunk (the DO's own reads). */
  view(id: string): ChunkView | null {
    const b = this.get(id);
    return b ? ChunkView.decode(b) : null;
  }

  root(name: string): IndexRoot | null {
    const row = this.#sql.exec<{ meta: string; chunks: ArrayBuffer }>(`SELECT meta, chunks FROM index_roots WHERE name = ?`, name)[0];
    if (!row) return null;
    return { ...(JSON.parse(row.meta) as RootMeta), chunks: new Uint8Array(row.chunks) };
  }

  rootNames(prefix: string): string[] {
    return this.#sql.exec<{ name: string }>(`SELECT name FROM index_roots WHERE name >= ? AND name < ?`, prefix, `${prefix}\uffff`).map((r) => r.name);
  }

  /**
   * Makes `root` the root called `name`, moving chunk references from the
   * root it replaces (only positions whose id changed are touched). Run it
   * inside the caller's `transactionSync` with whatever else must change with it.
   */
  setRoot(name: string, root: IndexRoot): void {
    if (root.chunks.length !== chunkCount(root.commit) * ID_BYTES) throw new RangeError(`root ${name}: ${root.chunks.length / ID_BYTES} chunk ids for ${root.commit} pages`);
    const old = this.root(name);
    const { chunks, ...meta } = root;
    this.#moveRefs(old?.chunks ?? new Uint8Array(0), chunks);
    // An upsert writes one row (a REPLACE would count a delete too).
    this.#sql.exec(
      `INSERT INTO index_roots (name, meta, chunks) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET meta = excluded.meta, chunks = excluded.chunks`,
      name,
      JSON.stringify(meta),
      chunks,
    );
  }

  /** {@link setRoot} in a transaction of its own. */
  setRootAtomically(name: string, root: IndexRoot): void {
    this.#sql.storage.transactionSync(() => this.setRoot(name, root));
  }

  /** Forgets a root (its chunks become unreferenced unless another root uses them). */
  deleteRoot(name: string): void {
    const old = this.root(name);
    if (!old) return;
    this.#sql.storage.transactionSync(() => {
      this.#moveRefs(old.chunks, new Uint8Array(0));
      this.#sql.exec(`DELETE FROM index_roots WHERE name = ?`, name);
    });
  }

  /** Stamps the chunks that left a root (positions whose id changed); the sweep decides whether another root still uses them. */
  #moveRefs(from: Uint8Array, to: Uint8Array): void {
    const n = from.length / ID_BYTES;
    const now = this.#now();
    for (let c = 0; c < n; c++) {
      const a = idToHex(from, c);
      const b = (c + 1) * ID_BYTES <= to.length ? idToHex(to, c) : null;
      if (a !== b) this.#sql.exec(`UPDATE index_chunks SET retired_at = ? WHERE id = ?`, now, a);
    }
  }

  /** Remembers which chunk numbers version `version` of the live root changed. */
  recordChange(version: number, changed: Iterable<number>): void {
    const list = Uint32Array.from(changed);
    this.#sql.exec(`INSERT INTO index_history (version, chunks) VALUES (?, ?) ON CONFLICT(version) DO UPDATE SET chunks = excluded.chunks`, version, new Uint8Array(list.buffer));
    this.#sql.exec(`DELETE FROM index_history WHERE version <= ?`, version - HISTORY_VERSIONS);
  }

  /**
   * Chunk numbers changed by versions after `since` up to `upTo`, or null
   * when the history does not reach back that far (the holder needs a full root).
   */
  changedSince(since: number, upTo: number): Set<number> | null {
    if (since >= upTo) return new Set();
    const rows = this.#sql.exec<{ version: number; chunks: ArrayBuffer }>(`SELECT version, chunks FROM index_history WHERE version > ? AND version <= ? ORDER BY version`, since, upTo);
    if (rows.length !== upTo - since) return null;
    const out = new Set<number>();
    for (const r of rows) for (const c of new Uint32Array(r.chunks)) out.add(c);
    return out;
  }

  /** Forgets the change history (a new generation starts: deltas across it make no sense). */
  clearHistory(): void {
    this.#sql.exec(`DELETE FROM index_history`);
  }

  /**
   * Deletes up to `limit` chunks that no current root names and that left a
   * root (or were written) longer than the grace period ago; returns how many.
   * Chunks still named are left as they are (no row written).
   */
  sweep(limit = 1000): number {
    const before = this.#now() - CHUNK_GRACE_MS;
    const ids = this.#sql.exec<{ id: string }>(`SELECT id FROM index_chunks WHERE coalesce(retired_at, created_at) < ?`, before);
    if (ids.length === 0) return 0;
    const named = new Set<string>();
    for (const r of this.#sql.exec<{ chunks: ArrayBuffer }>(`SELECT chunks FROM index_roots`)) {
      const b = new Uint8Array(r.chunks);
      for (let c = 0; c < b.length / ID_BYTES; c++) named.add(idToHex(b, c));
    }
    let deleted = 0;
    for (const { id } of ids) {
      if (deleted >= limit) break;
      if (named.has(id)) continue;
      this.#sql.exec(`DELETE FROM index_chunks WHERE id = ?`, id);
      deleted++;
    }
    return deleted;
  }

  /** Chunks stored and their bytes (status, benchmarks). */
  stats(): { chunks: number; bytes: number } {
    const r = this.#sql.exec<{ n: number; b: number | null }>(`SELECT count(*) AS n, sum(length(data)) AS b FROM index_chunks`)[0];
    return { chunks: r?.n ?? 0, bytes: r?.b ?? 0 };
  }

  /** Drops everything (a stored state that cannot be loaded). */
  clear(): void {
    this.#sql.storage.transactionSync(() => {
      this.#sql.exec(`DELETE FROM index_chunks`);
      this.#sql.exec(`DELETE FROM index_roots`);
      this.#sql.exec(`DELETE FROM index_history`);
    });
  }
}
