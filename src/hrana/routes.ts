/**
 * @module
 * Hrana over HTTP (JSON, versions 2 and 3) for libSQL clients — @libsql/client
 * and the ORMs built on it (Drizzle, Kysely, Prisma's libSQL adapter):
 *
 * - `GET  /db/:name/v2`, `GET /db/:name/v3`            version probes (200, no auth: clients probe without a token)
 * - `POST /db/:name/v2/pipeline`, `/db/:name/v3/pipeline`  `{baton, requests}` → `{baton, base_url, results}`
 *
 * Clients resolve `v2/pipeline` relative to their URL, so the URL must end
 * with a slash: `http://host/db/<name>/`. Without it the name is dropped and
 * the request lands on `/db/v2/pipeline`, which answers with that advice.
 *
 * Errors of the whole request are `{message, code}` (what libSQL clients
 * read) plus our usual `{error: {code, message}}`, with the usual status.
 *
 * @example
 * ```ts
 * import { createClient } from "@libsql/client";
 * const db = createClient({ url: "http://localhost:8787/db/sample/", authToken: process.env.LTX_EDGE_TOKEN });
 * const rs = await db.execute({ sql: "SELECT name FROM users WHERE id = ?", args: [7] });
 * ```
 */
import { type Context, Hono } from "hono";
import { type DatabaseConfig, databaseConfig } from "../config/databases.ts";
import { databasesConfig } from "../config/open-replica.ts";
import type { ApiBindings } from "../env.ts";
import { authorize } from "../api/auth.ts";
import { ApiError, toApiError } from "../api/errors.ts";
import { limitsFor } from "../api/limits.ts";
import { readJsonBody } from "../api/query-request.ts";
import { formatTxid } from "../ltx/txid.ts";
import { requireDatabase } from "../query/databases.ts";
import { runPipeline } from "./pipeline.ts";

type HranaEnv = { Bindings: ApiBindings };

const VERSIONS = ["v2", "v3"] as const;

/**
 * An error of the whole request. libSQL clients parse a JSON body with a
 * top-level `message` (and `code`) only when the content type is exactly
 * `application/json`.
 */
export function hranaErrorResponse(e: unknown, headers: Record<string, string> = {}): Response {
  const err = toApiError(e);
  const body = { message: err.message, code: err.code, error: { code: err.code, message: err.message } };
  const auth: Record<string, string> = err.status === 401 ? { "www-authenticate": 'Bearer realm="ltx-edge"' } : {};
  return new Response(JSON.stringify(body), { status: err.status, headers: { "content-type": "application/json", ...auth, ...headers } });
}

async function database(c: Context<HranaEnv>): Promise<DatabaseConfig> {
  const name = c.req.param("name") ?? "";
  authorize(c.req.raw, c.env, databaseConfig(databasesConfig(c.env), name));
  return requireDatabase(c.env, name);
}

async function pipeline(c: Context<HranaEnv>): Promise<Response> {
  try {
    const limits = limitsFor(c.env);
    const cfg = await database(c);
    const body = await readJsonBody(c.req.raw, limits.maxBodyBytes);
    const r = await runPipeline({ env: c.env, cfg, limits, waitUntil: (p) => c.executionCtx.waitUntil(p) }, body);
    const t = r.runner.totals;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "server-timing": `index;dur=${t.indexMs}, exec;dur=${t.execMs}, storage;desc="requests=${t.storageRequests} bytes=${t.bytesFetched}", cache;desc="isolate=${t.isolateHits} edge=${t.cacheHits} miss=${t.cacheMisses}"`,
    };
    if (r.txid !== null) headers["x-ltx-txid"] = formatTxid(r.txid);
    if (r.runner.servedFrom) headers["x-ltx-served-from"] = r.runner.servedFrom;
    return new Response(r.text, { headers });
  } catch (e) {
    return hranaErrorResponse(e);
  }
}

const slashHint = (c: Context<HranaEnv>): Response =>
  hranaErrorResponse(
    new ApiError(
      "NOT_FOUND",
      `no database in ${new URL(c.req.url).pathname}: give libSQL clients the database URL with a trailing slash, ` +
        `e.g. "https://<host>/db/<name>/" — without it they resolve "v2/pipeline" next to the name and drop it`,
    ),
  );

/** The Hrana routes, to mount at the root of the API app. */
export function createHranaApp(): Hono<HranaEnv> {
  const app = new Hono<HranaEnv>();
  for (const v of VERSIONS) {
    // Probes carry no token (the client sends a bare GET), and answer for the protocol, not for a database.
    app.get(`/db/:name/${v}`, () => new Response(`Hrana over HTTP ${v} (JSON)\n`, { headers: { "content-type": "text/plain; charset=utf-8" } }));
    app.post(`/db/:name/${v}/pipeline`, pipeline);
    app.all(`/db/:name/${v}/pipeline`, () =>
      hranaErrorResponse(new ApiError("METHOD_NOT_ALLOWED", "use POST with a JSON pipeline body"), { allow: "POST" }),
    );
    app.all(`/db/:name/${v}/cursor`, () =>
      hranaErrorResponse(new ApiError("NOT_SUPPORTED", "Hrana cursors are not supported; use the pipeline endpoint", 404)),
    );
    app.post(`/db/${v}/pipeline`, slashHint);
    app.post(`/${v}/pipeline`, slashHint);
  }
  return app;
}
