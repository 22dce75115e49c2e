/**
 * @module
 * Which database names exist, checked without creating a Durable Object for
 * names that have no replica (serve-all mode lists one key of the prefix;
 * answers are cached briefly in the isolate).
 */
import { type DatabaseConfig, databaseConfig, isValidName } from "../config/databases.ts";
import { databasesConfig, type ReplicaEnv } from "../config/open-replica.ts";
import { ApiError } from "../http/errors.ts";

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

/** Lists databases: the configured ones, plus top-level folders of the bucket in serve-all mode. */
export async function listDatabases(env: ReplicaEnv): Promise<{ name: string; source: string; prefix: string }[]> {
  const config = databasesConfig(env);
  const out = new Map<string, { name: string; source: string; prefix: string }>();
  for (const c of config.explicit.values()) out.set(c.name, { name: c.name, source: c.source, prefix: c.prefix });
  if (config.serveAll) {
    const base = config.root ? `${config.root}/` : "";
    let cursor: string | undefined;
    do {
      const res = await env.BUCKET.list({ prefix: base, delimiter: "/", limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const p of res.delimitedPrefixes) {
        const name = p.slice(base.length).replace(/\/$/, "");
        if (!out.has(name) && databaseConfig(config, name) !== null) out.set(name, { name, source: "r2", prefix: `${base}${name}` });
      }
      cursor = res.truncated ? res.cursor : undefined;
    } while (cursor);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}
