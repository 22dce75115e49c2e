/**
 * @module
 * Which databases exist and where their replicas live.
 *
 * By default every replica under the bound R2 bucket is served under its
 * top-level folder as its name (`<name>/0000/…ltx` or `<name>/ltx/0/…ltx`),
 * so a newly uploaded replica needs no redeploy. A `DATABASES` variable
 * (a JSON object, or a JSON string) lists databases explicitly, renames
 * them, points them at S3, sets their poll interval, and can switch the
 * default off:
 *
 * @example
 * ```toml
 * [vars.DATABASES]
 * default = false
 * [vars.DATABASES.databases.app]
 * prefix = "prod/app.db"
 * poll_interval_ms = 2000
 * [vars.DATABASES.databases.analytics]
 * source = "s3"
 * prefix = "replicas/analytics.db"
 * s3 = { endpoint = "https://s3.eu-west-1.amazonaws.com", region = "eu-west-1", bucket = "acme" }
 * # keys come from the secrets S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (or the names given here)
 * ```
 *
 * Every table is strict: a field this parser does not know (a typo such as
 * `poll_intervall_ms`) is a CONFIG_INVALID error naming it, so a mistake
 * shows on `/health` instead of being silently ignored.
 */
import { unknownFieldHint } from "../api/field-hint.ts";
import { CodedError } from "../errors.ts";
import type { LayoutOption } from "../replica/replica.ts";

/** Database names: one URL path segment, no dots-only or hidden names, no path tricks. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function isValidName(name: string): boolean {
  return NAME_RE.test(name) && !name.includes("..");
}

export interface S3SourceConfig {
  endpoint: string;
  region: string;
  bucket: string;
  forcePathStyle?: boolean;
  /** Name of the secret holding the access key id (default S3_ACCESS_KEY_ID). */
  accessKeyIdSecret: string;
  /** Name of the secret holding the secret key (default S3_SECRET_ACCESS_KEY). */
  secretAccessKeySecret: string;
}

/** Everything the Durable Object and the Worker need to know about one database. */
export interface DatabaseConfig {
  name: string;
  source: "r2" | "s3";
  s3?: S3SourceConfig;
  prefix: string;
  layout: LayoutOption;
  pollIntervalMs: number;
  /** Stop polling when nobody asked for the database for this long. */
  idleAfterMs: number;
  /** Per-database bearer token secret name (optional). */
  tokenSecret?: string;
}

export interface DatabasesConfig {
  /** Serve every top-level folder of the R2 bucket as a database. */
  serveAll: boolean;
  /** Prefix under which `serveAll` looks (default: the bucket root). */
  root: string;
  defaults: Pick<DatabaseConfig, "pollIntervalMs" | "idleAfterMs" | "layout">;
  explicit: Map<string, DatabaseConfig>;
}

export const DEFAULT_POLL_INTERVAL_MS = 1000;
export const DEFAULT_IDLE_AFTER_MS = 10 * 60 * 1000;

export class ConfigError extends CodedError<"CONFIG_INVALID"> {
  constructor(message: string) {
    super("CONFIG_INVALID", `DATABASES: ${message}`);
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The fields each table of `DATABASES` may have; anything else is a typo and refused (never ignored). */
const TOP_KEYS = ["default", "root", "poll_interval_ms", "idle_after_ms", "layout", "databases"] as const;
const DATABASE_KEYS = ["source", "prefix", "layout", "poll_interval_ms", "idle_after_ms", "token_secret", "s3"] as const;
const S3_KEYS = ["endpoint", "region", "bucket", "force_path_style", "access_key_id_secret", "secret_access_key_secret"] as const;

/** A table of the config with only the `allowed` fields; `where` is its path for messages ("" for the top). */
function obj(v: unknown, where: string, allowed: readonly string[] | null): Record<string, Json> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(`${where || "DATABASES"} must be an object`);
  if (allowed) {
    const unknown = Object.keys(v).find((k) => !allowed.includes(k));
    if (unknown !== undefined) throw new ConfigError(`unknown field ${where ? `${where}.` : ""}${unknown}; ${unknownFieldHint(unknown, allowed)}`);
  }
  return v as Record<string, Json>;
}

function str(v: Json | undefined, where: string, dflt?: string): string {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== "string") throw new ConfigError(`${where} must be a string`);
  return v;
}

function num(v: Json | undefined, where: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) throw new ConfigError(`${where} must be a number in [${min}, ${max}]`);
  return v;
}

function layout(v: Json | undefined, where: string, dflt: LayoutOption): LayoutOption {
  if (v === undefined) return dflt;
  if (v !== "auto" && v !== "s3" && v !== "file") throw new ConfigError(`${where} must be "auto", "s3" or "file"`);
  return v;
}

