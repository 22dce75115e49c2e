/**
 * Storage requests counted, not timed, on a database shaped like the `medium`
 * fixture (200k-row events table with an index, ≈ 30 MB, page size 4096),
 * written by real SQLite (wa-sqlite) and snapshotted with LtxWriter into
 * local R2. (`medium` itself is benchmark data outside the repo; `npm run
 * bench` reports the same counts on it.)
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, test } from "vitest";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { FixtureDb, asWalPrimary } from "../support/sqlite-db.ts";

interface Meta {
  storage_requests: number;
  cache_hits: number;
  isolate_hits: number;
  pages_read: number;
  bytes_fetched: number;
}

async function query(db: string, sql: string): Promise<{ rows: unknown[][]; meta: Meta }> {
  const res = await exports.default.fetch(`http://localhost/db/${db}/query`, { method: "POST", body: JSON.stringify({ sql }) });
  const body = (await res.json()) as { rows: unknown[][]; meta: Meta; error?: unknown };
  if (res.status !== 200) throw new Error(JSON.stringify(body));
  return body;
}

let snapshot: Uint8Array;
let pages = 0;

beforeAll(async () => {
  const db = await FixtureDb.create(4096);
  await db.exec(`
    CREATE TABLE events(id INTEGER PRIMARY KEY, kind TEXT, amount REAL, ref TEXT, payload TEXT, note TEXT);
    CREATE INDEX events_ref ON events(ref);
    BEGIN;
    WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 200000)
      INSERT INTO events SELECT x, 'kind-' || (x % 7), x * 0.25, printf('ref-%09d', x), hex(randomblob(40)),
        CASE WHEN x % 3 = 0 THEN NULL ELSE 'note' END FROM s;
    COMMIT;
  `);
  const bytes = asWalPrimary(db.bytes());
  await db.close();
  pages = bytes.length / 4096;
  const w = new LtxWriter({ pageSize: 4096, commit: pages, minTxid: 1, maxTxid: 1, timestamp: Date.now() });
  for (let p = 1; p <= pages; p++) w.addPage(p, bytes.subarray((p - 1) * 4096, p * 4096));
  snapshot = w.finish();
}, 120_000);

async function seed(name: string): Promise<void> {
  await env.BUCKET.put(`${name}/0009/${formatLtxFilename(1, 1)}`, snapshot);
}

describe("storage requests on a medium-sized database", () => {
  test("the generated database is medium-sized", () => {
    expect(pages * 4096).toBeGreaterThan(25_000_000);
  });

  test("cold point lookup by primary key: at most 4 storage requests; warm repeat: 0", async () => {
    await seed("cost-point");
    const cold = await query("cost-point", "SELECT id, kind, amount, ref FROM events WHERE id = 123457");
    expect(cold.rows).toEqual([[123457, "kind-5", 30864.25, "ref-000123457"]]);
    expect(cold.meta.storage_requests).toBeLessThanOrEqual(4);
    const warm = await query("cost-point", "SELECT id, kind, amount, ref FROM events WHERE id = 123457");
    expect(warm.meta.storage_requests).toBe(0);
    expect(warm.rows).toEqual(cold.rows);
    // A lookup through the secondary index stays cheap too.
    const byRef = await query("cost-point", "SELECT id FROM events WHERE ref = 'ref-000054321'");
    expect(byRef.rows).toEqual([[54321]]);
    expect(byRef.meta.storage_requests).toBeLessThanOrEqual(4);
  });

  test("cold full scan: at most 40 storage requests; warm repeat: 0", async () => {
    await seed("cost-scan");
    const cold = await query("cost-scan", "SELECT count(*), sum(amount), count(note) FROM events");
    expect(cold.rows).toEqual([[200000, 5000025000.0, 133334]]);
    expect(cold.meta.storage_requests).toBeLessThanOrEqual(40);
    expect(cold.meta.bytes_fetched).toBeLessThanOrEqual(snapshot.length);
    const warm = await query("cost-scan", "SELECT count(*), sum(amount), count(note) FROM events");
    expect(warm.meta.storage_requests).toBe(0);
    expect(warm.meta.cache_hits + warm.meta.isolate_hits).toBeGreaterThan(0);
  });
});
