/**
 * `max_staleness_ms`: a client that would rather fail than read old data.
 * The DO is asked to poll right away; if the replica cannot be confirmed
 * (storage failing), the request fails with REPLICA_STALE instead of
 * silently serving the last known state.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { expect, test } from "vitest";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { StorageError, type ObjectStore } from "../../src/replica/types.ts";
import { withFaults } from "../support/fault-store.ts";
import { seedReplica } from "../support/seed.ts";
import { waitUntil } from "../support/wait.ts";

interface Reply {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string }; meta?: { staleness_ms: number; replica_state: string } };
}

async function post(db: string, body: unknown): Promise<Reply> {
  const res = await exports.default.fetch(`http://localhost/db/${db}/query`, { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Reply["body"] };
}

/** Waits until a plain read reports a position last confirmed more than `ms` ago (meta.staleness_ms). */
async function olderThan(db: string, ms: number): Promise<void> {
  await waitUntil(async () => ((await post(db, { sql: "SELECT 1" })).body.meta?.staleness_ms ?? 0) > ms, `staleness above ${ms} ms`, { intervalMs: 100 });
}

test("max_staleness_ms forces a fresh poll, and refuses when the replica cannot be confirmed", async () => {
  const db = "stale-check";
  await seedReplica(new R2Store(env.BUCKET), "small", db);
  const stub = env.DB_INDEX.getByName(db);
  expect((await post(db, { sql: "SELECT 1" })).status).toBe(200);
  // The test config polls only hourly, so the position is old news after a moment: wait until a read says so.
  await olderThan(db, 1000);
  const fresh = await post(db, { sql: "SELECT 1", max_staleness_ms: 1000 });
  expect(fresh.status).toBe(200);
  expect(fresh.body.meta?.staleness_ms).toBeLessThanOrEqual(1000);

  // Storage starts failing: the DO cannot confirm the position any more.
  await runInDurableObject(stub, (instance: DatabaseIndex) => {
    instance.setStoreWrapper((inner: ObjectStore) =>
      withFaults(inner, {
        list: async () => {
          throw new StorageError("STORAGE_ERROR", "HTTP 503 from the store");
        },
      }),
    );
  });
  await olderThan(db, 1000);
  const refused = await post(db, { sql: "SELECT 1", max_staleness_ms: 1000 });
  expect(refused.status).toBe(503);
  expect(refused.body.error?.code).toBe("REPLICA_STALE");
  expect(refused.body.error?.message).toMatch(/error/);
  // Without the demand, the last known state is still served — and says so.
  const lenient = await post(db, { sql: "SELECT 1" });
  expect(lenient.status).toBe(200);
  expect(lenient.body.meta?.replica_state).toBe("error");
  expect(lenient.headers.get("x-ltx-replica-state")).toBe("error");
  expect(Number(lenient.headers.get("x-ltx-staleness-ms"))).toBeGreaterThan(1000);
  await stub.stop();
});

test("max_staleness_ms is validated", async () => {
  await seedReplica(new R2Store(env.BUCKET), "small", "stale-bad");
  expect((await post("stale-bad", { sql: "SELECT 1", max_staleness_ms: -1 })).body.error?.code).toBe("BAD_REQUEST");
  expect((await post("stale-bad", { sql: "SELECT 1", max_staleness_ms: 10, txid: 1 })).body.error?.code).toBe("BAD_REQUEST");
});
