/**
 * Workerd-side helpers for tests of the database's Durable Object: status as
 * a plain value, a store wrapper for fault injection (the DO's own
 * setStoreWrapper test hook), and a per-database poll interval.
 */
import { runInDurableObject } from "cloudflare:test";
import type { DatabaseConfig } from "../../src/config/databases.ts";
import { databasesConfig } from "../../src/config/open-replica.ts";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import type { DbStatus } from "../../src/durable/protocol.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import type { ReplicaEnv } from "../../src/config/open-replica.ts";
import { withFaults } from "./fault-store.ts";

export type DoStub = DurableObjectStub<DatabaseIndex>;

/** The status RPC's value (monitoring: it neither wakes nor keeps a database polling); throws on an error result. */
export async function statusOf(stub: DoStub, name: string): Promise<DbStatus> {
  const r = await stub.status(name);
  if (!r.ok) throw new Error(`status(${name}): ${r.error.code}: ${r.error.message}`);
  return r.value;
}

/** Routes the DO's object store through `wrap` (null: the plain store again). */
export async function wrapDoStore(stub: DoStub, wrap: ((inner: ObjectStore) => ObjectStore) | null): Promise<void> {
  await runInDurableObject(stub, (instance: DatabaseIndex) => {
    instance.setStoreWrapper(wrap);
  });
}

/**
 * Configures database `name` (an R2 replica under the prefix `name`) with its
 * own poll interval, as a `[vars.DATABASES.databases.<name>]` entry would.
 *
 * The test config in vitest.config.ts polls every database hourly (so alarms
 * never fire on their own during a test), and an hourly interval hides the
 * documented back-off (it is capped at max(interval, 60 s)). vitest.config.ts
 * is not the tests' to change, so the entry is added to the parsed DATABASES
 * of the object's own env before its first RPC. Must be called before anything
 * else talks to the object.
 */
export async function configurePollInterval(stub: DoStub, name: string, pollIntervalMs: number): Promise<void> {
  await runInDurableObject(stub, (instance: DatabaseIndex) => {
    const env = (instance as unknown as { env: ReplicaEnv }).env;
    const parsed = databasesConfig(env);
    const cfg: DatabaseConfig = { name, source: "r2", prefix: name, ...parsed.defaults, pollIntervalMs };
    parsed.explicit.set(name, cfg);
  });
}

/** Records every `list` call (prefix and startAfter) a DO makes, passing it on to the real store. */
export function listRecorder(): { calls: { prefix: string; startAfter: string | undefined }[]; wrap: (inner: ObjectStore) => ObjectStore } {
  const calls: { prefix: string; startAfter: string | undefined }[] = [];
  const wrap = (inner: ObjectStore): ObjectStore =>
    withFaults(inner, {
      list: (prefix, options) => {
        calls.push({ prefix, startAfter: options?.startAfter });
        return inner.list(prefix, options);
      },
    });
  return { calls, wrap };
}

/** Records every `head` call (the key) a DO makes, passing it on to the real store. */
export function headRecorder(): { keys: string[]; wrap: (inner: ObjectStore) => ObjectStore } {
  const keys: string[] = [];
  const wrap = (inner: ObjectStore): ObjectStore =>
    withFaults(inner, {
      head: (key) => {
        keys.push(key);
        return inner.head(key);
      },
    });
  return { keys, wrap };
}
