/**
 * @module
 * The byte-level read path of the LTX VFS, kept free of wasm so it can be
 * unit-tested directly: maps any (offset, length) onto whole pages of a
 * PageSource, zero-fills the lock page and everything past EOF, and applies
 * the page-1 header patch to the copy it returns.
 */

import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";
import { VfsError } from "./errors.ts";
import { lockPageNumber, type PageSource } from "./page-source.ts";

/**
 * The destination of a read. SQLite's buffer arrives as wa-sqlite's proxy over
 * wasm memory, which survives memory growth across awaits but only offers the
 * Uint8Array methods below (never keep a `subarray()` of it across an await).
 */
export interface ReadTarget {
  readonly length: number;
  set(array: ArrayLike<number>, offset?: number): void;
  fill(value: number, start?: number, end?: number): void;
}

/**
 * Returns a patched copy of page 1 (the source's bytes are never touched):
 * - bytes 18/19 (write/read format version) = 1: rollback-journal mode, so
 *   SQLite never looks for -wal/-shm files (a WAL-mode primary stores 2/2);
 * - bytes 24..27 (file change counter) = low 32 bits of the TXID, big-endian:
 *   a connection reused across snapshots compares this value when it takes
 *   its SHARED lock and drops its page cache when it differs.
 * Because 24..27 no longer match 92..95, SQLite ignores the in-header page
 * count and trusts xFileSize, which is exact (pageCount × pageSize).
 */
export function patchPage1(page: Uint8Array, txid: number): Uint8Array {
  const copy = page.slice();
  if (copy.length >= 28) {
    copy[18] = 1;
    copy[19] = 1;
    new DataView(copy.buffer, copy.byteOffset, copy.byteLength).setUint32(24, txid >>> 0, false);
  }
  return copy;
}

/** Checks a page a source returned against the contract. */
function checkPage(page: unknown, pgno: number, pageSize: number): asserts page is Uint8Array {
  if (!(page instanceof Uint8Array) || page.length !== pageSize) {
    throw new VfsError(
      "VFS_BAD_PAGE",
      `PageSource.readPage(${pgno}) returned ${page instanceof Uint8Array ? `${page.length} bytes` : typeof page}, expected ${pageSize}`,
    );
  }
}

/**
 * {@link readRange} without awaiting: fills `target` and returns the result
 * code when every page the range touches is already in memory
 * (`pageIfReady`), else returns null having written nothing and counted
 * nothing, and the caller takes the asynchronous path.
 */
export function readRangeIfReady(source: PageSource, target: ReadTarget, offset: number, onPageRead?: (pgno: number) => void): number | null {
  if (!source.pageIfReady) return null;
  const { pageSize, pageCount } = source;
  const length = target.length;
  const end = Math.min(offset + length, pageCount * pageSize);
  const lockPage = lockPageNumber(pageSize);
  const firstPg = Math.floor(offset / pageSize) + 1;
  const lastPg = end > offset ? Math.floor((end - 1) / pageSize) + 1 : firstPg - 1;
  // SQLite reads one page (or a header slice of one) at a time; anything wider goes the general way.
  if (lastPg > firstPg) return null;
  let page: Uint8Array | null = null;
  if (lastPg === firstPg && firstPg !== lockPage) {
    page = source.pageIfReady(firstPg);
    if (page === null) return null;
    checkPage(page, firstPg, pageSize);
    onPageRead?.(firstPg);
    if (firstPg === 1) page = patchPage1(page, source.txid);
  }
  const inPage = offset - (firstPg - 1) * pageSize;
  const take = Math.max(0, end - offset);
  if (page) target.set(page.subarray(inPage, inPage + take), 0);
  else if (take > 0) target.fill(0, 0, take);
  if (take < length) {
    target.fill(0, take, length);
    return VFS.SQLITE_IOERR_SHORT_READ;
  }
  return VFS.SQLITE_OK;
}

/**
 * Fills `target` with `target.length` bytes of the database file starting at
 * `offset`. Returns SQLITE_OK, or SQLITE_IOERR_SHORT_READ when the range runs
 * past EOF (the missing tail is zero-filled, as SQLite requires). Errors
 * thrown by `source.readPage` propagate unchanged.
 */
export async function readRange(
  source: PageSource,
  target: ReadTarget,
  offset: number,
  onPageRead?: (pgno: number) => void,
): Promise<number> {
  const { pageSize, pageCount } = source;
  const fileSize = pageCount * pageSize;
  const lockPage = lockPageNumber(pageSize);
  const length = target.length;
  let done = 0;
  while (done < length) {
    const pos = offset + done;
    if (pos >= fileSize) {
      target.fill(0, done, length);
      return VFS.SQLITE_IOERR_SHORT_READ;
    }
    const pgno = Math.floor(pos / pageSize) + 1;
    const inPage = pos - (pgno - 1) * pageSize;
    const take = Math.min(pageSize - inPage, length - done);
    if (pgno === lockPage) {
      // Never stored in LTX files; SQLite never keeps data there.
      target.fill(0, done, done + take);
    } else {
      onPageRead?.(pgno);
      const read: unknown = await source.readPage(pgno);
      checkPage(read, pgno, pageSize);
      const page = pgno === 1 ? patchPage1(read, source.txid) : read;
      target.set(page.subarray(inPage, inPage + take), done);
    }
    done += take;
  }
  return VFS.SQLITE_OK;
}
