/**
 * @module
 * The isolate's page cache: raw LTX segments and decoded pages under one
 * byte budget (docs/limits.md), shared by every query and database.
 */
import { ByteLru } from "./lru.ts";
import type { LtxFileRef, PageLocation } from "./page-fetcher.ts";

/**
 * Isolate cache key of a segment: the database too, since ETags need not be
 * content hashes, and the admission epoch, so a re-admitted file never meets
 * bytes cached before it was quarantined.
 */
export function segKey(db: string, file: LtxFileRef, seg: number): string {
  return `${db}\n${file.key}\n${file.etag}\n${file.epoch}\n${seg}`;
}

/** Isolate cache key of a decoded page: its frame's place in a file version (as {@link segKey}). */
export function pageKey(db: string, at: PageLocation): string {
  const f = at.file;
  return `${db}\n${f.key}\n${f.etag}\n${f.epoch}\n@${at.offset}`;
}

/**
 * Isolate-wide caches, shared by every query and database of the isolate:
 * raw LTX segments (what storage and the Cache API return) and decoded
 * pages (what SQLite reads; a hit is served without awaiting).
 */
export class IsolateCaches {
  readonly segments: ByteLru<Uint8Array>;
  readonly pages: ByteLru<Uint8Array>;
  constructor(segmentBytes: number, pageBytes: number) {
    this.segments = new ByteLru(segmentBytes);
    this.pages = new ByteLru(pageBytes);
  }

  /**
   * One budget shared by the tiers. Either may use all of it, but when the
   * two together exceed it, segments go first (least recently used), down to
   * a floor of an eighth (256 KiB–8 MiB: what a query has fetched and not
   * decoded yet, read-ahead runs of ≤ 1 MiB); only then decoded pages. So a
   * scan keeps its decoded pages (a warm read of one is a map lookup; of a
   * segment, an LZ4 decode), while a read scattered over a large file, which
   * decodes few pages, keeps the raw blocks it will come back to (each
   * otherwise costs a Cache API lookup or a storage read again).
   */
  static fromBudget(totalBytes: number): IsolateCaches {
    const floor = Math.min(8 * 1024 * 1024, Math.max(256 * 1024, Math.floor(totalBytes / 8)));
    const caches = new IsolateCaches(totalBytes, Math.max(0, totalBytes - floor));
    const { segments, pages } = caches;
    const trim = (): void => {
      while (segments.byteLength + pages.byteLength > totalBytes) {
        if (segments.byteLength > floor && segments.evictOldest()) continue;
        if (!pages.evictOldest()) break;
      }
    };
    segments.onInsert = trim;
    pages.onInsert = trim;
    caches.budget = totalBytes;
    return caches;
  }

  /** The budget this was made from ({@link fromBudget}), or null. */
  budget: number | null = null;
}
