/**
 * @module
 * The contract between the read-only SQLite VFS and whatever fetches pages
 * (the LTX page fetcher). One PageSource is one immutable snapshot of one
 * database: a query pins exactly one, and may be handed a newer one next time.
 */

export interface PageSource {
  /** Page size in bytes: a power of two, 512..65536. */
  readonly pageSize: number;
  /** Database size in pages (the LTX Commit field); file size = pageCount * pageSize. */
  readonly pageCount: number;
  /** The snapshot (TXID) this source serves; its low 32 bits become SQLite's change counter. */
  readonly txid: number;
  /**
   * Unpatched bytes of page `pgno` (exactly pageSize long). Must not be
   * mutated by the caller. Never called for the lock page or pgno > pageCount.
   */
  readPage(pgno: number): Promise<Uint8Array>;
  /**
   * The same bytes as {@link readPage} when they are already in memory, else
   * null — without awaiting anything. Optional; it lets the VFS answer a
   * warm read synchronously, so SQLite's call never suspends (JSPI) or
   * unwinds the wasm stack (Asyncify). Must not count a miss as a read.
   */
  pageIfReady?(pgno: number): Uint8Array | null;
}

/** SQLite's lock-byte page: the page holding file offset 2^30 (0x40000000). */
export function lockPageNumber(pageSize: number): number {
  return Math.floor(0x40000000 / pageSize) + 1;
}

/** True when `n` is a valid SQLite page size (power of two, 512..65536). */
export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= 512 && n <= 65536 && (n & (n - 1)) === 0;
}

/** Throws a RangeError if the source's shape breaks the contract above. */
export function assertPageSourceShape(source: PageSource): void {
  if (!isValidPageSize(source.pageSize)) {
    throw new RangeError(`PageSource.pageSize ${source.pageSize} is not a power of two in 512..65536`);
  }
  if (!Number.isSafeInteger(source.pageCount) || source.pageCount < 0) {
    throw new RangeError(`PageSource.pageCount ${source.pageCount} is not a non-negative integer`);
  }
  if (!Number.isSafeInteger(source.txid) || source.txid < 0) {
    throw new RangeError(`PageSource.txid ${source.txid} is not a non-negative integer`);
  }
}
