/**
 * @module
 * Builds page indexes for the Durable Object from restore plans, keeping each
 * LTX file's decoded page index (and header timestamp) in memory: files are
 * immutable under an ETag, so rebuilds and time travel only read the tails of
 * files they have not seen.
 */
import type { FileIndex } from "../ltx/file-index.ts";
import type { LtxHeader } from "../ltx/header.ts";
import { ByteLru } from "../pages/lru.ts";
import type { PageIndex } from "../page-index/page-index.ts";
import { computeRestorePlan, type PlanTarget } from "../plan/plan.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { mapPool } from "../restore/pool.ts";
import { FETCH_CONCURRENCY, buildPageIndex } from "../restore/restore.ts";

/** Decoded file indexes kept per Durable Object. */
const CACHE_BYTES = 32 * 1024 * 1024;

interface CachedIndex {
  header: LtxHeader;
  index: FileIndex;
  byteLength: number;
}

const keyOf = (f: LtxFileInfo) => `${f.key}\n${f.etag}`;

export class IndexBuilder {
  private readonly replica: () => Replica;
  private readonly cache = new ByteLru<CachedIndex>(CACHE_BYTES);
  private readonly stamps = new Map<string, number>();

  /** `replica` is called per use, so a replaced store (fault injection) takes effect. */
  constructor(replica: () => Replica) {
    this.replica = replica;
  }

  /** A file's header and page index, from memory when this ETag was read before. */
  async read(f: LtxFileInfo): Promise<{ header: LtxHeader; index: FileIndex }> {
    const key = keyOf(f);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = await this.replica().readIndex(f);
    this.cache.set(key, { ...r, byteLength: r.index.count * 16 + 256 });
    this.stamps.set(key, r.header.timestamp);
    return r;
  }

  /** The page index for a plan. */
  build(plan: readonly LtxFileInfo[]): Promise<PageIndex> {
    return buildPageIndex(this.replica(), plan, (f) => this.read(f));
  }

  /**
   * The page index as of a TXID or time. Time targets need every file's header
   * timestamp: from listing metadata when the store has it, else a 100-byte read,
   * remembered per ETag.
   */
  async buildAt(target: PlanTarget): Promise<PageIndex> {
    const replica = this.replica();
    const all = await replica.listFiles();
    let timestampOf: ((f: LtxFileInfo) => number) | undefined;
    if (target.kind === "timestamp") {
      await mapPool(all, FETCH_CONCURRENCY, async (f) => {
        const key = keyOf(f);
        if (!this.stamps.has(key)) this.stamps.set(key, f.timestamp ?? (await replica.readHeader(f)).timestamp);
      });
      timestampOf = (f) => this.stamps.get(keyOf(f)) ?? Number.POSITIVE_INFINITY;
    }
    return this.build(computeRestorePlan(all, target, timestampOf));
  }
}
