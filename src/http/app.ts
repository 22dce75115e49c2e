/**
 * @module
 * The HTTP API (Hono).
 *
 * - `POST /db/:name/query`  `{sql, params?, min_txid?, txid?, timestamp?, integers?, limits?}` → `{columns, rows, meta}`
 * - `POST /db/:name/batch`  `{statements: [{sql, params?}], …}` → `{results: [{columns, rows}], meta}` (one snapshot)
 * - `GET  /db/:name`        status from the database's Durable Object
 * - `GET  /db`              databases
 * - `GET  /health`
 * - `GET  /openapi.json`    the OpenAPI document, built from the request schemas (src/api/)
 *
 * Every error is `{error: {code, message}}` with a status chosen by the code;
 * an unknown field anywhere in a request is `400 UNKNOWN_FIELD`.
 *
 * @example
 * ```sh
 * curl -s localhost:8787/db/sample/query -d '{"sql":"SELECT id, name FROM users WHERE id = ?","params":[7]}'
 * ```
 */
import { type Context, Hono } from "hono";
import { type DatabaseConfig, databaseConfig } from "../config/databases.ts";
import { databasesConfig } from "../config/open-replica.ts";
import type { ApiBindings } from "../env.ts";
import { OPERATIONS, buildOpenApi } from "../api/openapi.ts";
import { DatabaseListQuery } from "../api/requests.ts";
import type { MetaBody } from "../api/responses.ts";
import { parseRequest } from "../api/validate.ts";
import { formatTxid } from "../ltx/txid.ts";
import { listDatabases, requireDatabase } from "../query/databases.ts";
import { type QueryOutcome, isolateStats, runStatements } from "../query/service.ts";
import { subrequests } from "../pages/stats.ts";
import { authorize } from "../api/auth.ts";
import { ApiError, toApiError } from "../api/errors.ts";
import { rowsJson, withRawFields } from "../api/json.ts";
import { limitsFor } from "../api/limits.ts";
import { parseQueryRequest, readJsonBody } from "../api/query-request.ts";

type AppEnv = { Bindings: ApiBindings };

function meta(o: QueryOutcome, startedAt: number): MetaBody {
  const idx = o.snapshot.held.root;
  const rowsReturned = o.results.reduce((n, r) => n + r.rows.length, 0);
  return {
    txid: idx.txid,
    txid_hex: formatTxid(idx.txid),
    served_from: o.snapshot.servedFrom,
    position_time: idx.timestamp > 0 ? new Date(idx.timestamp).toISOString() : null,
    replica_state: o.snapshot.replicaState,
    staleness_ms: o.snapshot.servedFrom === "live" && o.freshness.sinceLastPollMs !== null ? o.freshness.sinceLastPollMs + o.snapshot.isolateAgeMs : null,
    newest_file_age_ms: o.freshness.newestFileAgeMs,
    duration_ms: Date.now() - startedAt,
    index_ms: o.snapshot.indexMs,
    exec_ms: o.execMs,
    rows_read: o.results.reduce((n, r) => n + r.rowsRead, 0),
    rows_returned: rowsReturned,
    pages_read: o.stats.pagesRead,
    vfs_reads: o.stats.vfsReads,
    storage_requests: o.stats.storageRequests,
    cache_ops: o.stats.cacheOps,
    index_requests: o.stats.indexRequests,
    index_bytes: o.stats.indexBytes,
    index_cache_hits: o.stats.indexCacheHits,
    subrequests: subrequests(o.stats),
    bytes_fetched: o.stats.bytesFetched,
    isolate_hits: o.stats.isolateHits + o.stats.pageHits,
    cache_hits: o.stats.cacheHits,
    cache_misses: o.stats.cacheMisses,
    index_sync_bytes: o.snapshot.held.lastSyncBytes,
    retried: o.retried,
    engine: o.engine,
    engine_lane: o.lane,
  };
}

function serverTiming(o: QueryOutcome): string {
  const s = o.stats;
  return [
    `index;dur=${o.snapshot.indexMs}`,
    `exec;dur=${o.execMs}`,
    `storage;desc="requests=${s.storageRequests} bytes=${s.bytesFetched}"`,
    `subrequests;desc="storage=${s.storageRequests} cache=${s.cacheOps}"`,
    `cache;desc="isolate=${s.isolateHits + s.pageHits} edge=${s.cacheHits} miss=${s.cacheMisses}"`,
  ].join(", ");
}

