/**
 * Over HTTP: the first query of a database runs on the main lane (its pages
 * are fetched), a repeat on the fast lane (wa-sqlite's synchronous build, every
 * page in memory), with the same rows; `meta` says which lane answered.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { FixtureDb, asWalPrimary } from "../support/sqlite-db.ts";

interface Body {
  rows: unknown[][];
  meta: { engine: string; engine_lane: string; storage_requests: number };
}

async function query(db: string, sql: string): Promise<Body> {
  const res = await exports.default.fetch(`http://localhost/db/${db}/query`, { method: "POST", body: JSON.stringify({ sql }) });
  const body = (await res.json()) as Body;
  if (res.status !== 200) throw new Error(JSON.stringify(body));
  return body;
}

const DB = `fast-lane-${Date.now()}`;

beforeAll(async () => {
  const db = await FixtureDb.create(4096);
  await db.exec(`
    CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
    WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 5000) INSERT INTO t SELECT x, printf('v-%05d', x) FROM s;
  `);
  const bytes = asWalPrimary(db.bytes());
  await db.close();
  const pages = bytes.length / 4096;
  const w = new LtxWriter({ pageSize: 4096, commit: pages, minTxid: 1, maxTxid: 1, timestamp: Date.now() });
  for (let p = 1; p <= pages; p++) w.addPage(p, bytes.subarray((p - 1) * 4096, p * 4096));
  await env.BUCKET.put(`${DB}/0009/${formatLtxFilename(1, 1)}`, w.finish());
}, 120_000);

test("cold: the main lane fetches; warm: the fast lane answers the same rows without a storage request", async () => {
  const sql = "SELECT count(*), min(v), max(v), sum(id) FROM t";
  const cold = await query(DB, sql);
  expect(cold.meta.engine_lane).toBe("fallback");
  expect(cold.meta.engine).not.toBe("sync");
  expect(cold.meta.storage_requests).toBeGreaterThan(0);
  expect(cold.rows).toEqual([[5000, "v-00001", "v-05000", 12502500]]);

  const warm = await query(DB, sql);
  expect(warm.meta.engine_lane).toBe("fast");
  expect(warm.meta.engine).toBe("sync");
  expect(warm.meta.storage_requests).toBe(0);
  expect(warm.rows).toEqual(cold.rows);

  const health = (await (await exports.default.fetch("http://localhost/health")).json()) as { isolate: Record<string, number> };
  expect(health.isolate.fastLaneHits).toBeGreaterThanOrEqual(1);
  expect(health.isolate.fastLaneMisses).toBeGreaterThanOrEqual(1);
});
