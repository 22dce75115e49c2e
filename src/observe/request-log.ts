/**
 * @module
 * Hono middleware: one structured log line per request, and (optionally) one
 * Workers Analytics Engine data point per request that touched a database.
 *
 * The line carries the route, status, duration and error code (and cause),
 * plus what the query service recorded for the request (src/observe/context.ts):
 * database, TXID, storage requests, bytes, cache hits. `LOG_REQUESTS`
 * chooses how much is logged: `all` (default), `errors` (status ≥ 400 or a
 * failed query inside a 200, as Hrana reports them) or `off`.
 *
 * Logging never fails a request: anything it throws is swallowed.
 */
import type { MiddlewareHandler } from "hono";
import { formatTxid } from "../ltx/txid.ts";
import { causeOf, type LogFields, logEvent } from "./log.ts";
import { newRecord, type RequestRecord, withRecord } from "./context.ts";
import { writeMetrics, type MetricsDataset } from "./metrics.ts";

/** The variables and bindings this middleware reads. */
export interface ObserveBindings {
  /** `all` (default), `errors` or `off`. */
  LOG_REQUESTS?: string;
  /** Optional Workers Analytics Engine dataset (wrangler.toml `[[analytics_engine_datasets]]`). */
  METRICS?: MetricsDataset;
}

type Mode = "all" | "errors" | "off";

function modeOf(v: unknown): Mode {
  return v === "off" || v === "errors" ? v : "all";
}

/** The database a path names (`/db/:name/...`), for requests that fail before the service sees them. */
function dbOfPath(path: string): string | undefined {
  const m = /^\/db\/([^/]+)/.exec(path);
  if (!m?.[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

/** The request-log middleware (mount first, on `*`). */
export function requestLog(): MiddlewareHandler<{ Bindings: ObserveBindings }> {
  return async (c, next) => {
    const started = Date.now();
    const record = newRecord();
    await withRecord(record, () => next());
    try {
      const path = new URL(c.req.url).pathname;
      const status = c.res.status;
      const code = c.res.headers.get("x-ltx-error") ?? record.error_code;
      const fields = lineFields(c.req.method, path, status, Date.now() - started, record, code, c.error);
      fields.ray = c.req.header("cf-ray");
      const mode = modeOf(c.env?.LOG_REQUESTS);
      const failed = status >= 400 || code !== undefined;
      if (mode === "all" || (mode === "errors" && failed)) logEvent("request", fields, status >= 500 ? "error" : failed ? "warn" : "info");
      const db = record.db ?? dbOfPath(path);
      if (c.env?.METRICS && db !== undefined) writeMetrics(c.env.METRICS, db, status, code, Date.now() - started, record);
    } catch {
      // Observability must never be the reason a request fails.
    }
  };
}

function lineFields(method: string, path: string, status: number, durationMs: number, r: RequestRecord, code: string | undefined, error: Error | undefined): LogFields {
  const f: LogFields = { method, path, status, duration_ms: durationMs, db: r.db ?? dbOfPath(path) };
  if (r.queries > 0) {
    Object.assign(f, {
      txid: r.txid,
      txid_hex: r.txid !== undefined ? formatTxid(r.txid) : undefined,
      served_from: r.served_from,
      replica_state: r.replica_state,
      queries: r.queries,
      statements: r.statements,
      rows: r.rows,
      exec_ms: r.exec_ms,
      storage_requests: r.storage_requests,
      bytes_fetched: r.bytes_fetched,
      cache_hits: r.cache_hits,
      isolate_hits: r.isolate_hits,
      cache_misses: r.cache_misses,
      index_requests: r.index_requests,
      fast_lane: r.fast_lane,
      retried: r.retried > 0 ? r.retried : undefined,
    });
  }
  if (code !== undefined) {
    f.error_code = code;
    f.error = error?.message ?? r.error_message;
    f.cause = error ? causeOf(error) : undefined;
  }
  return f;
}
