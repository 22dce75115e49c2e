/**
 * @module
 * The RPC contract between Workers and the database's Durable Object. Every
 * method returns an {@link RpcResult} instead of throwing, so stable error
 * codes survive the RPC boundary.
 */
import type { IndexPosition } from "../page-index/page-index.ts";
import type { IndexRoot, RootDelta } from "../page-index/root.ts";

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

/** What an isolate holds of the live index (omitted: it holds nothing). */
export interface RootRequest {
  lineage?: string;
  generation?: number;
  version?: number;
}

/** The live index for an isolate: unchanged, the chunks changed since its version, or the whole root. */
export type RootPayload =
  | { kind: "same"; freshness: Freshness }
  | { kind: "delta"; delta: RootDelta; freshness: Freshness }
  | {
      kind: "full";
      root: IndexRoot;
      freshness: Freshness;
      /** Chunk 0's bytes (pages 1–4096: the schema, every query's first read), saving a first query its own chunk round trip. */
      first?: Uint8Array;
    };

/** Chunks one `chunks()` call may ask for. */
export const MAX_CHUNKS_PER_CALL = 16;

export type TimeTravelTarget = { txid: number } | { timestamp: number };

export interface StorageStats {
  lists: number;
  gets: number;
  heads: number;
  bytes: number;
}

/** A file kept out of service because it failed verification or continuity. */
export interface QuarantinedFile {
  key: string;
  etag: string;
  level: number;
  minTxid: number;
  maxTxid: number;
  /** LTX_CHECKSUM_MISMATCH, LTX_DISCONTINUOUS, LTX_PAGE_SIZE_MISMATCH, LTX_NAME_MISMATCH, … */
  code: string;
  message: string;
  /** When it was quarantined (ms). */
  since: number;
  failures: number;
  /** When it is checked again (on a full listing at or after this, ms). */
  nextCheckAt: number | null;
  /** A large file being re-verified by the scrub right now. */
  rechecking: boolean;
}

/** File-checksum verification of the files the Durable Object serves. */
export interface IntegrityStatus {
  /** Files (key + ETag) verified, pending (large files the scrub has not finished) and quarantined. */
  verified: number;
  pending: number;
  quarantined: number;
  /** The file the scrub works on next, and how far it got. */
  scrub: { key: string; offset: number; size: number } | null;
  /** Bytes the scrub read since this instance started. */
  scrubbedBytes: number;
}

/** One step of the background scrub (one range read at most). */
export interface ScrubStepReport {
  key: string;
  etag: string;
  /** The range read (length 0: nothing was read, e.g. a small file already known). */
  offset: number;
  length: number;
  /**
   * progress: more steps to go; verified: the file checked out; quarantined: it did not;
   * readmitted: a quarantined file checked out again; still-bad: a re-check failed again; gone: deleted or replaced.
   */
  outcome: "progress" | "verified" | "quarantined" | "readmitted" | "still-bad" | "gone";
  code?: string;
}

export interface ScrubReport {
  steps: ScrubStepReport[];
  /** Files with verification work left. */
  pending: number;
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
  /** Index chunks stored (live, time travel, and superseded ones kept for isolates that still hold them). */
  indexChunks: number;
  indexBytes: number;
  layout: string | null;
  source: string;
  /** Storage requests made by this instance of the Durable Object since it started. */
  storage: StorageStats;
  /** Files never served again until they verify (failed checksum, foreign or discontinuous). */
  quarantined: QuarantinedFile[];
  integrity: IntegrityStatus;
  /** DO storage rows written by this instance since it started (what storage bills). */
  rowsWritten: number;
}
