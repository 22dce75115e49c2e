/**
 * A storage read that hangs (a stalled connection, an overloaded backend)
 * ends with 504 STORAGE_TIMEOUT after `storage_timeout_ms`, and never holds
 * up queries of other databases behind it in the isolate's engine.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { testHooks } from "../../src/query/service.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { withFaults } from "../support/fault-store.ts";
import { expectError } from "../support/http.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import { seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const HUNG = uniqueName("hung");
const OTHER = uniqueName("other");
const e = envWith({ LIMITS: { storage_timeout_ms: 300 } });
let hungReads = 0;

beforeAll(async () => {
  await seedReplica(r2, "small", HUNG);
  await seedReplica(r2, "small", OTHER);
  // The Worker's page reads of HUNG never answer; its DO (own store) is unaffected.
  testHooks.wrapStore = (s, db) =>
    db === HUNG
      ? withFaults(s, {
          getRange: () => {
            hungReads++;
            return new Promise(() => undefined);
          },
        })
      : s;
});

afterAll(async () => {
  testHooks.wrapStore = null;
  for (const db of [HUNG, OTHER]) await env.DB_INDEX.getByName(db).stop();
});

test("a hung read ends in STORAGE_TIMEOUT; a query of another database queued behind it completes", async () => {
  const hung = queryVia(e, HUNG, { sql: "SELECT count(*) FROM users" });
  const other = queryVia(e, OTHER, { sql: "SELECT count(*) FROM users" });
  const [h, o] = await Promise.all([hung, other]);
  expectError(h, 504, "STORAGE_TIMEOUT", /300 ms/);
  expect(hungReads).toBeGreaterThan(0);
  expect(o.status, o.text).toBe(200);
  expect((JSON.parse(o.text) as { rows: unknown[][] }).rows).toEqual([[38]]);
});

test("once storage answers again, the same database is served (nothing was poisoned)", async () => {
  testHooks.wrapStore = null;
  const r = await queryVia(e, HUNG, { sql: "SELECT count(*) FROM users" });
  expect(r.status, r.text).toBe(200);
  expect((JSON.parse(r.text) as { rows: unknown[][] }).rows).toEqual([[38]]);
});
