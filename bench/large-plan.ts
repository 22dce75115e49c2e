/**
 * What bench/run.ts asks the workerd benchmarks on synthetic replicas to do
 * (bench/large.workerd.ts), and what they report back. Plain data: it
 * crosses from Node to workerd as JSON.
 */
import type { SyntheticMeta } from "./synthetic-replica.ts";

/** A replica in the cache, with what the bench needs to know about it beyond its meta. */
export interface PlannedReplica {
  meta: SyntheticMeta;
  /** A row to look up, and the pages of its lookup (root first; page 1 not included). */
  probeId: number;
  probePath: number[];
  /** An L0 file after the snapshot (TXID 2), relative to the cache root, and what it changes. */
  delta?: { file: string; pages: number[]; sql: string; expect: string };
  /** An overflow page and its next pointer: the polling bench's L0 files rewrite it. */
  pollPage?: { pgno: number; next: number };
}

export interface BenchPlan {
  /** Root of the replica cache (served over HTTP by the setup). */
  cacheRoot: string;
  /** Where the setup writes what the bench POSTs to /result/<key> (one JSON object, by key). */
  resultsPath: string;
  /** Large replicas: build, first query, memory (10 GB, 100 GB …). */
  large: { label: string; replica: PlannedReplica }[];
  /** Loaded before measuring, so wa-sqlite's instantiation is not counted as a query's growth. */
  warm: PlannedReplica;
  /** Polling costs on a copy of `replica`. */
  polling: { replica: PlannedReplica; quietSeconds: number; busySeconds: number; busyFilesPerSecond: number; baseIntervalMs: number };
}
