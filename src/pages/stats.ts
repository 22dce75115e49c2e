/**
 * @module
 * What one query's page reads cost, and its subrequest budget: on
 * Cloudflare every storage read and every Cache API operation (match, put,
 * delete) is a subrequest (Free plan: 50 per request), so both count toward
 * the query's `maxStorageRequests`.
 */
import { CodedError } from "../errors.ts";

/** Per-query counters (the figures a query response reports). */
export interface FetchStats {
  /** readPage calls. */
  pagesRead: number;
  /** Pages served from the decoded-page LRU. */
  pageHits: number;
  /** Pages decoded ahead of need in regions the query reads densely. */
  pagesDecodedAhead: number;
  /** Segments found in the isolate cache. */
  isolateHits: number;
  /** Segments found in the Cache API. */
  cacheHits: number;
  /** Segments that had to come from storage. */
  cacheMisses: number;
  /** Range reads sent to R2/S3. */
  storageRequests: number;
  /** Bytes received from storage. */
  bytesFetched: number;
  /** Cache API operations made (match, put, delete): subrequests too. */
  cacheOps: number;
  /** Cache API operations skipped to stay within the budget. */
  cacheOpsSkipped: number;
  /** Index chunks fetched from the Durable Object (one RPC each): subrequests too. */
  indexRequests: number;
  /** Bytes of index chunks received from the Durable Object. */
  indexBytes: number;
  /** Index chunks found in the Cache API. */
  indexCacheHits: number;
}

export function newFetchStats(): FetchStats {
  return {
    pagesRead: 0,
    pageHits: 0,
    pagesDecodedAhead: 0,
    isolateHits: 0,
    cacheHits: 0,
    cacheMisses: 0,
    storageRequests: 0,
    bytesFetched: 0,
    cacheOps: 0,
    cacheOpsSkipped: 0,
    indexRequests: 0,
    indexBytes: 0,
    indexCacheHits: 0,
  };
}

/** Subrequests a query has made: storage reads, Cache API operations and index chunk RPCs. */
export function subrequests(stats: FetchStats): number {
  return stats.storageRequests + stats.cacheOps + stats.indexRequests;
}

/** Requests of the budget read-ahead never takes: they stay for reads SQLite asked for. */
export const DEMAND_RESERVE = 2;

/** Raised when a query would exceed its subrequest budget. */
export class FetchLimitError extends CodedError<"QUERY_STORAGE_LIMIT"> {
  constructor(limit: number) {
    super(
      "QUERY_STORAGE_LIMIT",
      `query needs more than ${limit} storage requests and Cache API operations (its subrequest budget); narrow it or raise max_storage_requests`,
    );
  }
}
