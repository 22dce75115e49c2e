/**
 * When the database's Durable Object cannot be reached, an isolate that
 * holds a good index keeps serving it — saying so (`replica_state:
 * "unreachable"`, growing staleness) — and recovers by itself once the DO
 * answers again. Only requests that demand freshness are refused.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type DatabaseRpc, testHooks } from "../../src/query/service.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { expectError } from "../support/http.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import { seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const DB = uniqueName("outage");
const NEVER_LOADED = uniqueName("outage-cold");
/** Every query finds its copy stale, so each one revalidates in the background. */
const e = envWith({ LIMITS: { max_staleness_ms: 0 } });
const COUNT = { sql: "SELECT count(*) FROM users" };
let rpcCalls = 0;

/** What an unreachable Durable Object looks like to a caller: every call throws. */
function unreachable(_rpc: DatabaseRpc): DatabaseRpc {
  const fail = (): Promise<never> => {
    rpcCalls++;
    return Promise.reject(new Error("Durable Object is overloaded"));
  };
  return { root: fail, rootAt: fail, chunks: fail, waitFor: fail, refresh: fail, reportMissing: fail };
}

interface Body {
  rows: unknown[][];
  meta: { replica_state: string; staleness_ms: number | null; txid: number };
}

beforeAll(async () => {
  await seedReplica(r2, "small", DB);
  await seedReplica(r2, "small", NEVER_LOADED);
});

afterAll(async () => {
  testHooks.wrapRpc = null;
  for (const db of [DB, NEVER_LOADED]) await env.DB_INDEX.getByName(db).stop();
});

test("the held index is served while the DO is down, with replica_state saying so", async () => {
  const first = await queryVia(e, DB, COUNT);
  expect(first.status, first.text).toBe(200);
  const before = JSON.parse(first.text) as Body;
  expect(before.meta.replica_state).toBe("ok");

  testHooks.wrapRpc = unreachable;
  // This query revalidates in the background (and that fails); the next one knows.
  const during = await queryVia(e, DB, COUNT);
  expect(during.status, during.text).toBe(200);
  expect(rpcCalls).toBeGreaterThan(0);
  const r = await queryVia(e, DB, COUNT);
  expect(r.status, r.text).toBe(200);
  const body = JSON.parse(r.text) as Body;
  expect(body.rows).toEqual([[38]]);
  expect(body.meta.txid).toBe(before.meta.txid);
  expect(body.meta.replica_state).toBe("unreachable");
  expect(r.headers.get("x-ltx-replica-state")).toBe("unreachable");
});

test("a request that demands freshness is refused with 503 and Retry-After", async () => {
  const r = await queryVia(e, DB, { ...COUNT, max_staleness_ms: 0 });
  expectError(r, 503, "REPLICA_STALE", /unreachable/);
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
});

test("a database never loaded in this isolate cannot be served: 503 with Retry-After", async () => {
  const r = await queryVia(e, NEVER_LOADED, COUNT);
  expect(r.status, r.text).toBe(503);
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
});

test("once the DO answers again, the isolate recovers by itself", async () => {
  testHooks.wrapRpc = null;
  await queryVia(e, DB, COUNT); // revalidates in the background, successfully this time
  const r = await queryVia(e, DB, COUNT);
  expect(r.status, r.text).toBe(200);
  expect((JSON.parse(r.text) as Body).meta.replica_state).toBe("ok");
  const cold = await queryVia(e, NEVER_LOADED, COUNT);
  expect(cold.status, cold.text).toBe(200);
});
