/**
 * Prepared statements kept per connection: a repeated text skips SQLite's
 * parse, with nothing carried over between runs (parameters, a failed run),
 * and a schema that changes between snapshots (ALTER TABLE on the primary)
 * shows in the columns of a kept `SELECT *`.
 */
import { beforeAll, expect, test } from "vitest";
import { SqlEngine, type ExecLimits } from "../../src/sql/engine.ts";
import { TestPageSource, asWalPrimary, buildStandardDb } from "../support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 1_000, maxResultBytes: 10_000_000, timeoutMs: 20_000 };
let before: Uint8Array;
let after: Uint8Array;

beforeAll(async () => {
  const db = await buildStandardDb(4096, 300);
  before = asWalPrimary(db.bytes());
  await db.exec("ALTER TABLE items ADD COLUMN extra INTEGER DEFAULT 7");
  after = asWalPrimary(db.bytes());
  await db.close();
}, 60_000);

for (const build of ["jspi", "asyncify"] as const) {
  test(`${build}: a kept statement runs with this call's parameters only`, async () => {
    const engine = await SqlEngine.create({ build, instances: 1 });
    const src = new TestPageSource(before, 1);
    const sql = "SELECT id, name FROM items WHERE id = ?";
    for (const id of [5, 9, 5, 300, 301]) {
      const r = await engine.execute("p", src, [{ sql, params: [id] }], LIMITS);
      expect(r.results[0]?.rows).toEqual(id <= 300 ? [[BigInt(id), `item-${id}`]] : []);
    }
    // A missing parameter is still refused, not filled from the last run.
    await expect(engine.execute("p", src, [{ sql }], LIMITS)).rejects.toMatchObject({ code: "SQL_BAD_PARAMS" });
  });

  test(`${build}: a run that failed half way leaves nothing behind for the next`, async () => {
    const engine = await SqlEngine.create({ build, instances: 1 });
    const src = new TestPageSource(before, 1);
    const sql = "SELECT id FROM items ORDER BY id";
    await expect(engine.execute("f", src, [{ sql }], { ...LIMITS, maxRows: 10 })).rejects.toMatchObject({ code: "SQL_TOO_MANY_ROWS" });
    const r = await engine.execute("f", src, [{ sql }], LIMITS);
    expect(r.results[0]?.rows.length).toBe(300);
    expect(r.results[0]?.rows[0]).toEqual([1n]);
  });

  test(`${build}: a column added on the primary shows in a kept SELECT * at the next TXID`, async () => {
    const engine = await SqlEngine.create({ build, instances: 1 });
    const sql = "SELECT * FROM items WHERE id = 2";
    const r1 = await engine.execute("alter", new TestPageSource(before, 1), [{ sql }], LIMITS);
    expect(r1.results[0]?.columns).toEqual(["id", "name", "category", "price", "payload"]);
    const r2 = await engine.execute("alter", new TestPageSource(after, 2), [{ sql }], LIMITS);
    expect(r2.results[0]?.columns).toEqual(["id", "name", "category", "price", "payload", "extra"]);
    expect(r2.results[0]?.rows[0]?.slice(0, 2)).toEqual([2n, "item-2"]);
    expect(r2.results[0]?.rows[0]?.[5]).toBe(7n);
    // And back: an older snapshot on the same connection has the older columns again.
    const r3 = await engine.execute("alter", new TestPageSource(before, 1), [{ sql }], LIMITS);
    expect(r3.results[0]?.columns.length).toBe(5);
    expect(r3.results[0]?.rows[0]?.length).toBe(5);
  });
}

test("the fast lane keeps statements too, and a batch may run one text twice", async () => {
  const engine = await SqlEngine.create({ build: "asyncify", fastLane: true });
  const inner = new TestPageSource(before, 1);
  const src = { pageSize: inner.pageSize, pageCount: inner.pageCount, txid: 1, readPage: (n: number) => inner.readPage(n), pageIfReady: (n: number) => inner.bytes.subarray((n - 1) * 4096, n * 4096) };
  const sql = "SELECT count(*) FROM items WHERE category = ?";
  const r = await engine.execute("fast", src, [{ sql, params: [1] }, { sql, params: [2] }, { sql, params: [1] }], LIMITS);
  expect(r.stats.lane).toBe("fast");
  // category = id % 17 over ids 1..300: 18 rows each for 1 and 2.
  expect(r.results.map((x) => x.rows)).toEqual([[[18n]], [[18n]], [[18n]]]);
  const again = await engine.execute("fast", src, [{ sql, params: [16] }], LIMITS);
  expect(again.results[0]?.rows).toEqual([[17n]]);
});