/** Parses the `DATABASES` variable (object, JSON string, or absent). */
export function parseDatabasesConfig(raw: unknown): DatabasesConfig {
  let v: unknown = raw;
  if (typeof raw === "string") {
    try {
      v = raw.trim() === "" ? {} : JSON.parse(raw);
    } catch (e) {
      throw new ConfigError(`not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const top = v === undefined || v === null ? {} : obj(v, "", TOP_KEYS);
  const defaults = {
    pollIntervalMs: num(top.poll_interval_ms, "poll_interval_ms", DEFAULT_POLL_INTERVAL_MS, 100, 3_600_000),
    idleAfterMs: num(top.idle_after_ms, "idle_after_ms", DEFAULT_IDLE_AFTER_MS, 1000, 7 * 86_400_000),
    layout: layout(top.layout, "layout", "auto"),
  };
  const serveAll = top.default === undefined ? true : top.default === true;
  if (top.default !== undefined && typeof top.default !== "boolean") throw new ConfigError("default must be true or false");
  const root = str(top.root, "root", "").replace(/^\/+|\/+$/g, "");
  const explicit = new Map<string, DatabaseConfig>();
  const dbs = top.databases === undefined ? {} : obj(top.databases, "databases", null);
  for (const [name, rawDb] of Object.entries(dbs)) {
    if (!isValidName(name)) throw new ConfigError(`invalid database name ${JSON.stringify(name)}`);
    const d = obj(rawDb, `databases.${name}`, DATABASE_KEYS);
    const source = str(d.source, `databases.${name}.source`, "r2");
    if (source !== "r2" && source !== "s3") throw new ConfigError(`databases.${name}.source must be "r2" or "s3"`);
    const cfg: DatabaseConfig = {
      name,
      source,
      prefix: str(d.prefix, `databases.${name}.prefix`, name).replace(/^\/+|\/+$/g, ""),
      layout: layout(d.layout, `databases.${name}.layout`, defaults.layout),
      pollIntervalMs: num(d.poll_interval_ms, `databases.${name}.poll_interval_ms`, defaults.pollIntervalMs, 100, 3_600_000),
      idleAfterMs: num(d.idle_after_ms, `databases.${name}.idle_after_ms`, defaults.idleAfterMs, 1000, 7 * 86_400_000),
    };
    if (cfg.prefix.split("/").some((s) => s === ".." || s === ".")) throw new ConfigError(`databases.${name}.prefix must not contain . or .. segments`);
    if (d.token_secret !== undefined) cfg.tokenSecret = str(d.token_secret, `databases.${name}.token_secret`);
    if (source !== "s3" && d.s3 !== undefined) throw new ConfigError(`databases.${name}.s3 is only read with source = "s3" (source is "${source}")`);
    if (source === "s3") {
      const s = obj(d.s3, `databases.${name}.s3`, S3_KEYS);
      cfg.s3 = {
        endpoint: str(s.endpoint, `databases.${name}.s3.endpoint`),
        region: str(s.region, `databases.${name}.s3.region`, "auto"),
        bucket: str(s.bucket, `databases.${name}.s3.bucket`),
        accessKeyIdSecret: str(s.access_key_id_secret, `databases.${name}.s3.access_key_id_secret`, "S3_ACCESS_KEY_ID"),
        secretAccessKeySecret: str(s.secret_access_key_secret, `databases.${name}.s3.secret_access_key_secret`, "S3_SECRET_ACCESS_KEY"),
      };
      if (s.force_path_style !== undefined) {
        if (typeof s.force_path_style !== "boolean") throw new ConfigError(`databases.${name}.s3.force_path_style must be true or false`);
        cfg.s3.forcePathStyle = s.force_path_style;
      }
      if (!/^https?:\/\//.test(cfg.s3.endpoint)) throw new ConfigError(`databases.${name}.s3.endpoint must be an http(s) URL`);
    }
    explicit.set(name, cfg);
  }
  return { serveAll, root, defaults, explicit };
}

/**
 * The configuration of a database by name, or null when the name is invalid
 * or not configured. In serve-all mode any valid name maps to a prefix in the
 * bucket; whether a replica is actually there is checked separately.
 */
export function databaseConfig(config: DatabasesConfig, name: string): DatabaseConfig | null {
  if (!isValidName(name)) return null;
  const explicit = config.explicit.get(name);
  if (explicit) return explicit;
  if (!config.serveAll) return null;
  const prefix = config.root ? `${config.root}/${name}` : name;
  // A replica configured explicitly is reachable only under its own name (and auth): never
  // also as a bucket folder, where its token_secret would not apply.
  for (const c of config.explicit.values()) if (c.source === "r2" && c.prefix === prefix) return null;
  return { name, source: "r2", prefix, ...config.defaults };
}
