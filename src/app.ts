/**
 * @module
 * The Worker's HTTP surface: the transports mounted side by side on one Hono
 * app, with the middleware they share. Each transport is a folder of its own
 * over the query service and the API model (src/api/); only this file knows
 * them all.
 *
 * - `/` — the JSON API (src/http/)
 * - `/…/v2|v3/pipeline` — Hrana for libSQL clients (src/hrana/)
 * - `/console` — the web console, off unless `CONSOLE = "true"` (src/console/)
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { ApiError, toApiError } from "./api/errors.ts";
import { consoleApp } from "./console/app.ts";
import type { ApiBindings } from "./env.ts";
import { createHranaApp } from "./hrana/routes.ts";
import { jsonApi } from "./http/app.ts";
import { requestLog } from "./observe/request-log.ts";

function corsOrigins(v: unknown): string[] {
  return typeof v === "string" ? v.split(",").map((o) => o.trim()).filter((o) => o.length > 0) : [];
}

/** The whole app, as the Worker's default export serves it. */
export function createApp(): Hono<{ Bindings: ApiBindings }> {
  const app = new Hono<{ Bindings: ApiBindings }>();

  app.onError((err) => toApiError(err).toResponse());
  // First: it must see every request, including those a later middleware refuses.
  app.use("*", requestLog());
  // Browsers: only the origins listed in CORS_ORIGINS ("*" for any); none by default.
  app.use("*", async (c, next) => {
    const origins = corsOrigins(c.env.CORS_ORIGINS);
    if (origins.length === 0) return next();
    return cors({
      origin: origins.includes("*") ? "*" : origins,
      allowMethods: ["GET", "POST", "OPTIONS"],
      allowHeaders: ["authorization", "content-type"],
      exposeHeaders: ["server-timing", "x-ltx-error", "x-ltx-txid", "x-ltx-replica-state", "x-ltx-staleness-ms"],
      maxAge: 86400,
    })(c, next);
  });
  app.notFound((c) => new ApiError("NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`).toResponse());

  app.route("/", jsonApi());
  app.route("/console", consoleApp()); // off unless CONSOLE = "true" (docs/console.md)
  app.route("/", createHranaApp()); // Hrana over HTTP for libSQL clients (docs/hrana.md)
  return app;
}
