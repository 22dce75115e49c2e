/**
 * @module
 * Bearer-token auth. Tokens come from secrets: `API_TOKEN` (global; several
 * may be given separated by commas, for rotation) and, per database, the
 * secret named by its `token_secret`. With no token configured at all, only
 * requests to a local host (wrangler dev) are served — unless
 * `ALLOW_UNAUTHENTICATED = "true"` — and a loud warning is logged once.
 */
import type { DatabaseConfig } from "../config/databases.ts";
import { ApiError } from "./errors.ts";

export interface AuthEnv {
  API_TOKEN?: string;
  ALLOW_UNAUTHENTICATED?: string;
}

let warned = false;

function tokens(v: unknown): string[] {
  return typeof v === "string" ? v.split(",").map((t) => t.trim()).filter((t) => t.length > 0) : [];
}

/** Compares in time independent of where the strings differ. */
function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

function isLocal(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]" || url.hostname.endsWith(".localhost");
}

/**
 * Throws 401/403 unless the request may proceed. `db` is null for
 * bucket-wide endpoints (listing), which only the global token opens.
 */
export function authorize(req: Request, env: AuthEnv, db: DatabaseConfig | null): void {
  const global = tokens(env.API_TOKEN);
  const perDb = db?.tokenSecret ? tokens((env as Record<string, unknown>)[db.tokenSecret]) : [];
  if (db?.tokenSecret && perDb.length === 0) {
    // A database meant to be protected is never served open because its secret is missing.
    throw new ApiError("CONFIG_INVALID", `database ${db.name}: token_secret names ${db.tokenSecret}, which is not set (wrangler secret put ${db.tokenSecret})`);
  }
  const accepted = [...global, ...perDb];
  if (accepted.length === 0) {
    const anyToken = global.length > 0;
    if (!anyToken && (env.ALLOW_UNAUTHENTICATED === "true" || isLocal(new URL(req.url)))) {
      if (!warned) {
        warned = true;
        console.warn(
          "ltx-edge: WARNING: no API_TOKEN secret is configured; the API is open to local requests only. " +
            "Set one with `wrangler secret put API_TOKEN` before deploying.",
        );
      }
      return;
    }
    throw new ApiError("UNAUTHORIZED", "no API token is configured for this deployment; set the API_TOKEN secret (wrangler secret put API_TOKEN)");
  }
  const header = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(header);
  if (!m || m[1] === undefined) throw new ApiError("UNAUTHORIZED", "missing bearer token: send Authorization: Bearer <token>");
  const given = m[1].trim();
  if (!accepted.some((t) => safeEqual(t, given))) throw new ApiError("FORBIDDEN", "invalid token for this resource");
}
