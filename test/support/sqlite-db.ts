/**
 * @module
 * Test helper: builds real SQLite database files inside workerd with the
 * synchronous wa-sqlite build and a small writable in-memory VFS, and serves
 * file bytes to the engine through a counting {@link PageSource}.
 */

import * as SQLite from "@journeyapps/wa-sqlite";
import syncFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite.mjs";
import syncWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite.wasm";
import { FacadeVFS } from "@journeyapps/wa-sqlite/src/FacadeVFS.js";
import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";
import type { PageSource } from "../../src/vfs/page-source.ts";

interface MemoryFile {
  data: Uint8Array;
  size: number;
}

/** A plain writable in-memory VFS (sync methods only) used to author fixtures. */
class WritableMemoryVfs extends FacadeVFS {
  readonly files = new Map<string, MemoryFile>();
  readonly #open = new Map<number, { name: string; deleteOnClose: boolean }>();
  #temp = 0;

  #file(pFile: number): MemoryFile {
    const entry = this.#open.get(pFile);
    const file = entry && this.files.get(entry.name);
    if (!file) throw new Error(`memory vfs: unknown file ${pFile}`);
    return file;
  }

  override jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number {
    const name = filename ?? `temp-${++this.#temp}`;
    if (!this.files.has(name)) {
      if ((flags & VFS.SQLITE_OPEN_CREATE) === 0) return VFS.SQLITE_CANTOPEN;
      this.files.set(name, { data: new Uint8Array(0), size: 0 });
    }
    this.#open.set(pFile, { name, deleteOnClose: (flags & VFS.SQLITE_OPEN_DELETEONCLOSE) !== 0 });
    pOutFlags.setInt32(0, flags, true);
    return VFS.SQLITE_OK;
  }

  override jClose(pFile: number): number {
    const entry = this.#open.get(pFile);
    this.#open.delete(pFile);
    if (entry?.deleteOnClose) this.files.delete(entry.name);
    return VFS.SQLITE_OK;
  }

  override jRead(pFile: number, pData: Uint8Array, iOffset: number): number {
    const file = this.#file(pFile);
    const available = Math.max(0, Math.min(pData.length, file.size - iOffset));
    if (available > 0) pData.set(file.data.subarray(iOffset, iOffset + available));
    if (available < pData.length) {
      pData.fill(0, available);
      return VFS.SQLITE_IOERR_SHORT_READ;
    }
    return VFS.SQLITE_OK;
  }

  override jWrite(pFile: number, pData: Uint8Array, iOffset: number): number {
    const file = this.#file(pFile);
    const end = iOffset + pData.length;
    if (end > file.data.length) {
      const grown = new Uint8Array(Math.max(end, file.data.length * 2));
      grown.set(file.data.subarray(0, file.size));
      file.data = grown;
    }
    file.data.set(pData.subarray(0, pData.length), iOffset);
    file.size = Math.max(file.size, end);
    return VFS.SQLITE_OK;
  }

  override jTruncate(pFile: number, size: number): number {
    const file = this.#file(pFile);
    if (size < file.size) file.data.fill(0, size, file.size);
    file.size = Math.min(file.size, size);
    return VFS.SQLITE_OK;
  }

  override jFileSize(pFile: number, pSize: DataView): number {
    pSize.setBigInt64(0, BigInt(this.#file(pFile).size), true);
    return VFS.SQLITE_OK;
  }

  override jAccess(filename: string, _flags: number, pResOut: DataView): number {
    pResOut.setInt32(0, this.files.has(filename) ? 1 : 0, true);
    return VFS.SQLITE_OK;
  }

  override jDelete(filename: string): number {
    this.files.delete(filename);
    return VFS.SQLITE_OK;
  }
}

let authoring: Promise<{ sqlite3: SQLiteAPI; vfs: WritableMemoryVfs }> | null = null;

async function authoringModule(): Promise<{ sqlite3: SQLiteAPI; vfs: WritableMemoryVfs }> {
  authoring ??= (async () => {
    const module: object = await syncFactory({
      locateFile: (path: string) => path,
      instantiateWasm(
        imports: WebAssembly.Imports,
        receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
      ): object {
        void WebAssembly.instantiate(syncWasm, imports).then((instance) => receive(instance, syncWasm));
        return {};
      },
    });
    const sqlite3 = SQLite.Factory(module);
    const vfs = new WritableMemoryVfs("fixture-mem", module);
    sqlite3.vfs_register(vfs, false);
    return { sqlite3, vfs };
  })();
  return authoring;
}

let fileCounter = 0;

/** A writable database in memory; exec SQL on it and snapshot its file bytes at any point. */
export class FixtureDb {
  readonly #sqlite3: SQLiteAPI;
  readonly #vfs: WritableMemoryVfs;
  readonly #db: number;
  readonly #name: string;

  private constructor(sqlite3: SQLiteAPI, vfs: WritableMemoryVfs, db: number, name: string) {
    this.#sqlite3 = sqlite3;
    this.#vfs = vfs;
    this.#db = db;
    this.#name = name;
  }

  /** A new empty database with the given page size (rollback journal kept in memory). */
  static async create(pageSize: number): Promise<FixtureDb> {
    const { sqlite3, vfs } = await authoringModule();
    const name = `fixture-${++fileCounter}.db`;
    const db = await sqlite3.open_v2(name, SQLite.SQLITE_OPEN_CREATE | SQLite.SQLITE_OPEN_READWRITE, vfs.name);
    const fixture = new FixtureDb(sqlite3, vfs, db, name);
    await fixture.exec(`PRAGMA page_size = ${pageSize}; PRAGMA journal_mode = MEMORY;`);
    return fixture;
  }

  async exec(sql: string): Promise<void> {
    await this.#sqlite3.exec(this.#db, sql);
  }

  /** Runs one statement with positional parameters (for values SQL literals cannot express well). */
  async run(sql: string, params: (number | bigint | string | Uint8Array | null)[]): Promise<void> {
    for await (const stmt of this.#sqlite3.statements(this.#db, sql)) {
      this.#sqlite3.bind_collection(stmt, params);
      while ((await this.#sqlite3.step(stmt)) === SQLite.SQLITE_ROW) {
        // drain
      }
    }
  }

  async query(sql: string): Promise<unknown[][]> {
    const rows: unknown[][] = [];
    await this.#sqlite3.exec(this.#db, sql, (row) => {
      rows.push(row);
    });
    return rows;
  }

  /** A copy of the database file as it is now. */
  bytes(): Uint8Array {
    const file = this.#vfs.files.get(this.#name);
    if (!file) throw new Error("fixture file missing");
    return file.data.slice(0, file.size);
  }

  async close(): Promise<void> {
    await this.#sqlite3.close(this.#db);
    this.#vfs.files.delete(this.#name);
  }
}

