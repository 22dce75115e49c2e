/**
 * @module
 * "ltx": a read-only wa-sqlite VFS whose main-database files are served page
 * by page from a {@link PageSource}. The source is pinned per file name for
 * the duration of one query ({@link LtxVfs.pin} / {@link LtxVfs.unpin}), so a
 * connection can be reused while the snapshot underneath moves forward.
 *
 * Only main databases can be opened. Journals, WAL, temp files and -shm do
 * not exist (xAccess says so, xOpen refuses them), and nothing is ever written.
 * Errors thrown by the source are kept so the engine can rethrow the original
 * error (with its `code`) instead of SQLite's generic SQLITE_IOERR.
 *
 * Two modes, one per kind of wa-sqlite build:
 * - suspending (JSPI, Asyncify): a read of pages in memory answers at once, a
 *   miss awaits the source;
 * - memory-only (the synchronous build, the engine's fast lane): a read can
 *   only answer from memory. A miss answers SQLITE_IOERR_READ and is noted
 *   ({@link LtxVfs.missed}): the engine then throws the attempt away and runs
 *   the query again on a suspending build. Never SQLITE_IOERR_SHORT_READ for
 *   a miss: SQLite would take that as zeros past EOF and carry on.
 */

import { FacadeVFS } from "@journeyapps/wa-sqlite/src/FacadeVFS.js";
import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";
import { assertPageSourceShape, type PageSource } from "./page-source.ts";
import { readRange, readRangeIfReady } from "./read-range.ts";

export const LTX_VFS_NAME = "ltx";

/** I/O counters for one pinned query. */
export interface VfsStats {
  /** PageSource.readPage calls. */
  pagesRead: number;
  /** xRead calls from SQLite (including the 100-byte header and 16-byte change-counter reads). */
  vfsReads: number;
}

interface Pin {
  readonly source: PageSource;
  readonly stats: VfsStats;
  /** First error thrown while serving this pin, if any. */
  failure: { error: unknown } | null;
  /** Memory-only mode: a read found a page not in memory (the attempt must be run again elsewhere). */
  missed: boolean;
}

export interface LtxVfsOptions {
  /** VFS name registered with SQLite. Default "ltx". */
  name?: string;
  /** Memory-only mode, for the synchronous build: reads never await (see the module notes). */
  memoryOnly?: boolean;
}

/**
 * A result already in hand, as a thenable whose `then` calls back at once (a
 * real Promise always calls back on a later tick). wa-sqlite's glue only
 * calls `then` on it (Asyncify) or awaits it (JSPI), so it stands in for the
 * Promise FacadeVFS declares.
 */
function settled(value: number): Promise<number> {
  const now = { then: (onFulfilled: (v: number) => unknown) => onFulfilled(value) };
  return now as unknown as Promise<number>;
}

export class LtxVfs extends FacadeVFS {
  readonly #pins = new Map<string, Pin>();
  /** Open sqlite3_file pointers → the file name they were opened with. */
  readonly #files = new Map<number, string>();

  /** True for the synchronous build: see the module notes. */
  readonly memoryOnly: boolean;

  constructor(module: object, options: LtxVfsOptions = {}) {
    super(options.name ?? LTX_VFS_NAME, module);
    this.memoryOnly = options.memoryOnly ?? false;
    // Database names are caller-chosen; the default of 64 bytes is tight.
    this.mxPathname = 512;
  }

  /** Serve `fileName` from `source` until {@link unpin}; resets stats and the kept error. */
  pin(fileName: string, source: PageSource): void {
    assertPageSourceShape(source);
    this.#pins.set(fileName, { source, stats: { pagesRead: 0, vfsReads: 0 }, failure: null, missed: false });
  }

  /** Forget the source, so a finished query can never touch it again. */
  unpin(fileName: string): void {
    this.#pins.delete(fileName);
  }

  /** Counters of the current pin (zeros when nothing is pinned). */
  stats(fileName: string): VfsStats {
    const pin = this.#pins.get(fileName);
    return pin ? { ...pin.stats } : { pagesRead: 0, vfsReads: 0 };
  }

  /** Returns and clears the first error kept for the current pin. */
  takeError(fileName: string): { error: unknown } | null {
    const pin = this.#pins.get(fileName);
    if (!pin) return null;
    const failure = pin.failure;
    pin.failure = null;
    return failure;
  }

  /** True when a read of the current pin found a page not in memory (memory-only mode). */
  missed(fileName: string): boolean {
    return this.#pins.get(fileName)?.missed ?? false;
  }

  /**
   * Only xRead awaits, and only in suspending mode (the synchronous build
   * refuses async methods); declared explicitly rather than relying on
   * AsyncFunction detection after transpiling.
   */
  override hasAsyncMethod(methodName: string): boolean {
    return !this.memoryOnly && methodName === "xRead";
  }

  override getFilename(pFile: number): string {
    const name = this.#files.get(pFile);
    if (name === undefined) throw new Error(`unknown file id ${pFile}`);
    return name;
  }