/** The OpenAPI document, built once per isolate (it depends on code only). */
let openApi: Record<string, unknown> | null = null;

/**
 * The JSON API's routes (mounted at `/` by src/app.ts, which adds the
 * middleware every transport shares: errors, request logs, CORS).
 */
export function jsonApi(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/", (c) => c.json({ name: "ltx-edge", endpoints: OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path}`), openapi: "/openapi.json" }));
  app.get("/openapi.json", (c) => c.json((openApi ??= buildOpenApi())));

  app.get("/health", (c) => {
    databasesConfig(c.env); // surfaces a broken DATABASES as a 500 with CONFIG_INVALID
    limitsFor(c.env);
    return c.json({ ok: true, isolate: isolateStats() });
  });


  app.get("/db", async (c) => {
    authorize(c.req.raw, c.env, null);
    const { limit, cursor } = parseRequest(DatabaseListQuery, c.req.query(), "query");
    return c.json(await listDatabases(c.env, { ...(limit !== undefined ? { limit } : {}), cursor: cursor ?? null }));
  });

  // Auth comes before the existence check, so tokens are needed to learn which names exist.
  const database = async (c: Context<AppEnv, string>): Promise<DatabaseConfig> => {
    const name = c.req.param("name") ?? "";
    authorize(c.req.raw, c.env, databaseConfig(databasesConfig(c.env), name));
    return requireDatabase(c.env, name);
  };

  app.get("/db/:name", async (c) => {
    const cfg = await database(c);
    const r = await c.env.DB_INDEX.getByName(cfg.name).status(cfg.name);
    if (!r.ok) throw new ApiError(r.error.code, r.error.message);
    return c.json(r.value);
  });

  const run = (kind: "query" | "batch") => async (c: Context<AppEnv, string>) => {
    const startedAt = Date.now();
    const limits = limitsFor(c.env);
    const cfg = await database(c);
    const body = await readJsonBody(c.req.raw, limits.maxBodyBytes);
    const req = parseQueryRequest(body, kind, limits, startedAt);
    const outcome = await runStatements(c.env, cfg, req.statements, req.target, req.limits, (p) => c.executionCtx.waitUntil(p)).catch(
      (e: unknown) => {
        // Name the failing statement of a batch.
        const index = (e as { statementIndex?: unknown }).statementIndex;
        if (kind === "batch" && typeof index === "number") {
          const api = toApiError(e);
          throw new ApiError(api.code, `statements[${index}]: ${api.message}`, api.status);
        }
        throw e;
      },
    );
    const m = meta(outcome, startedAt);
    let text: string;
    if (kind === "query") {
      const r = outcome.results[0];
      if (!r) throw new ApiError("INTERNAL", "no result");
      text = withRawFields({ meta: m }, { columns: JSON.stringify(r.columns), rows: rowsJson(r.rows, req.integers) });
    } else {
      const results = outcome.results.map((r) => withRawFields({ rows_read: r.rowsRead }, { columns: JSON.stringify(r.columns), rows: rowsJson(r.rows, req.integers) }));
      text = `{"results":[${results.join(",")}],"meta":${JSON.stringify(m)}}`;
    }
    return new Response(text, {
      headers: {
        "content-type": "application/json; charset=utf-8",
        "server-timing": serverTiming(outcome),
        "x-ltx-txid": formatTxid(outcome.snapshot.held.root.txid),
        // Lag in headers too, for clients that never look at meta.
        "x-ltx-replica-state": String(m.replica_state),
        ...(m.staleness_ms !== null ? { "x-ltx-staleness-ms": String(m.staleness_ms) } : {}),
      },
    });
  };

  app.all("/db/:name", () => new ApiError("METHOD_NOT_ALLOWED", "use GET for status, POST /db/:name/query or /batch for SQL").toResponse({ allow: "GET" }));
  app.post("/db/:name/query", run("query"));
  app.post("/db/:name/batch", run("batch"));
  app.all("/db/:name/query", () => new ApiError("METHOD_NOT_ALLOWED", "use POST with a JSON body").toResponse({ allow: "POST" }));
  app.all("/db/:name/batch", () => new ApiError("METHOD_NOT_ALLOWED", "use POST with a JSON body").toResponse({ allow: "POST" }));

  return app;
}
