/**
 * @module
 * Which database names exist, checked without creating a Durable Object for
 * names that have no replica (serve-all mode lists one key of the prefix;
 * answers are cached briefly in the isolate).
 */
import { type DatabaseConfig, databaseConfig, isValidName } from "../config/databases.ts";
import { databasesConfig, type ReplicaEnv } from "../config/open-replica.ts";
import { ApiError } from "../api/errors.ts";

const POSITIVE_TTL_MS = 60_000;
const NEGATIVE_TTL_MS = 5_000;
/** Names remembered per isolate (least recently checked dropped first). */
const KNOWN_KEPT = 4096;
const known = new Map<string, { exists: boolean; at: number }>();

function remember(name: string, exists: boolean, at: number): void {
  known.delete(name);
  known.set(name, { exists, at });
  for (const k of known.keys()) {
    if (known.size <= KNOWN_KEPT) break;
    known.delete(k);
  }
}

/** The configuration of an existing database, or a 404 ApiError. */
export async function requireDatabase(env: ReplicaEnv, name: string): Promise<DatabaseConfig> {
  const cfg = databaseConfig(databasesConfig(env), name);
  if (!cfg) {
    throw new ApiError("DB_NOT_FOUND", isValidName(name) ? `no database named ${JSON.stringify(name)}` : `invalid database name ${JSON.stringify(name)}`);
  }
  if (databasesConfig(env).explicit.has(name)) return cfg;
  const hit = known.get(name);
  const now = Date.now();
  if (hit && now - hit.at < (hit.exists ? POSITIVE_TTL_MS : NEGATIVE_TTL_MS)) {
    if (!hit.exists) throw new ApiError("DB_NOT_FOUND", `no replica under r2://BUCKET/${cfg.prefix}/`);
    return cfg;
  }
  const res = await env.BUCKET.list({ prefix: `${cfg.prefix}/`, limit: 1 });
  const exists = res.objects.length > 0;
  remember(name, exists, now);
  if (!exists) throw new ApiError("DB_NOT_FOUND", `no replica under r2://BUCKET/${cfg.prefix}/`);
  return cfg;
}

export interface DatabaseEntry {
  name: string;
  source: string;
  prefix: string;
}

/** Databases a page of `GET /db` lists at most. */
export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

/** One page of databases, and the cursor of the next page (null at the end). */
export interface DatabasePage {
  databases: DatabaseEntry[];
  cursor: string | null;
}

function encodeCursor(c: { r2: string | null; after: string }): string {
  return btoa(JSON.stringify(c)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeCursor(s: string): { r2: string | null; after: string } {
  try {
    const v = JSON.parse(atob(s.replace(/-/g, "+").replace(/_/g, "/"))) as unknown;
    if (typeof v === "object" && v !== null && "after" in v && typeof v.after === "string" && "r2" in v && (v.r2 === null || typeof v.r2 === "string")) {
      return { r2: v.r2, after: v.after };
    }
  } catch {
    // refused below
  }
  throw new ApiError("BAD_REQUEST", "cursor is not one this API handed out; start again without it");
}

/**
 * One page of databases in name order: the configured ones merged with the
 * bucket's top-level folders (serve-all mode), `limit` at a time. The cursor
 * is the last name handed out plus the bucket listing's own cursor, so each
 * page costs a couple of listings however many databases the bucket holds.
 */
export async function listDatabases(env: ReplicaEnv, opts: { limit?: number; cursor?: string | null } = {}): Promise<DatabasePage> {
  const config = databasesConfig(env);
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(opts.limit ?? DEFAULT_PAGE)));
  const from = opts.cursor ? decodeCursor(opts.cursor) : null;
  const after = from?.after ?? "";
  // Configured databases not yet handed out, in name order; merged below.
  const explicit = [...config.explicit.values()].filter((c) => c.name > after).sort((a, b) => (a.name < b.name ? -1 : 1));
  const out: DatabaseEntry[] = [];
  let r2Cursor = from?.r2 ?? undefined;
  const page = (): DatabasePage => ({ databases: out, cursor: encodeCursor({ r2: r2Cursor ?? null, after: out[out.length - 1]?.name ?? after }) });
  /** Hands out configured names sorting before `bound` (all when null); false once the page is full. */
  const flushExplicit = (bound: string | null): boolean => {
    while (explicit.length > 0 && (bound === null || explicit[0]!.name < bound)) {
      if (out.length === limit) return false;
      const c = explicit.shift()!;
      out.push({ name: c.name, source: c.source, prefix: c.prefix });
    }
    return true;
  };
  const end = (): DatabasePage => (flushExplicit(null) ? { databases: out, cursor: null } : page());
  if (!config.serveAll) return end();
  const base = config.root ? `${config.root}/` : "";
  for (;;) {
    const res = await env.BUCKET.list({ prefix: base, delimiter: "/", limit: Math.min(1000, limit + 1), ...(r2Cursor ? { cursor: r2Cursor } : {}) });
    for (const p of res.delimitedPrefixes) {
      const name = p.slice(base.length).replace(/\/$/, "");
      if (name <= after || config.explicit.has(name) || databaseConfig(config, name) === null) continue;
      if (!flushExplicit(name) || out.length === limit) return page();
      out.push({ name, source: "r2", prefix: `${base}${name}` });
    }
    if (!res.truncated) return end();
    r2Cursor = res.cursor;
  }
}
