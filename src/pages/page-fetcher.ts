/**
 * @module
 * Where SQLite's page reads go: a {@link PageSource} over one page-index
 * snapshot that reads LTX bytes in fixed, aligned *segments* of each file.
 *
 * Tiers, fastest first:
 * 1. the isolate's segment cache (raw LTX bytes; compressed, so more fits) —
 *    bounded in bytes, shared by all queries of the isolate;
 * 2. the Cache API (`caches.default`), per colo, in aligned blocks of
 *    {@link CACHE_BLOCK_SEGMENTS} segments (one put and one match per
 *    256 KiB, so a scan's puts fit its subrequest budget), under immutable
 *    keys (edge-tier.ts);
 * 3. one storage range read per run of missing neighbouring segments,
 *    widened to whole cache blocks (run-plan.ts); runs grow while access is
 *    sequential (capped at 1 MiB), and once a scan runs at full length the
 *    next run is fetched while SQLite works through the current one; a
 *    query's second miss in one 1 MiB region reads the rest of the region
 *    and the frames after each page it reads there are decoded ahead
 *    (dense-regions.ts); independent runs are fetched in parallel (at most 6
 *    connections).
 *
 * A page is decoded from the segment bytes that hold its frame (a frame may
 * straddle two segments), checked against its pgno, and kept in the
 * decoded-page LRU (most of the isolate's cache budget), from which
 * {@link IndexPageSource.pageIfReady} serves warm reads without awaiting.
 *
 * Budget: every storage read and every Cache API operation (match, put,
 * delete) is a subrequest on Cloudflare, so all of them count toward the
 * query's `maxStorageRequests` (its subrequest budget). Storage reads fail the
 * query when it is spent; Cache API operations are optional and are skipped
 * instead (edge-tier.ts), so storage reads always have the second half of
 * the budget; read-ahead leaves demand reads a reserve.
 */
import { LtxError } from "../ltx/errors.ts";
import type { ChunkFile } from "../page-index/chunk.ts";
import { StorageError, type ObjectStore } from "../replica/types.ts";
import type { PageSource } from "../vfs/page-source.ts";
import { type IsolateCaches, pageKey, segKey } from "./isolate-caches.ts";
import { DEMAND_RESERVE, type FetchStats, FetchLimitError, newFetchStats, subrequests } from "./stats.ts";
import { CACHE_BLOCK_SEGMENTS, EdgeTier, SEGMENT_BYTES, blockOf } from "./edge-tier.ts";
import { DenseRegions } from "./dense-regions.ts";
import { decodeFrameFrom } from "./frame-walk.ts";
import { planRuns } from "./run-plan.ts";

/** Largest single storage read while scanning sequentially. */
export const MAX_RUN_BYTES = 1024 * 1024;
/** Parallel storage reads per query (Workers allow 6 open connections). */
export const MAX_PARALLEL = 6;

export { IsolateCaches } from "./isolate-caches.ts";
export { CACHE_BLOCK_SEGMENTS, SEGMENT_BYTES, edgeCacheUrl } from "./edge-tier.ts";
export { DEMAND_RESERVE, type FetchStats, FetchLimitError, newFetchStats, subrequests } from "./stats.ts";

/** An LTX file pages are read from (as the index names it). */
export type LtxFileRef = Pick<ChunkFile, "key" | "etag" | "size" | "epoch">;

/** Where a page lives. */
export interface PageLocation {
  file: LtxFileRef;
  offset: number;
  size: number;
}

/**
 * One version of a database's page index, as the fetcher reads it: the
 * chunked index's pinned root (src/query/chunk-cache.ts) or a whole
 * in-memory PageIndex (the CLI). `locate` answers synchronously when it can
 * (a warm chunk), so page reads from the isolate cache never await.
 */
export interface PageLocator {
  readonly pageSize: number;
  readonly commit: number;
  readonly txid: number;
  locate(pgno: number): PageLocation | null | Promise<PageLocation | null>;
  /** The same answer when known without loading anything, else undefined. Optional: without it nothing is decoded ahead. */
  locateNow?(pgno: number): PageLocation | null | undefined;
}

