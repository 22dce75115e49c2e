/**
 * One structured JSON log line per request — what it read, what it cost, why
 * it failed — at the level its status calls for; `LOG_REQUESTS` turns it
 * down; an Analytics Engine dataset, when bound, gets one data point per
 * request that touched a database.
 */
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, expect, test, vi } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { envWith, queryVia, uniqueName, viaApp } from "../support/app.ts";
import { manifest, seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const db = uniqueName("obs");

beforeAll(async () => {
  await seedReplica(r2, "small", db);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The request lines logged at each level while `fn` runs. */
async function capture(fn: () => Promise<unknown>): Promise<{ info: Record<string, unknown>[]; warn: Record<string, unknown>[]; error: Record<string, unknown>[] }> {
  const out = { info: [] as Record<string, unknown>[], warn: [] as Record<string, unknown>[], error: [] as Record<string, unknown>[] };
  const keep = (into: Record<string, unknown>[]) => (line: unknown) => {
    if (typeof line !== "string" || !line.startsWith("{")) return;
    const v = JSON.parse(line) as Record<string, unknown>;
    if (v.event === "request") into.push(v);
  };
  vi.spyOn(console, "log").mockImplementation(keep(out.info));
  vi.spyOn(console, "warn").mockImplementation(keep(out.warn));
  vi.spyOn(console, "error").mockImplementation(keep(out.error));
  await fn();
  vi.restoreAllMocks();
  return out;
}

test("a query logs one info line with the database, TXID and what it cost", async () => {
  const e = envWith({ LOG_REQUESTS: "all" });
  const small = await manifest("small");
  const logs = await capture(() => queryVia(e, db, { sql: "SELECT count(*) FROM users" }));
  expect(logs.warn).toEqual([]);
  expect(logs.error).toEqual([]);
  expect(logs.info).toHaveLength(1);
  const line = logs.info[0]!;
  expect(line).toMatchObject({ method: "POST", path: `/db/${db}/query`, status: 200, db, txid_hex: small.final_txid, served_from: "live", queries: 1, statements: 1, rows: 1 });
  for (const k of ["duration_ms", "exec_ms", "storage_requests", "bytes_fetched", "cache_hits", "isolate_hits", "cache_misses"]) expect(typeof line[k], k).toBe("number");
  expect(line.error_code).toBeUndefined();
});

test("a client error logs a warn line with its code and message, and the response names the code in a header", async () => {
  const e = envWith({ LOG_REQUESTS: "all" });
  const ghost = uniqueName("ghost");
  let status = 0;
  let header: string | null = null;
  const logs = await capture(async () => {
    const r = await queryVia(e, ghost, { sql: "SELECT 1" });
    status = r.status;
    header = r.headers.get("x-ltx-error");
  });
  expect(status).toBe(404);
  expect(header).toBe("DB_NOT_FOUND");
  expect(logs.info).toEqual([]);
  expect(logs.warn).toHaveLength(1);
  expect(logs.warn[0]).toMatchObject({ status: 404, db: ghost, error_code: "DB_NOT_FOUND" });
  expect(String(logs.warn[0]!.error)).toMatch(/no replica/);
});

test("a failed statement inside a Hrana 200 is still logged with its code", async () => {
  const e = envWith({ LOG_REQUESTS: "all" });
  const logs = await capture(() =>
    viaApp(e, `/db/${db}/v2/pipeline`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT * FROM no_such_table" } }, { type: "close" }] }),
    }),
  );
  const line = [...logs.info, ...logs.warn][0];
  expect(line).toMatchObject({ status: 200, db });
  expect(typeof line?.error_code).toBe("string");
  expect(logs.warn).toHaveLength(1);
});

test("LOG_REQUESTS=errors logs failures only; off logs nothing", async () => {
  const errorsOnly = envWith({ LOG_REQUESTS: "errors" });
  const quiet = await capture(() => queryVia(errorsOnly, db, { sql: "SELECT 1" }));
  expect(quiet.info.length + quiet.warn.length + quiet.error.length).toBe(0);
  const failing = await capture(() => queryVia(errorsOnly, db, { sql: "DELETE FROM users" }));
  expect(failing.warn).toHaveLength(1);
  const off = envWith({ LOG_REQUESTS: "off" });
  const none = await capture(async () => {
    await queryVia(off, db, { sql: "DELETE FROM users" });
    await queryVia(off, db, { sql: "SELECT 1" });
  });
  expect(none.info.length + none.warn.length + none.error.length).toBe(0);
});

test("with a METRICS dataset bound, each database request writes one data point in the documented columns", async () => {
  const points: { indexes?: string[]; blobs?: string[]; doubles?: number[] }[] = [];
  // Local workerd accepts writes to Analytics Engine but offers no way to read them back: record them instead.
  const e = envWith({ METRICS: { writeDataPoint: (p: (typeof points)[number]) => points.push(p) }, LOG_REQUESTS: "off" });
  await queryVia(e, db, { sql: "SELECT id FROM users ORDER BY id LIMIT 3" });
  await viaApp(e, "/health");
  expect(points).toHaveLength(1);
  const p = points[0]!;
  expect(p.indexes).toEqual([db]);
  expect(p.blobs?.slice(0, 5)).toEqual([db, "200", "", "live", expect.any(String)]);
  const [duration, storage, bytes, cacheHits, isolateHits, rows, exec, txid, queries] = p.doubles ?? [];
  expect(rows).toBe(3);
  expect(queries).toBe(1);
  expect(txid).toBeGreaterThan(0);
  for (const v of [duration, storage, bytes, cacheHits, isolateHits, exec]) expect(v).toBeGreaterThanOrEqual(0);
});
