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
 *    256 KiB, so a scan's puts fit its subrequest budget) — keys are
 *    synthetic and immutable (database, object key, ETag, admission epoch,
 *    block size, block number): LTX files never change under an ETag, so
 *    nothing is invalidated; a file the Durable Object re-admits after it
 *    failed verification gets a new epoch, so bytes cached before are
 *    unreachable;
 * 3. one storage range read per run of missing neighbouring segments,
 *    widened to whole cache blocks; runs grow while access is sequential
 *    (capped at 1 MiB), and once a scan runs
 *    at full length the next run is fetched while SQLite works through the
 *    current one; independent runs are fetched in parallel (at most 6
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
 * instead: matches and puts use only the first half of the budget (a match
 * also needs room for the storage read a miss leads to), so storage reads
 * always have the second half; read-ahead leaves demand reads a reserve.
 */
import { concatBytes } from "../ltx/bytes.ts";
import { LtxError } from "../ltx/errors.ts";
import { decodePageFrame } from "../ltx/page.ts";
import type { ChunkFile } from "../page-index/chunk.ts";
import { StorageError, type ObjectStore } from "../replica/types.ts";
import type { PageSource } from "../vfs/page-source.ts";
import { type IsolateCaches, pageKey, segKey } from "./isolate-caches.ts";
import { DEMAND_RESERVE, type FetchStats, FetchLimitError, newFetchStats, subrequests } from "./stats.ts";

/** Segment size: the unit of caching and of the smallest storage read. */
export const SEGMENT_BYTES = 64 * 1024;
/** Largest single storage read while scanning sequentially. */
export const MAX_RUN_BYTES = 1024 * 1024;
/** Parallel storage reads per query (Workers allow 6 open connections). */
export const MAX_PARALLEL = 6;
/** Segments per Cache API entry: reads are widened to whole blocks so each block is put whole. */
export const CACHE_BLOCK_SEGMENTS = 4;
const BLOCK_BYTES = CACHE_BLOCK_SEGMENTS * SEGMENT_BYTES;
const blockOf = (seg: number) => Math.floor(seg / CACHE_BLOCK_SEGMENTS);

export { IsolateCaches } from "./isolate-caches.ts";
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

/** The Cache API key of a block of segments: synthetic, immutable, never served to users; the epoch as in the isolate's segment keys. */
export function edgeCacheUrl(db: string, file: LtxFileRef, block: number): string {
  const etag = file.etag.replace(/"/g, "");
  return `https://ltx-edge.cache/v2/${encodeURIComponent(db)}/${encodeURIComponent(file.key)}/${encodeURIComponent(etag)}/${file.epoch}/${BLOCK_BYTES}/${block}`;
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

  constructor(locator: PageLocator, opts: FetcherOptions) {
    this.locator = locator;
    this.opts = opts;
    this.pageSize = locator.pageSize;
    this.pageCount = locator.commit;
    this.txid = locator.txid;
    this.stats = opts.stats ?? newFetchStats();
  }

  /** A decoded page already in the isolate, found without awaiting (a warm chunk, a page-cache hit); else null. */
  pageIfReady(pgno: number): Uint8Array | null {
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
    if (!cached) return null;
    this.stats.pagesRead++;
    this.stats.pageHits++;
    return cached;
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
    const frame = segs.length === 1 ? (segs[0] as Uint8Array) : concatBytes(segs);
    const base = first * SEGMENT_BYTES;
    const page = new Uint8Array(this.pageSize);
    try {
      decodePageFrame(frame, offset - base, offset - base + size, page, { file: file.key, absBase: base, expectedPgno: pgno });
    } catch (e) {
      // Never keep bytes that failed to decode, in the isolate or in the Cache API.
      for (let s = first; s <= last; s++) this.opts.caches.segments.delete(segKey(this.opts.db, file, s));
      for (let b = blockOf(first); b <= blockOf(last); b++) {
        const cache = this.opts.edgeCache;
        if (!cache || !this.takeCacheOp(0)) continue;
        const del = cache.delete(edgeCacheUrl(this.opts.db, file, b)).catch(() => false);
        if (this.opts.waitUntil) this.opts.waitUntil(del);
      }
      throw e;
    }
    this.opts.caches.pages.set(key, page);
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
    for (const got of await Promise.all(blocks.map((b) => this.edgeGet(file, b)))) if (got) for (const [s, seg] of got) fromEdge.set(s, seg);
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
      if (await this.edgeGet(file, blockOf(from))) return false;
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
   * Counts `n` Cache API operations if the budget has room for them plus
   * `reserve` more requests; otherwise counts them as skipped.
   */
  private takeCacheOp(reserve: number, limit = this.opts.maxStorageRequests): boolean {
    if (subrequests(this.stats) + 1 + reserve > limit) {
      this.stats.cacheOpsSkipped++;
      return false;
    }
    this.stats.cacheOps++;
    return true;
  }

  /** A block from the Cache API, split into its segments (also put in the isolate cache), or null. */
  private async edgeGet(file: LtxFileRef, block: number): Promise<Map<number, Uint8Array> | null> {
    const cache = this.opts.edgeCache;
    // A match is worth it only with room left for the storage read a miss leads to, and only in
    // the first half of the budget (as puts): the second half is kept for storage reads, so a query
    // whose blocks no colo has cached (a cold scattered read) is not failed by its own lookups.
    if (!cache || !this.takeCacheOp(1, Math.floor(this.opts.maxStorageRequests / 2))) return null;
    try {
      const res = await cache.match(edgeCacheUrl(this.opts.db, file, block));
      if (!res) return null;
      const b = new Uint8Array(await res.arrayBuffer());
      const start = block * BLOCK_BYTES;
      if (b.length !== Math.min(BLOCK_BYTES, file.size - start)) return null;
      const segs = new Map<number, Uint8Array>();
      for (let o = 0; o < b.length; o += SEGMENT_BYTES) {
        const s = block * CACHE_BLOCK_SEGMENTS + o / SEGMENT_BYTES;
        const seg = b.slice(o, Math.min(b.length, o + SEGMENT_BYTES));
        segs.set(s, seg);
        this.opts.caches.segments.set(segKey(this.opts.db, file, s), seg);
      }
      return segs;
    } catch {
      return null; // the cache is an optimisation; storage is the truth
    }
  }

  /**
   * Fetches the given segments (plus read-ahead when access is sequential)
   * in runs of contiguous segments, in parallel, and caches them.
   */
  private async fetchSegments(file: LtxFileRef, segs: number[]): Promise<Map<number, Uint8Array>> {
    const lastSeg = Math.floor((file.size - 1) / SEGMENT_BYTES);
    const maxRun = MAX_RUN_BYTES / SEGMENT_BYTES;
    // Read-ahead: a miss at or shortly after the end of the previous run (a
    // scan stepping over pages of another b-tree) continues that run from
    // where it ended, gap included, at double the length.
    const seq = this.nextSeg.get(fileId(file));
    const first = segs[0] as number;
    const sequential = seq !== undefined && first >= seq.seg && first <= seq.seg + seq.run;
    const from = sequential ? seq.seg : first;
    const runLen = sequential ? Math.min(maxRun, seq.run * 2) : 1;
    const wanted = new Set(segs);
    let end = Math.max(segs[segs.length - 1] as number, Math.min(lastSeg, from + runLen - 1));
    for (let s = from; s <= end; s++) {
      if (wanted.has(s)) continue;
      if (s > first && this.opts.caches.segments.get(segKey(this.opts.db, file, s))) {
        end = s - 1;
        break;
      }
      if (!this.opts.caches.segments.get(segKey(this.opts.db, file, s))) wanted.add(s);
    }
    // Whole cache blocks: each block a read touches is read (and put) whole.
    const alignDown = (x: number) => x - (x % CACHE_BLOCK_SEGMENTS);
    const alignEnd = (x: number) => Math.min(lastSeg, alignDown(x) + CACHE_BLOCK_SEGMENTS - 1);
    end = alignEnd(end);
    this.nextSeg.set(fileId(file), { seg: end + 1, run: Math.max(1, end - from + 1) });
    // Group into contiguous runs of whole blocks, at most maxRun segments each (a multiple of the block).
    const all = [...wanted].filter((x) => x <= end || segs.includes(x)).sort((a, b) => a - b);
    const runs: [number, number][] = [];
    for (const s of all) {
      const r = runs[runs.length - 1];
      if (r && s <= r[1] + 1) r[1] = Math.max(r[1], alignEnd(s));
      else runs.push([alignDown(s), alignEnd(s)]);
    }
    for (let i = 0; i < runs.length; i++) {
      const [a, b] = runs[i] as [number, number];
      if (b - a + 1 <= maxRun) continue;
      runs[i] = [a, a + maxRun - 1];
      runs.splice(i + 1, 0, [a + maxRun, b]);
    }
    const result = new Map<number, Uint8Array>();
    // A scan at full speed: fetch its next run while this one is consumed.
    if (sequential && runLen === maxRun) this.fetchAhead(file, end + 1);
    for (let i = 0; i < runs.length; i += MAX_PARALLEL) {
      await Promise.all(runs.slice(i, i + MAX_PARALLEL).map(([a, b]) => this.fetchRun(file, a, b, result)));
    }
    return result;
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
      this.edgePut(file, k, bytes.slice((s0 - a) * SEGMENT_BYTES, Math.min(bytes.length, (s1 - a + 1) * SEGMENT_BYTES)));
    }
  }

  private edgePut(file: LtxFileRef, block: number, bytes: Uint8Array<ArrayBuffer>): void {
    const cache = this.opts.edgeCache;
    // Puts are an investment in later queries: they may use only the first half of this query's budget.
    if (!cache || !this.takeCacheOp(0, Math.floor(this.opts.maxStorageRequests / 2))) return;
    const res = new Response(bytes, {
      status: 200,
      headers: { "content-type": "application/octet-stream", "cache-control": "public, max-age=31536000, immutable" },
    });
    const p = cache.put(edgeCacheUrl(this.opts.db, file, block), res).catch(() => undefined);
    if (this.opts.waitUntil) this.opts.waitUntil(p);
  }
}

function stripQuotes(s: string): string {
  return s.replace(/"/g, "");
}