/** Per-file state key: a file version as the index names it. */
function fileId(f: LtxFileRef): string {
  return `${f.key}\n${f.etag}\n${f.epoch}`;
}

export interface FetcherOptions {
  /** Database name (part of Cache API keys). */
  db: string;
  store: ObjectStore;
  caches: IsolateCaches;
  /** `caches.default`, or null to skip the Cache API tier. */
  edgeCache: Cache | null;
  /**
   * The query's subrequest budget: storage reads plus Cache API operations
   * (named for what it mostly counts; Cloudflare counts both as subrequests).
   */
  maxStorageRequests: number;
  stats?: FetchStats;
  /** Called for background work (Cache API puts) so the response need not wait. */
  waitUntil?: (p: Promise<unknown>) => void;
}

/** A PageSource over one immutable index snapshot. */
export class IndexPageSource implements PageSource {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly txid: number;
  readonly stats: FetchStats;
  private readonly locator: PageLocator;
  private readonly opts: FetcherOptions;
  /** Sequential-run detection: the segment after the last run fetched, per file. */
  private nextSeg = new Map<string, { seg: number; run: number }>();
  /** An index chunk load {@link pageIfReady} started, for the readPage that follows it. */
  private loading: { pgno: number; found: Promise<PageLocation | null> } | null = null;
  /** Storage reads in flight, and reads waiting for one of the {@link MAX_PARALLEL} slots. */
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** Segments of runs fetched ahead of need (a scan's next run), by segment key. */
  private readonly ahead = new Map<string, Promise<Uint8Array | null>>();
  /** First segment of each run fetched ahead → the run's end, to keep the pipeline one run ahead. */
  private readonly aheadRuns = new Map<string, { file: LtxFileRef; end: number }>();
  /** The regions this query reads densely, and their decode-ahead (dense-regions.ts). */
  private readonly regions: DenseRegions;

  private readonly edge: EdgeTier;

  constructor(locator: PageLocator, opts: FetcherOptions) {
    this.locator = locator;
    this.opts = opts;
    this.pageSize = locator.pageSize;
    this.pageCount = locator.commit;
    this.txid = locator.txid;
    this.stats = opts.stats ?? newFetchStats();
    this.edge = new EdgeTier({
      db: opts.db,
      cache: opts.edgeCache,
      caches: opts.caches,
      stats: this.stats,
      budget: opts.maxStorageRequests,
      waitUntil: opts.waitUntil,
    });
    const { db, caches } = opts;
    this.regions = new DenseRegions(
      MAX_RUN_BYTES,
      SEGMENT_BYTES,
      {
        pageSize: this.pageSize,
        pageCount: this.pageCount,
        // Never a chunk load: decoding ahead is not worth a subrequest.
        locateNow: (p) => this.locator.locateNow?.(p) ?? null,
        isDecoded: (at) => caches.pages.has(pageKey(db, at)),
        keep: (at, page) => {
          caches.pages.set(pageKey(db, at), page);
          this.stats.pagesDecodedAhead++;
        },
      },
      (file, first, last) => this.heldSegments(file, first, last),
    );
  }

  /** A page whose bytes are already in the isolate (decoded, or in its segments), found without awaiting; else null. */
  pageIfReady(pgno: number): Uint8Array | null {
    // Its chunk is loading already (a fast-lane attempt started it): readPage takes that load over.
    if (this.loading?.pgno === pgno) return null;
    const found = this.locator.locate(pgno);
    if (found instanceof Promise) {
      // The chunk is loading now: readPage (which SQLite's read calls next) takes this load over
      // rather than starting another, and its errors are reported there, never left unhandled.
      found.catch(() => undefined);
      this.loading = { pgno, found };
      return null;
    }
    if (found === null) return null;
    const cached = this.opts.caches.pages.get(pageKey(this.opts.db, found));
    if (cached) {
      this.stats.pagesRead++;
      this.stats.pageHits++;
      return cached;
    }
    // Not decoded, but its bytes may be here (a block the Cache API or a run brought): decode it
    // now rather than make SQLite's call suspend (JSPI) or unwind (Asyncify) for CPU work.
    return this.decodeNow(pgno, found);
  }

  /**
   * Page `pgno` decoded from the isolate's segments without awaiting, or null:
   * a segment missing, or part of a read-ahead not consumed yet (readPage
   * takes it, which keeps a scan's pipeline going), or bytes that fail to
   * decode (readPage decodes them again and reports the error).
   */
  private decodeNow(pgno: number, ref: PageLocation): Uint8Array | null {
    const { db, caches } = this.opts;
    const first = Math.floor(ref.offset / SEGMENT_BYTES);
    const parts = this.heldSegments(ref.file, first, Math.floor((ref.offset + ref.size - 1) / SEGMENT_BYTES));
    if (parts === null) return null;
    let page: Uint8Array;
    try {
      page = decodeFrameFrom(parts, first * SEGMENT_BYTES, ref, pgno, this.pageSize);
    } catch {
      return null;
    }
    caches.pages.set(pageKey(db, ref), page);
    this.stats.pagesRead++;
    this.stats.isolateHits += parts.length;
    return page;
  }

  async readPage(pgno: number): Promise<Uint8Array> {
    this.stats.pagesRead++;
    const loading = this.loading;
    this.loading = null;
    const found = loading?.pgno === pgno ? loading.found : this.locator.locate(pgno);
    // Only a chunk of the index not yet loaded makes this await.
    const ref = found instanceof Promise ? await found : found;
    if (!ref) throw new LtxError("LTX_BAD_INDEX", `page ${pgno} is not in the index at TXID ${this.txid}`);
    const { file, offset, size } = ref;
    const key = pageKey(this.opts.db, ref);
    const cached = this.opts.caches.pages.get(key);
    if (cached) {
      this.stats.pageHits++;
      return cached;
    }
    const first = Math.floor(offset / SEGMENT_BYTES);
    const last = Math.floor((offset + size - 1) / SEGMENT_BYTES);
    const segs = await this.segments(file, first, last);
    let page: Uint8Array;
    try {
      page = decodeFrameFrom(segs, first * SEGMENT_BYTES, ref, pgno, this.pageSize);
    } catch (e) {
      // Never keep bytes that failed to decode, in the isolate or in the Cache API.
      for (let s = first; s <= last; s++) this.opts.caches.segments.delete(segKey(this.opts.db, file, s));
      this.edge.forget(file, blockOf(first), blockOf(last));
      throw e;
    }
    this.opts.caches.pages.set(key, page);
    this.regions.afterRead(fileId(ref.file), pgno, ref);
    return page;
  }

  /** Segments [first, last] of a file, from the cheapest tier that has each. */
  private async segments(file: LtxFileRef, first: number, last: number): Promise<Uint8Array[]> {
    const out: (Uint8Array | undefined)[] = [];
    const missing: number[] = [];
    for (let s = first; s <= last; s++) {
      const key = segKey(this.opts.db, file, s);
      // Read-ahead first: consuming it keeps the scan's pipeline going (it is in the isolate cache too).
      // (Only awaited when a read-ahead exists: page reads stay synchronous on isolate hits.)
      const hit = (this.ahead.has(key) ? await this.takeAhead(key) : null) ?? this.opts.caches.segments.get(key);
      if (hit) {
        this.stats.isolateHits++;
        out[s - first] = hit;
      } else missing.push(s);
    }
    if (missing.length === 0) return out as Uint8Array[];
    // One Cache API match per block that holds missing segments; a hit fills the isolate cache with the whole block.
    const blocks = [...new Set(missing.map(blockOf))];
    const fromEdge = new Map<number, Uint8Array>();
    // Blocks of one frame (it may cross a block boundary) are not a scan: only the first may start read-ahead.
    for (const got of await Promise.all(blocks.map((b, i) => this.edge.get(file, b, i === 0)))) if (got) for (const [s, seg] of got) fromEdge.set(s, seg);
    const toFetch: number[] = [];
    for (const s of missing) {
      const b = fromEdge.get(s);
      if (b) {
        this.stats.cacheHits++;
        out[s - first] = b;
      } else toFetch.push(s);
    }
    if (toFetch.length > 0) {
      const fetched = await this.fetchSegments(file, toFetch);
      for (const [s, b] of fetched) if (s >= first && s <= last) out[s - first] = b;
    }
    return out as Uint8Array[];
  }

  /** A segment fetched ahead, if any; consuming a run's first segment starts the next run. */
  private async takeAhead(key: string): Promise<Uint8Array | null> {
    const p = this.ahead.get(key);
    if (!p) return null;
    this.ahead.delete(key);
    const run = this.aheadRuns.get(key);
    this.aheadRuns.delete(key);
    const seg = await p;
    // Keep one run ahead — unless this one failed, when the demand path takes over.
    if (seg && run) this.fetchAhead(run.file, run.end + 1);
    return seg;
  }

  /**
   * Starts fetching the full-length run at `from` without waiting for it, unless
   * it is cached already, the file ends, or the query's storage budget is spent
   * (read-ahead never fails a query).
   */
  private fetchAhead(file: LtxFileRef, from: number): void {
    const lastSeg = Math.floor((file.size - 1) / SEGMENT_BYTES);
    // A read-ahead may cost a Cache API match and a storage read; it leaves the
    // last DEMAND_RESERVE requests of the budget to reads SQLite actually asked for.
    if (from > lastSeg || subrequests(this.stats) + 2 + DEMAND_RESERVE > this.opts.maxStorageRequests) return;
    const firstKey = segKey(this.opts.db, file, from);
    if (this.ahead.has(firstKey) || this.opts.caches.segments.get(firstKey)) return;
    const end = Math.min(lastSeg, from + MAX_RUN_BYTES / SEGMENT_BYTES - 1);
    const into = new Map<number, Uint8Array>();
    const landed = (async (): Promise<boolean> => {
      // Another isolate may have put this run in the Cache API: then it costs no storage request.
      if (await this.edge.get(file, blockOf(from))) return false;
      await this.fetchRun(file, from, end, into);
      return true;
    })();
    // If it does not land, the demand path takes over at full run length (no ramp again).
    landed.then(
      (ok) => {
        if (!ok) this.nextSeg.set(fileId(file), { seg: from, run: end - from + 1 });
      },
      () => this.nextSeg.set(fileId(file), { seg: from, run: end - from + 1 }),
    );
    for (let s = from; s <= end; s++) {
      const seg = landed.then(
        (ok) => (ok ? (into.get(s) ?? null) : null),
        () => null, // a failed read-ahead falls back to the normal path, which reports the error
      );
      this.ahead.set(segKey(this.opts.db, file, s), seg);
    }
    this.aheadRuns.set(firstKey, { file, end });
    this.nextSeg.set(fileId(file), { seg: end + 1, run: end - from + 1 });
  }

  /** Read-ahead still in flight when the query ends (to hand to waitUntil). */
  settle(): Promise<unknown> {
    return Promise.all([...this.ahead.values()]);
  }

  /**
   * Fetches the given segments (plus read-ahead when access is sequential)
   * in runs of contiguous segments, in parallel, and caches them.
   */
  private async fetchSegments(file: LtxFileRef, segs: number[]): Promise<Map<number, Uint8Array>> {
    const maxRun = MAX_RUN_BYTES / SEGMENT_BYTES;
    const id = fileId(file);
    const denseRegion = this.regions.note(id, segs[0] as number);
    const plan = planRuns({
      segs,
      lastSeg: Math.floor((file.size - 1) / SEGMENT_BYTES),
      block: CACHE_BLOCK_SEGMENTS,
      maxRun,
      seq: this.nextSeg.get(id),
      cached: (s) => this.opts.caches.segments.has(segKey(this.opts.db, file, s)),
      denseRegion,
    });
    // A dense read is not a scan: a miss right after it starts no sequential ramp.
    this.nextSeg.set(id, { seg: plan.end + 1, run: plan.dense ? 1 : Math.max(1, plan.end - plan.from + 1) });
    const result = new Map<number, Uint8Array>();
    // A scan at full speed: fetch its next run while this one is consumed.
    if (plan.sequential && plan.runLen === maxRun) this.fetchAhead(file, plan.end + 1);
    for (let i = 0; i < plan.runs.length; i += MAX_PARALLEL) {
      await Promise.all(plan.runs.slice(i, i + MAX_PARALLEL).map(([a, b]) => this.fetchRun(file, a, b, result)));
    }
    return result;
  }

  /** Segments [first, last] from the isolate, or null when one is missing or part of a read-ahead not consumed yet. */
  private heldSegments(file: LtxFileRef, first: number, last: number): Uint8Array[] | null {
    const parts: Uint8Array[] = [];
    for (let s = first; s <= last; s++) {
      const key = segKey(this.opts.db, file, s);
      const seg = this.ahead.has(key) ? undefined : this.opts.caches.segments.get(key);
      if (!seg) return null;
      parts.push(seg);
    }
    return parts;
  }

  /**
   * At most {@link MAX_PARALLEL} storage reads of this query in flight at once,
   * demand reads and read-ahead together (Workers allow 6 open connections per
   * request). The waiting promises never leave this query's own request.
   */
  private async slot<T>(read: () => Promise<T>): Promise<T> {
    while (this.inFlight >= MAX_PARALLEL) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.inFlight++;
    try {
      return await read();
    } finally {
      this.inFlight--;
      this.slotWaiters.shift()?.();
    }
  }

  private async fetchRun(file: LtxFileRef, a: number, b: number, into: Map<number, Uint8Array>): Promise<void> {
    if (subrequests(this.stats) >= this.opts.maxStorageRequests) throw new FetchLimitError(this.opts.maxStorageRequests);
    this.stats.storageRequests++;
    const offset = a * SEGMENT_BYTES;
    const length = Math.min(file.size, (b + 1) * SEGMENT_BYTES) - offset;
    let bytes: Uint8Array;
    try {
      const r = await this.slot(() => this.opts.store.getRange(file.key, offset, length));
      if (r.etag && file.etag && stripQuotes(r.etag) !== stripQuotes(file.etag)) {
        throw new StorageError("STORAGE_NOT_FOUND", `${file.key} was replaced (ETag changed); the index is stale`, { key: file.key });
      }
      bytes = r.bytes;
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError("STORAGE_ERROR", `reading ${file.key}: ${e instanceof Error ? e.message : String(e)}`, { key: file.key, cause: e });
    }
    if (bytes.length !== length) {
      throw new StorageError("STORAGE_BAD_RESPONSE", `short read of ${file.key}: ${bytes.length} of ${length} bytes`, { key: file.key });
    }
    this.stats.bytesFetched += bytes.length;
    this.stats.cacheMisses += b - a + 1;
    for (let s = a; s <= b; s++) {
      const seg = bytes.slice((s - a) * SEGMENT_BYTES, Math.min(bytes.length, (s - a + 1) * SEGMENT_BYTES));
      into.set(s, seg);
      this.opts.caches.segments.set(segKey(this.opts.db, file, s), seg);
    }
    // Every block the run holds whole (runs are block-aligned; a file's last block may be short).
    const lastSeg = Math.floor((file.size - 1) / SEGMENT_BYTES);
    for (let k = blockOf(a); k <= blockOf(b); k++) {
      const s0 = k * CACHE_BLOCK_SEGMENTS;
      const s1 = Math.min(lastSeg, s0 + CACHE_BLOCK_SEGMENTS - 1);
      if (s0 < a || s1 > b) continue;
      this.edge.put(file, k, bytes.slice((s0 - a) * SEGMENT_BYTES, Math.min(bytes.length, (s1 - a + 1) * SEGMENT_BYTES)));
    }
  }
}

function stripQuotes(s: string): string {
  return s.replace(/"/g, "");
}
