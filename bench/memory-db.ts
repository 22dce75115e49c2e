/**
 * wa-sqlite with the whole database in memory, inside workerd: the ceiling
 * of the wasm path that issue 9 measures ltx-edge against. One read-only VFS
 * with synchronous methods only (so neither JSPI nor Asyncify ever suspends)
 * serving a Uint8Array, on any of the three builds: the synchronous one (no
 * suspension machinery at all), JSPI and Asyncify.
 *
 * Like ltx-edge's VFS it patches bytes 18/19 of page 1 to 1 (rollback
 * journal: no WAL, no -shm) and is not IOCAP_IMMUTABLE, so SQLite does the
 * same per-transaction change-counter read; only where pages come from differs.
 */
import * as SQLite from "@journeyapps/wa-sqlite";
import syncFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite.mjs";
import syncWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite.wasm";
import { FacadeVFS } from "@journeyapps/wa-sqlite/src/FacadeVFS.js";
import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";
import { readColumn } from "../src/sql/values.ts";
import { instantiateSqlite, type SqliteWasmModule } from "../src/vfs/sqlite-module.ts";

export type MemoryBuild = "sync" | "jspi" | "asyncify";

/**
 * Read-only, synchronous, one file: the database bytes. Opened with
 * SQLITE_OPEN_READONLY, so SQLite never writes, truncates or syncs; locks and
 * device characteristics (0: not immutable, as ltx-edge's VFS) are
 * FacadeVFS's defaults.
 */
class ReadOnlyMemoryVfs extends FacadeVFS {
  readonly #bytes: Uint8Array;

  constructor(name: string, module: object, bytes: Uint8Array) {
    super(name, module);
    this.#bytes = bytes;
  }

  /** Nothing here awaits: the builds call every method synchronously. */
  override hasAsyncMethod(): boolean {
    return false;
  }

  override jOpen(filename: string | null, _pFile: number, flags: number, pOutFlags: DataView): number {
    // Only the main database exists: temp files stay in memory (temp_store), journals are never made.
    if (filename === null || (flags & VFS.SQLITE_OPEN_MAIN_DB) === 0) return VFS.SQLITE_CANTOPEN;
    pOutFlags.setInt32(0, (flags & ~(VFS.SQLITE_OPEN_READWRITE | VFS.SQLITE_OPEN_CREATE)) | VFS.SQLITE_OPEN_READONLY, true);
    return VFS.SQLITE_OK;
  }

  override jAccess(_filename: string, _flags: number, pResOut: DataView): number {
    // Journals and WAL never exist; the main file is opened directly.
    pResOut.setInt32(0, 0, true);
    return VFS.SQLITE_OK;
  }

  override jRead(_pFile: number, pData: Uint8Array, iOffset: number): number {
    const n = Math.max(0, Math.min(pData.length, this.#bytes.length - iOffset));
    if (n > 0) pData.set(this.#bytes.subarray(iOffset, iOffset + n));
    if (n < pData.length) {
      pData.fill(0, n);
      return VFS.SQLITE_IOERR_SHORT_READ;
    }
    return VFS.SQLITE_OK;
  }

  override jFileSize(_pFile: number, pSize: DataView): number {
    pSize.setBigInt64(0, BigInt(this.#bytes.length), true);
    return VFS.SQLITE_OK;
  }
}

async function loadSync(): Promise<object> {
  return (await syncFactory({
    locateFile: (path: string) => path,
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object {
      void WebAssembly.instantiate(syncWasm, imports).then((instance) => receive(instance, syncWasm));
      return {};
    },
  })) as object;
}

/** One connection to an in-memory copy of a database, on one build. */
export class MemoryDb {
  readonly build: MemoryBuild;
  readonly #sqlite3: SQLiteAPI;
  readonly #module: SqliteWasmModule;
  readonly #db: number;

  private constructor(build: MemoryBuild, sqlite3: SQLiteAPI, module: SqliteWasmModule, db: number) {
    this.build = build;
    this.#sqlite3 = sqlite3;
    this.#module = module;
    this.#db = db;
  }

  /** Opens `bytes` (a database file; copied and patched to rollback mode) read-only on `build`. */
  static async open(build: MemoryBuild, bytes: Uint8Array): Promise<MemoryDb> {
    const copy = bytes.slice();
    copy[18] = 1;
    copy[19] = 1;
    let module: SqliteWasmModule;
    let sqlite3: SQLiteAPI;
    if (build === "sync") {
      module = (await loadSync()) as SqliteWasmModule;
      sqlite3 = SQLite.Factory(module);
    } else {
      const inst = await instantiateSqlite(build);
      module = inst.module;
      sqlite3 = inst.sqlite3;
    }
    const vfs = new ReadOnlyMemoryVfs(`mem-${build}`, module, copy);
    sqlite3.vfs_register(vfs, false);
    const db = await sqlite3.open_v2("bench.db", SQLite.SQLITE_OPEN_READONLY, vfs.name);
    // As the engine does: sorts and temp b-trees in memory (the VFS has no temp files).
    await sqlite3.exec(db, "PRAGMA temp_store = MEMORY");
    return new MemoryDb(build, sqlite3, module, db);
  }

  /**
   * Runs one statement: prepared, stepped and finalized each time, its values
   * read with the engine's own column reader (src/sql/values.ts), so the
   * comparison with the engine leaves out only the page path and its guards.
   */
  async query(sql: string): Promise<unknown[][]> {
    const sqlite3 = this.#sqlite3;
    const rows: unknown[][] = [];
    const none = () => undefined;
    for await (const stmt of sqlite3.statements(this.#db, sql)) {
      const n = sqlite3.column_count(stmt);
      while ((await sqlite3.step(stmt)) === SQLite.SQLITE_ROW) {
        const row = new Array<unknown>(n);
        for (let i = 0; i < n; i++) row[i] = readColumn(sqlite3, this.#module, stmt, i, none);
        rows.push(row);
      }
    }
    return rows;
  }

  /** wasm memory of this instance, bytes (HEAPU8 is replaced when memory grows: read it each time). */
  get memoryBytes(): number {
    return this.#module.HEAPU8.byteLength;
  }
}
