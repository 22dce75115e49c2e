/**
 * What bench/run.ts asks the side-by-side benchmark in workerd
 * (bench/side.workerd.ts) to do, and what it reports back. Plain data: it
 * crosses from Node to workerd as JSON.
 */
import type { Summary } from "./stats.ts";
import type { KindId, QueryKind } from "./query-kinds.ts";

export interface SidePlan {
  /** Directory the setup serves: `medium/` (the replica) and `medium.db` (the restored file). */
  root: string;
  resultsPath: string;
  /** LTX files to put into local R2: path under `root` → R2 key. */
  files: { rel: string; key: string }[];
  /** R2 prefix of the replica (its database name). */
  prefix: string;
  /** The restored database file, under `root`. */
  restored: string;
  kinds: QueryKind[];
  /** Timed runs per measurement (warm-ups come on top). */
  reps: { memory: number; warm: number; cold: number; cacheWarm: number };
  /** Runs of the naive baseline per kind (a full scan costs one storage request per page). */
  naiveReps: Record<KindId, number>;
  /** wa-sqlite builds of the engine to measure; and those the naive baseline runs on. */
  builds: ("jspi" | "asyncify")[];
  naiveBuilds: ("jspi" | "asyncify")[];
}

/** One measured series. */
export interface SideSeries {
  summary: Summary;
  /** Result fingerprint (query-kinds.ts) of the first run. */
  fp: string;
  /** The first row of the first run, as JSON (to show what differs when fingerprints do). */
  firstRow?: string;
  /** Runs averaged per sample (fast queries: workerd's clock moves in whole ms). */
  batch?: number;
  /** Median storage requests / Cache API segment hits / isolate segment hits / decoded-page hits per run (ltx-edge paths). */
  storage?: number;
  cacheHits?: number;
  isolateHits?: number;
  pageHits?: number;
  pagesRead?: number;
  /** Median subrequests (storage reads + Cache API operations) per run. */
  subrequests?: number;
  /** The subrequest budget the runs had when the default (LIMITS) one was not enough. */
  budget?: number;
  /** Which engine lane answered the runs (ExecStats.lane), e.g. "fast" or "fallback 4, fast 1". */
  lanes?: string;
}

/** Where an isolate-warm query's time goes (one profiled run). */
export interface SideProfile {
  totalMs: number;
  readPageCalls: number;
  readPageMs: number;
  vfsReads: number;
  pageHits: number;
  isolateHits: number;
  cacheHits: number;
  storage: number;
}

/** Everything side.workerd.ts posts, under key "side". */
export interface SideResults {
  memory: Record<string, Record<string, SideSeries>>;
  memoryBytes: Record<string, number>;
  /** build → kind → state ("cold" | "cacheWarm" | "warm") → series. */
  engine: Record<string, Record<string, Record<string, SideSeries>>>;
  profile: Record<string, Record<string, SideProfile>>;
  engineMemoryBytes: Record<string, number>;
  naive: Record<string, Record<string, SideSeries & { bytes: number }>>;
  errors: string[];
}
