/**
 * @module
 * Per-database metrics in Workers Analytics Engine (optional: only when a
 * `METRICS` dataset is bound). One data point per request that touched a
 * database, indexed by database name, so SQL over the dataset answers
 * "which database is slow / costly / failing" (docs/observability.md).
 */
import type { RequestRecord } from "./context.ts";

/** The one method of an Analytics Engine dataset binding used here. */
export interface MetricsDataset {
  writeDataPoint(point: { indexes?: string[]; blobs?: string[]; doubles?: number[] }): void;
}

/**
 * Column order (documented in docs/observability.md; append only):
 * blobs:   1 db, 2 status, 3 error code, 4 served_from, 5 replica_state
 * doubles: 1 duration_ms, 2 storage_requests, 3 bytes_fetched, 4 cache_hits,
 *          5 isolate_hits, 6 rows, 7 exec_ms, 8 txid, 9 queries
 */
export function writeMetrics(ds: MetricsDataset, db: string, status: number, code: string | undefined, durationMs: number, r: RequestRecord): void {
  ds.writeDataPoint({
    // Analytics Engine keeps one index per point, of at most 96 bytes.
    indexes: [db.slice(0, 96)],
    blobs: [db, String(status), code ?? "", r.served_from ?? "", r.replica_state ?? ""],
    doubles: [durationMs, r.storage_requests, r.bytes_fetched, r.cache_hits, r.isolate_hits, r.rows, r.exec_ms, r.txid ?? 0, r.queries],
  });
}