/** A copy of `bytes` whose header says WAL mode (bytes 18/19 = 2), as a WAL-mode primary's file does. */
export function asWalPrimary(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[18] = 2;
  copy[19] = 2;
  return copy;
}

/** The standard fixture: every value type, an index, and `rows` rows of ~230 bytes. */
export async function buildStandardDb(pageSize: number, rows = 4000): Promise<FixtureDb> {
  const db = await FixtureDb.create(pageSize);
  await db.exec(`
    CREATE TABLE kinds(id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n, u);
    CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, category INTEGER, price REAL, payload TEXT);
    CREATE INDEX items_category ON items(category);
    CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10;
    BEGIN;
    WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ${rows})
      INSERT INTO items SELECT x, 'item-' || x, x % 17, x * 0.5,
        replace(hex(zeroblob(100)), '0', char(65 + x % 26)) FROM s;
    COMMIT;
    PRAGMA user_version = 42;
  `);
  await db.run("INSERT INTO kinds VALUES (1, ?, 1.0, ?, ?, NULL, 1.0)", [
    9007199254740993n,
    "héllo wörld ✓ 日本語 🎉",
    new Uint8Array([0, 1, 2, 254, 255]),
  ]);
  // Empty BLOB and embedded NUL as SQL literals: wa-sqlite's bind helpers turn
  // an empty Uint8Array into NULL and cut bound text at the first NUL.
  await db.run("INSERT INTO kinds VALUES (2, ?, 1.5, '', x'', NULL, 2)", [-(2n ** 63n)]);
  await db.run("INSERT INTO kinds VALUES (3, ?, -0.25, 'nul' || char(0) || 'inside', NULL, NULL, 'x')", [2n ** 63n - 1n]);
  return db;
}

/** Page size from a database header (stored as 1 for 65536). */
export function headerPageSize(bytes: Uint8Array): number {
  const raw = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(16, false);
  return raw === 1 ? 65536 : raw;
}

/** Serves a database file from memory and records every readPage call. */
export class TestPageSource implements PageSource {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly txid: number;
  readonly bytes: Uint8Array;
  /** pgno of every readPage call, in order. */
  readonly calls: number[] = [];
  /** When set, readPage(pgno) throws what this returns (if anything). */
  failWith: ((pgno: number) => unknown) | null = null;
  /** Artificial latency per page, to exercise real suspension. */
  delayMs = 0;

  constructor(bytes: Uint8Array, txid: number, options: { pageSize?: number; pageCount?: number } = {}) {
    this.bytes = bytes;
    this.txid = txid;
    this.pageSize = options.pageSize ?? headerPageSize(bytes);
    this.pageCount = options.pageCount ?? bytes.length / this.pageSize;
  }

  async readPage(pgno: number): Promise<Uint8Array> {
    this.calls.push(pgno);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    else await Promise.resolve();
    const failure = this.failWith?.(pgno);
    if (failure !== undefined) throw failure;
    if (pgno < 1 || pgno > this.pageCount) throw new Error(`readPage(${pgno}) outside 1..${this.pageCount}`);
    // A view into the original bytes: any mutation by the reader would show up in the fixture.
    return this.bytes.subarray((pgno - 1) * this.pageSize, pgno * this.pageSize);
  }
}

/** Error with a stable code, like the page fetcher's errors. */
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}
