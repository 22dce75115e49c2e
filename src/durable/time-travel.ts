/**
 * @module
 * Time-travel indexes in the Durable Object: built on demand from a restore
 * plan to an earlier TXID or time that avoids quarantined files, and kept in
 * a small cache bounded by count and bytes.
 */
import type { PageIndex } from "../page-index/page-index.ts";
import { PlanError } from "../plan/errors.ts";
import { type PlanTarget, computeRestorePlan } from "../plan/plan.ts";
import type { LtxFileInfo } from "../replica/replica.ts";
import type { IndexBuilder } from "./index-builder.ts";
import type { Integrity } from "./integrity.ts";

const TIME_TRAVEL_CACHE = 4;
const TIME_TRAVEL_BYTES = 32 * 1024 * 1024;

type FileId = { key: string; etag?: string };

export class TimeTravelCache {
  private readonly map = new Map<string, PageIndex>();

  get(key: string): PageIndex | undefined {
    return this.map.get(key);
  }

  /** Keeps an index; the oldest go first beyond {@link TIME_TRAVEL_CACHE} or {@link TIME_TRAVEL_BYTES} (a 1 GiB database's index is ~6 MB). */
  set(key: string, index: PageIndex): void {
    this.map.set(key, index);
    const bytes = () => [...this.map.values()].reduce((n, x) => n + x.byteLength, 0);
    while (this.map.size > TIME_TRAVEL_CACHE || (this.map.size > 1 && bytes() > TIME_TRAVEL_BYTES)) {
      this.map.delete(this.map.keys().next().value as string);
    }
  }

  /** Drops indexes that read from a file (by key, and ETag when given): rebuilt, or refused, on the next ask. */
  void(f: FileId): void {
    for (const [k, x] of [...this.map]) if (uses(x, f)) this.map.delete(k);
  }

  /** Whether a cached index reads from the file. */
  uses(f: FileId): boolean {
    return [...this.map.values()].some((x) => uses(x, f));
  }

  clear(): void {
    this.map.clear();
  }
}

function uses(x: PageIndex, f: FileId): boolean {
  return x.files.some((g) => g.key === f.key && (f.etag === undefined || g.etag === f.etag));
}

/** The page index as of a TXID or time, from a plan over `all` that avoids quarantined files. */
export async function buildAt(all: readonly LtxFileInfo[], target: PlanTarget, builder: IndexBuilder, integrity: Integrity): Promise<PageIndex> {
  builder.prune(all);
  const timestampOf = target.kind === "timestamp" ? await builder.timestamps(all) : undefined;
  const plan = () => {
    try {
      return { plan: computeRestorePlan(all.filter((f) => !integrity.avoid(f)), target, timestampOf) };
    } catch (e) {
      const q = all.filter(integrity.avoid);
      if (!(e instanceof PlanError) || q.length === 0) throw e;
      throw new PlanError(e.code, `${e.message} (quarantined files are never used: ${q.map((f) => f.key).slice(0, 3).join(", ")})`);
    }
  };
  const { built } = await integrity.buildAvoiding(plan);
  if (!built) throw new PlanError("PLAN_NO_FILES", "empty restore plan");
  return built.index;
}
