/**
 * @module
 * The RPC contract between Workers and the database's Durable Object. Every
 * method returns an {@link RpcResult} instead of throwing, so stable error
 * codes survive the RPC boundary.
 */
import type { IndexPosition, IndexedFile, PageEntries } from "../page-index/page-index.ts";

export interface RpcError {
  code: string;
  message: string;
}

export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: RpcError };

/** Staleness figures shipped with every payload so responses can surface lag. */
export interface Freshness {
  /** ms since the last successful poll (null before the first). */
  sinceLastPollMs: number | null;
  /** ms since the newest applied LTX file was written (its header timestamp). */
  newestFileAgeMs: number | null;
  state: DbState;
}

export type DbState = "starting" | "ok" | "idle" | "stalled" | "error";

export interface SnapshotRequest {
  /** The version the caller holds; omitted or stale → a full index. */
  sinceVersion?: number;
  /** The generation the caller holds; a different one → a full index. */
  generation?: number;
  /** Continue a paged full index at this pgno. */
  fromPgno?: number;
  /** Entries per page of a full index (default and maximum: PAYLOAD_PAGES). */
  maxPages?: number;
}

/** An index (full or a delta), possibly one page of several. */
export interface IndexPayload {
  /** Changes when the replica's history was replaced (wiped and re-seeded). */
  generation: number;
  position: IndexPosition;
  /** True: replace your index with these entries; false: merge them into yours. */
  full: boolean;
  /** Drop pages above this before merging (Commit went down meanwhile). */
  truncateTo: number | null;
  files: IndexedFile[];
  entries: PageEntries;
  /** When set, request the next page of a full index from this pgno. */
  nextPgno: number | null;
  freshness: Freshness;
}

export type TimeTravelTarget = { txid: number } | { timestamp: number };

export interface StorageStats {
  lists: number;
  gets: number;
  heads: number;
  bytes: number;
}

export interface DbStatus {
  name: string;
  state: DbState;
  generation: number;
  position: IndexPosition | null;
  freshness: Freshness;
  pollIntervalMs: number;
  /** Interval in use now (grows while quiet and on errors). */
  currentIntervalMs: number;
  idleAfterMs: number;
  lastPollAt: number | null;
  lastOkPollAt: number | null;
  nextPollAt: number | null;
  lastError: (RpcError & { at: number }) | null;
  consecutiveFailures: number;
  rebuilds: number;
  heals: { at: number; reason: string }[];
  files: number;
  pages: number;
  indexBytes: number;
  layout: string | null;
  source: string;
  /** Storage requests made by this instance of the Durable Object since it started. */
  storage: StorageStats;
}
