/**
 * @module
 * Index chunks in the isolate: a byte-bounded LRU shared by every query and
 * database of the isolate, in front of the Cache API (per colo) and the
 * database's Durable Object. Chunks are content-addressed (their id is a
 * hash of their bytes), so a cached chunk is never stale, and bytes from
 * the Cache API or the DO are checked against the id before use.
 *
 * A query reads through a {@link RootLocator}: one pinned root, whose chunks
 * load the first time the query touches a page in them. On a warm chunk the
 * lookup is synchronous (no await, so JSPI and Asyncify never suspend).
 */
import { CodedError } from "../errors.ts";
import { type ChunkRef, ChunkView, chunkId, chunkOf } from "../page-index/chunk.ts";
import { type IndexRoot, chunkIdOf } from "../page-index/root.ts";
import { ByteLru } from "../pages/lru.ts";
import type { FetchStats } from "../pages/stats.ts";

/** The Cache API key of a chunk: synthetic, immutable (the id is the content's hash). */
export function chunkCacheUrl(id: string): string {
  return `https://ltx-edge.cache/v1/index/${id}`;
}

/** How a locator reaches the tiers behind the isolate cache. */
export interface ChunkSources {
  /** `caches.default`, or null to skip the Cache API. */
  edge: Cache | null;
  /** Asks the database's Durable Object for chunks by id (one RPC). */
  fetch(ids: string[]): Promise<Uint8Array[]>;
  /** Background work (Cache API puts). */
  waitUntil?: (p: Promise<unknown>) => void;
  stats: FetchStats;
  /** Whether one more subrequest fits the query's budget (Cache API operations are skipped when not). */
  room(): boolean;
}

export class ChunkCache {
  readonly #lru: ByteLru<ChunkView>;

  constructor(maxBytes: number) {
    this.#lru = new ByteLru(maxBytes);
  }

  get byteLength(): number {
    return this.#lru.byteLength;
  }

  get maxBytes(): number {
    return this.#lru.maxBytes;
  }

  get size(): number {
    return this.#lru.size;
  }

  get(id: string): ChunkView | undefined {
    return this.#lru.get(id);
  }

  /**
   * Keeps chunk bytes that arrived with something else (chunk 0 with a full
   * root), if they are what `id` names; false when they are not (then the
   * chunk loads the normal way when a query needs it).
   */
  async offer(id: string, bytes: Uint8Array): Promise<boolean> {
    if (this.#lru.get(id)) return true;
    if ((await chunkId(bytes)) !== id) return false;
    this.#lru.set(id, ChunkView.decode(bytes));
    return true;
  }

  /** Chunk `id` from the Cache API or the DO, checked against its id, and kept. */
  async load(id: string, src: ChunkSources): Promise<ChunkView> {
    const hit = this.#lru.get(id);
    if (hit) return hit;
    let bytes: Uint8Array | null = null;
    if (src.edge && src.room()) {
      src.stats.cacheOps++;
      try {
        const res = await src.edge.match(chunkCacheUrl(id));
        if (res) bytes = new Uint8Array(await res.arrayBuffer());
      } catch {
        bytes = null; // the Cache API is an optimisation; the DO is the truth
      }
      if (bytes && (await chunkId(bytes)) !== id) bytes = null;
      if (bytes) src.stats.indexCacheHits++;
    }
    if (!bytes) {
      src.stats.indexRequests++;
      const [got] = await src.fetch([id]);
      if (!got || (await chunkId(got)) !== id) {
        throw new CodedError("INDEX_CORRUPT", `index chunk ${id} came back from the Durable Object with different contents`);
      }
      bytes = got;
      src.stats.indexBytes += bytes.length;
      if (src.edge && src.room()) {
        src.stats.cacheOps++;
        const put = src.edge
          .put(chunkCacheUrl(id), new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/octet-stream", "cache-control": "public, max-age=31536000, immutable" } }))
          .catch(() => undefined);
        src.waitUntil?.(put);
      }
    }
    const view = ChunkView.decode(bytes);
    this.#lru.set(id, view);
    return view;
  }
}

/** A query's view of one version of the index: lookups through its pinned root. */
export class RootLocator {
  readonly root: IndexRoot;
  readonly #cache: ChunkCache;
  readonly #src: ChunkSources;
  /** The chunk of the last lookup (consecutive pages share one; no LRU bookkeeping for them). */
  #last: ChunkView | null = null;

  constructor(root: IndexRoot, cache: ChunkCache, src: ChunkSources) {
    this.root = root;
    this.#cache = cache;
    this.#src = src;
  }

  get pageSize(): number {
    return this.root.pageSize;
  }
  get commit(): number {
    return this.root.commit;
  }
  get txid(): number {
    return this.root.txid;
  }

  /** Where page `pgno` lives if its chunk is at hand; undefined (and nothing loaded) otherwise. */
  locateNow(pgno: number): ChunkRef | null | undefined {
    const c = this.#chunkFor(pgno);
    return typeof c === "string" ? undefined : c === null ? null : c.get(pgno);
  }

  /** Where page `pgno` lives: synchronously when its chunk is at hand, else after loading it. */
  locate(pgno: number): ChunkRef | null | Promise<ChunkRef | null> {
    const c = this.#chunkFor(pgno);
    if (typeof c !== "string") return c === null ? null : c.get(pgno);
    return this.#cache.load(c, this.#src).then((v) => {
      this.#last = v;
      return v.get(pgno);
    });
  }

  /** The chunk holding `pgno` when at hand, null when no chunk does, else the id to load. */
  #chunkFor(pgno: number): ChunkView | null | string {
    if (pgno < 1 || pgno > this.root.commit) return null;
    const n = chunkOf(pgno);
    const last = this.#last;
    if (last !== null && last.chunkNo === n) return last;
    const id = chunkIdOf(this.root, n);
    if (id === null) return null;
    const warm = this.#cache.get(id);
    if (!warm) return id;
    this.#last = warm;
    return warm;
  }
}
