/**
 * @module
 * Builds the {@link Replica} for a configured database from the Worker's
 * bindings and secrets.
 */
import { R2Store } from "../replica/r2.ts";
import { Replica } from "../replica/replica.ts";
import { S3Store } from "../replica/s3.ts";
import type { ObjectStore } from "../replica/types.ts";
import { ConfigError, type DatabaseConfig, type DatabasesConfig, parseDatabasesConfig } from "./databases.ts";

/** Bindings this module reads. Secrets are looked up by name. */
export interface ReplicaEnv {
  BUCKET: R2Bucket;
  DATABASES?: unknown;
}

const parsed = new WeakMap<object, DatabasesConfig>();

/** Parses `env.DATABASES` once per env object. */
export function databasesConfig(env: ReplicaEnv): DatabasesConfig {
  let c = parsed.get(env);
  if (!c) {
    c = parseDatabasesConfig(env.DATABASES);
    parsed.set(env, c);
  }
  return c;
}

function secret(env: ReplicaEnv, name: string, db: string): string {
  const v = (env as unknown as Record<string, unknown>)[name];
  if (typeof v !== "string" || v === "") throw new ConfigError(`database ${db}: secret ${name} is not set`);
  return v;
}

/** The object store a database reads from (unbounded: callers wrap it in a TimeoutStore, after any test fault wrapper). */
export function openStore(env: ReplicaEnv, cfg: DatabaseConfig): ObjectStore {
  if (cfg.source === "s3" && cfg.s3) {
    return new S3Store({
      endpoint: cfg.s3.endpoint,
      region: cfg.s3.region,
      bucket: cfg.s3.bucket,
      accessKeyId: secret(env, cfg.s3.accessKeyIdSecret, cfg.name),
      secretAccessKey: secret(env, cfg.s3.secretAccessKeySecret, cfg.name),
      ...(cfg.s3.forcePathStyle !== undefined ? { forcePathStyle: cfg.s3.forcePathStyle } : {}),
    });
  }
  return new R2Store(env.BUCKET);
}

export function openReplica(store: ObjectStore, cfg: DatabaseConfig): Replica {
  return new Replica(store, { prefix: cfg.prefix, layout: cfg.layout });
}
