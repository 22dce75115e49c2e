/**
 * @module
 * The Cache API tier of the page fetcher: blocks of {@link CACHE_BLOCK_SEGMENTS}
 * segments under synthetic, immutable keys (database, object key, ETag,
 * admission epoch, block size, block number). LTX files never change under
 * an ETag, so nothing is ever invalidated; a file the Durable Object
 * re-admits after it failed verification gets a new epoch, so bytes cached
 * before are unreachable.
 *
 * Every match, put and delete is a subrequest, counted in the query's budget;
 * they are optional and skipped rather than failing a query: matches and
 * puts use only the first half of the budget (a match also needs room for the
 * storage read a miss leads to), so storage reads always have the second half.
 */
import { type IsolateCaches, segKey } from "./isolate-caches.ts";
import type { LtxFileRef } from "./page-fetcher.ts";
import { type FetchStats, subrequests } from "./stats.ts";

/** Segment size: the unit of caching and of the smallest storage read. */
export const SEGMENT_BYTES = 64 * 1024;
/** Segments per Cache API entry: reads are widened to whole blocks so each block is put whole. */
export const CACHE_BLOCK_SEGMENTS = 4;
export const BLOCK_BYTES = CACHE_BLOCK_SEGMENTS * SEGMENT_BYTES;
export const blockOf = (seg: number): number => Math.floor(seg / CACHE_BLOCK_SEGMENTS);

/** A file version as the index names it (key, ETag, admission epoch). */
function fileVersion(f: LtxFileRef): string {
  return `${f.key}\n${f.etag}\n${f.epoch}`;
}

/** The Cache API key of a block of segments: synthetic, immutable, never served to users; the epoch as in the isolate's segment keys. */
export function edgeCacheUrl(db: string, file: LtxFileRef, block: number): string {
  const etag = file.etag.replace(/"/g, "");
  return `https://ltx-edge.cache/v2/${encodeURIComponent(db)}/${encodeURIComponent(file.key)}/${encodeURIComponent(etag)}/${file.epoch}/${BLOCK_BYTES}/${block}`;
}

export interface EdgeTierOptions {
  db: string;
  /** `caches.default`, or null: then every operation is a no-op. */
  cache: Cache | null;
  caches: IsolateCaches;
  stats: FetchStats;
  /** The query's subrequest budget. */
  budget: number;
  waitUntil?: (p: Promise<unknown>) => void;
}

/** Blocks matched ahead of a scan served from the Cache API (1 MiB in flight, outside the isolate budget while in flight). */
const EDGE_AHEAD = 4;

/** One query's use of the Cache API. */
export class EdgeTier {
  readonly #o: EdgeTierOptions;
  /** Matches started ahead of need, by file version and block; consumed (and only then cached in the isolate) by {@link get}. */
  readonly #ahead = new Map<string, Promise<Map<number, Uint8Array> | null>>();
  /** Per file version: the block after the last one {@link get} was asked for. */
  readonly #next = new Map<string, number>();

  constructor(options: EdgeTierOptions) {
    this.#o = options;
  }

  /**
   * Counts one Cache API operation if the budget (or `limit`) has room for it
   * plus `reserve` more requests; otherwise counts it as skipped.
   */
  takeOp(reserve: number, limit = this.#o.budget): boolean {
    const { stats } = this.#o;
    if (subrequests(stats) + 1 + reserve > limit) {
      stats.cacheOpsSkipped++;
      return false;
    }
    stats.cacheOps++;
    return true;
  }

  /**
   * A block, split into its segments (also put in the isolate cache), or null.
   * A hit on the block after the previous one (a scan the Cache API serves)
   * starts matching the next {@link EDGE_AHEAD} blocks, so the scan waits on
   * the Cache API about once, not once per block. `mayReadAhead` is false for
   * the second block of one frame (not a scan, only a frame across blocks).
   */
  async get(file: LtxFileRef, block: number, mayReadAhead = true): Promise<Map<number, Uint8Array> | null> {
    const { db, caches } = this.#o;
    const id = fileVersion(file);
    const sequential = mayReadAhead && this.#next.get(id) === block;
    if (mayReadAhead) this.#next.set(id, block + 1);
    const key = `${id}\n${block}`;
    const pending = this.#ahead.get(key);
    if (pending) this.#ahead.delete(key);
    const got = await (pending ?? this.#match(file, block));
    if (got === null) return null;
    for (const [s, seg] of got) caches.segments.set(segKey(db, file, s), seg);
    if (sequential) this.#matchAhead(file, block);
    return got;
  }

  #matchAhead(file: LtxFileRef, block: number): void {
    const { db, caches } = this.#o;
    const id = fileVersion(file);
    const lastBlock = blockOf(Math.floor((file.size - 1) / SEGMENT_BYTES));
    for (let b = block + 1; b <= Math.min(lastBlock, block + EDGE_AHEAD); b++) {
      const key = `${id}\n${b}`;
      if (this.#ahead.has(key) || caches.segments.has(segKey(db, file, b * CACHE_BLOCK_SEGMENTS))) continue;
      this.#ahead.set(key, this.#match(file, b));
    }
  }

  /** One Cache API match (budget permitting), split into segments; never rejects. */
  async #match(file: LtxFileRef, block: number): Promise<Map<number, Uint8Array> | null> {
    const { cache, db, budget } = this.#o;
    // A match is worth it only with room left for the storage read a miss leads to, and only in
    // the first half of the budget (as puts): the second half is kept for storage reads, so a query
    // whose blocks no colo has cached (a cold scattered read) is not failed by its own lookups.
    if (!cache || !this.takeOp(1, Math.floor(budget / 2))) return null;
    try {
      const res = await cache.match(edgeCacheUrl(db, file, block));
      if (!res) return null;
      const b = new Uint8Array(await res.arrayBuffer());
      const start = block * BLOCK_BYTES;
      if (b.length !== Math.min(BLOCK_BYTES, file.size - start)) return null;
      const segs = new Map<number, Uint8Array>();
      for (let o = 0; o < b.length; o += SEGMENT_BYTES) {
        segs.set(block * CACHE_BLOCK_SEGMENTS + o / SEGMENT_BYTES, b.slice(o, Math.min(b.length, o + SEGMENT_BYTES)));
      }
      return segs;
    } catch {
      return null; // the cache is an optimisation; storage is the truth
    }
  }

  /** Puts a whole block, in the background. Puts are an investment in later queries: first half of the budget only. */
  put(file: LtxFileRef, block: number, bytes: Uint8Array<ArrayBuffer>): void {
    const { cache, db, budget, waitUntil } = this.#o;
    if (!cache || !this.takeOp(0, Math.floor(budget / 2))) return;
    const res = new Response(bytes, {
      status: 200,
      headers: { "content-type": "application/octet-stream", "cache-control": "public, max-age=31536000, immutable" },
    });
    const p = cache.put(edgeCacheUrl(db, file, block), res).catch(() => undefined);
    waitUntil?.(p);
  }

  /** Deletes blocks whose bytes failed to decode, so no later query meets them (budget permitting). */
  forget(file: LtxFileRef, firstBlock: number, lastBlock: number): void {
    const { cache, db, waitUntil } = this.#o;
    for (let b = firstBlock; b <= lastBlock; b++) {
      if (!cache || !this.takeOp(0)) continue;
      const del = cache.delete(edgeCacheUrl(db, file, b)).catch(() => false);
      waitUntil?.(del);
    }
  }
}
