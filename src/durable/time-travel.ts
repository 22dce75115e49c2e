/**
 * @module
 * Time-travel indexes in the Durable Object: built on demand from a restore
 * plan to an earlier TXID or time that avoids quarantined files, stored as
 * chunks under a root of their own (`tt:<target>`; chunks the live index
 * has too are stored once), and kept for a few targets. Workers load them
 * exactly like the live index: the root, then chunks as queries touch them.
 */
import type { ChunkFile } from "../page-index/chunk.ts";
import type { IndexRoot } from "../page-index/root.ts";
import { PlanError } from "../plan/errors.ts";
import { type PlanTarget, computeRestorePlan } from "../plan/plan.ts";
import type { LtxFileInfo } from "../replica/replica.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { BuiltIndex, IndexBuilder } from "./index-builder.ts";
import type { Integrity } from "./integrity.ts";

/** Time-travel targets kept per Durable Object. */
const TIME_TRAVEL_KEPT = 4;
const PREFIX = "tt:";

type FileId = { key: string; etag?: string };

interface Entry {
  root: IndexRoot;
  files: ChunkFile[];
}

export class TimeTravelCache {
  private readonly map = new Map<string, Entry>();
  private store: ChunkStore | null = null;
  private transients = 0;

  /** Uses `store` for the roots; roots of an earlier instance of the object are dropped (their chunks are swept). */
  attach(store: ChunkStore): void {
    this.store = store;
    for (const name of store.rootNames(PREFIX)) store.deleteRoot(name);
  }

  get(key: string): IndexRoot | undefined {
    return this.map.get(key)?.root;
  }

  /** Keeps a built index under `key`, as root `tt:<key>` with the given identity; the oldest go first beyond {@link TIME_TRAVEL_KEPT}. */
  set(key: string, built: BuiltIndex, id: { lineage: string; generation: number; version: number }): IndexRoot {
    const store = this.mustStore();
    const b = built.built;
    const root: IndexRoot = { ...id, pageSize: b.pageSize, commit: b.commit, txid: b.txid, timestamp: b.timestamp, chunks: b.chunks };
    store.setRootAtomically(PREFIX + key, root);
    this.map.delete(key);
    this.map.set(key, { root, files: [...b.files.values()].map((x) => x.file) });
    while (this.map.size > TIME_TRAVEL_KEPT) this.drop(this.map.keys().next().value as string);
    return root;
  }

  /** Keeps a root that must be loadable (its chunks served) but never looked up again (a time after the newest file). */
  setTransient(built: BuiltIndex, id: { lineage: string; generation: number; version: number }): IndexRoot {
    return this.set(`~${++this.transients}`, built, id);
  }

  /** The files a kept root reads from. */
  filesOf(key: string): ChunkFile[] {
    return this.map.get(key)?.files ?? [];
  }

  /** Drops indexes that read from a file (by key, and ETag when given): rebuilt, or refused, on the next ask. */
  void(f: FileId): void {
    for (const [k, x] of [...this.map]) if (uses(x, f)) this.drop(k);
  }

  /** Whether a kept index reads from the file. */
  uses(f: FileId): boolean {
    return [...this.map.values()].some((x) => uses(x, f));
  }

  clear(): void {
    for (const k of [...this.map.keys()]) this.drop(k);
  }

  private drop(key: string): void {
    this.map.delete(key);
    this.store?.deleteRoot(PREFIX + key);
  }

  private mustStore(): ChunkStore {
    if (!this.store) throw new Error("time-travel cache has no chunk store");
    return this.store;
  }
}

function uses(x: Entry, f: FileId): boolean {
  return x.files.some((g) => g.key === f.key && (f.etag === undefined || g.etag === f.etag));
}

/** The page index as of a TXID or time, from a plan over `all` that avoids quarantined files. */
export async function buildAt(all: readonly LtxFileInfo[], target: PlanTarget, builder: IndexBuilder, integrity: Integrity): Promise<BuiltIndex> {
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
  return built;
}