  override jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number {
    // Temp files (null name), journals, WAL and the rest do not exist here, and
    // neither does any main database without a pinned snapshot (e.g. VACUUM INTO).
    if (filename === null || (flags & VFS.SQLITE_OPEN_MAIN_DB) === 0) return VFS.SQLITE_CANTOPEN;
    if (!this.#pins.has(filename)) return VFS.SQLITE_CANTOPEN;
    this.#files.set(pFile, filename);
    // Whatever was asked for, the file is read-only; SQLite honours the out flags.
    const outFlags = (flags & ~(VFS.SQLITE_OPEN_READWRITE | VFS.SQLITE_OPEN_CREATE)) | VFS.SQLITE_OPEN_READONLY;
    pOutFlags.setInt32(0, outFlags, true);
    return VFS.SQLITE_OK;
  }

  override jClose(pFile: number): number {
    this.#files.delete(pFile);
    return VFS.SQLITE_OK;
  }

  override jAccess(filename: string, flags: number, pResOut: DataView): number {
    // Only a pinned main database exists, and never writably; hot-journal and
    // WAL probes therefore always answer "absent".
    const exists = this.#pins.has(filename) && flags !== VFS.SQLITE_ACCESS_READWRITE;
    pResOut.setInt32(0, exists ? 1 : 0, true);
    return VFS.SQLITE_OK;
  }

  override jDelete(): number {
    return VFS.SQLITE_READONLY;
  }

  /**
   * A read whose pages are in memory is answered synchronously, as a thenable
   * that calls back at once: Asyncify's handleAsync (`startAsync().then(wakeUp)`)
   * then wakes up before it would unwind, so the wasm stack is never unwound
   * and rewound for a cache hit. (JSPI's glue awaits whatever it gets, which
   * suspends cheaply.) Only a miss returns a real Promise. In memory-only
   * mode the answer is a plain number, and a miss is IOERR_READ.
   */
  override jRead(pFile: number, pData: Uint8Array, iOffset: number): Promise<number> | number {
    const pin = this.#pinOf(pFile);
    const now = this.memoryOnly ? (rc: number): number => rc : settled;
    if (!pin) {
      pData.fill(0);
      return now(VFS.SQLITE_IOERR_READ);
    }
    pin.stats.vfsReads++;
    const count = () => {
      pin.stats.pagesRead++;
    };
    try {
      const rc = readRangeIfReady(pin.source, pData, iOffset, count);
      if (rc !== null) return now(rc);
    } catch (error) {
      pin.failure ??= { error };
      return now(VFS.SQLITE_IOERR_READ);
    }
    if (this.memoryOnly) {
      pin.missed = true;
      pData.fill(0);
      return VFS.SQLITE_IOERR_READ;
    }
    return readRange(pin.source, pData, iOffset, count).catch((error: unknown) => {
      pin.failure ??= { error };
      return VFS.SQLITE_IOERR_READ;
    });
  }

  override jWrite(): number {
    return VFS.SQLITE_READONLY;
  }

  override jTruncate(): number {
    return VFS.SQLITE_READONLY;
  }

  override jSync(): number {
    return VFS.SQLITE_READONLY;
  }

  override jFileSize(pFile: number, pSize: DataView): number {
    const pin = this.#pinOf(pFile);
    if (!pin) {
      pSize.setBigInt64(0, 0n, true);
      return VFS.SQLITE_IOERR_FSTAT;
    }
    // Must be exact: the patched change counter makes SQLite ignore the header's page count.
    pSize.setBigInt64(0, BigInt(pin.source.pageCount) * BigInt(pin.source.pageSize), true);
    return VFS.SQLITE_OK;
  }

  // Locks are no-ops: nothing here ever writes, and each query pins an
  // immutable snapshot, so readers can never observe a torn state.
  override jLock(): number {
    return VFS.SQLITE_OK;
  }

  override jUnlock(): number {
    return VFS.SQLITE_OK;
  }

  override jCheckReservedLock(_pFile: number, pResOut: DataView): number {
    pResOut.setInt32(0, 0, true);
    return VFS.SQLITE_OK;
  }

  /**
   * Deliberately NOT SQLITE_IOCAP_IMMUTABLE: an immutable file makes SQLite
   * skip locking and with it the change-counter check at each read
   * transaction, so a reused connection would keep serving pages cached from
   * an older snapshot. Without it SQLite re-reads bytes 24..39 of page 1 per
   * transaction (one 16-byte read) and flushes its cache when the patched
   * counter (the TXID) moved. The other IOCAP bits only matter for writers.
   */
  override jDeviceCharacteristics(): number {
    return 0;
  }

  #pinOf(pFile: number): Pin | undefined {
    const name = this.#files.get(pFile);
    // No pin means I/O outside a query (an engine bug): the callers answer IOERR.
    return name === undefined ? undefined : this.#pins.get(name);
  }
}
