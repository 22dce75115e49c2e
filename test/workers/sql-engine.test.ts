/**
 * @module
 * SqlEngine end to end on real SQLite files (built in the test with
 * wa-sqlite): value types, parameters, every guard and its code, limits,
 * snapshot swaps on a reused connection, PageSource errors, wasm-trap
 * recovery and 100 concurrent calls — on both the JSPI and Asyncify builds.
 */

import { beforeAll, describe, expect, test } from "vitest";
import { SqlEngine, SqlError, type ExecLimits, type SqlParam, type StatementInput } from "../../src/sql/engine.ts";
import { asWalPrimary, buildStandardDb, CodedError, FixtureDb, TestPageSource } from "../support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 20_000, maxQueued: 1000 };
const ROWS = 4000;

/** Rows of `items` with category c (x % 17 for x in 1..ROWS). */
function categoryCount(c: number): bigint {
  let n = 0n;
  for (let x = 1; x <= ROWS; x++) if (x % 17 === c) n++;
  return n;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof SqlError) return error.code;
    if (error instanceof Error && "code" in error) return String(error.code);
    throw error;
  }
  return "OK";
}

let standard: Uint8Array;

beforeAll(async () => {
  const fixture = await buildStandardDb(4096, ROWS);
  standard = asWalPrimary(fixture.bytes());
  await fixture.close();
});

for (const build of ["jspi", "asyncify"] as const) {
  describe(`SqlEngine (${build})`, () => {
    let engine: SqlEngine;
    let source: TestPageSource;
    const run = (sql: string, params?: StatementInput["params"], limits: ExecLimits = LIMITS) =>
      engine.execute("main", source, [params === undefined ? { sql } : { sql, params }], limits);
    const rowsOf = async (sql: string, params?: StatementInput["params"]) => (await run(sql, params)).results[0]?.rows;

    beforeAll(async () => {
      engine = await SqlEngine.create({ build });
      source = new TestPageSource(standard, 1000);
      expect(engine.build).toBe(build);
    });

    describe("values keep their SQLite types", () => {
      test("INTEGER → exact bigint, REAL → number, TEXT, BLOB copies, NULL", async () => {
        const { results } = await run("SELECT id, i, r, t, b, n, u FROM kinds ORDER BY id");
        const result = results[0];
        expect(result?.columns).toEqual(["id", "i", "r", "t", "b", "n", "u"]);
        expect(result?.columnTypes).toEqual([null, null, null, null, null, null, null]);
        expect(result?.rowsRead).toBe(3);
        const [one, two, three] = result?.rows ?? [];
        expect(one).toEqual([1n, 9007199254740993n, 1, "héllo wörld ✓ 日本語 🎉", new Uint8Array([0, 1, 2, 254, 255]), null, 1]);
        expect(two).toEqual([2n, -(2n ** 63n), 1.5, "", new Uint8Array(0), null, 2n]);
        expect(three).toEqual([3n, 2n ** 63n - 1n, -0.25, "nul\u0000inside", null, null, "x"]);
        // REAL 1.0 stays a (JS) number, never an INTEGER bigint.
        expect(typeof one?.[2]).toBe("number");
        expect(typeof one?.[6]).toBe("number");
        // BLOBs are standalone copies, not views of wasm memory.
        const blob = one?.[4];
        expect(blob).toBeInstanceOf(Uint8Array);
        if (blob instanceof Uint8Array) {
          expect(blob.buffer.byteLength).toBe(5);
          blob.fill(7);
        }
        const again = await rowsOf("SELECT b FROM kinds WHERE id = 1");
        expect(again).toEqual([[new Uint8Array([0, 1, 2, 254, 255])]]);
      });

      test("parameters bind with their types", async () => {
        const params: SqlParam[] = [9007199254740993n, 1.5, 3, true, "ü", new Uint8Array([9]), null, new Uint8Array(0), 2 ** 60];
        const rows = await rowsOf(
          "SELECT ?1, typeof(?1), ?2, typeof(?2), ?3, typeof(?3), ?4, ?5, ?6, typeof(?6), typeof(?7), typeof(?8), length(?8), typeof(?9)",
          params,
        );
        expect(rows).toEqual([
          [
            9007199254740993n,
            "integer",
            1.5,
            "real",
            3n,
            "integer",
            1n,
            "ü",
            new Uint8Array([9]),
            "blob",
            "null",
            "blob",
            0n,
            "real",
          ],
        ]);
        expect(await rowsOf("SELECT :a, @b, $c, :a", { a: 1, "@b": "x", $c: null })).toEqual([[1n, "x", null, 1n]]);
        expect(await rowsOf("SELECT name FROM items WHERE id = ?", [123])).toEqual([["item-123"]]);
        expect(await rowsOf("SELECT count(*) FROM kinds WHERE i = ?", [-(2n ** 63n)])).toEqual([[1n]]);
      });

      test.each<[string, string, StatementInput["params"]]>([
        ["too few", "SELECT ?, ?", [1]],
        ["too many", "SELECT ?", [1, 2]],
        ["none given", "SELECT ?", undefined],
        ["given but none expected", "SELECT 1", [1]],
        ["missing name", "SELECT :a, :b", { a: 1 }],
        ["extra name", "SELECT :a", { a: 1, b: 2 }],
        ["positional with an object", "SELECT ?", { a: 1 }],
        ["bigint out of range", "SELECT ?", [2n ** 63n]],
        ["undefined", "SELECT ?", [undefined as unknown as SqlParam]],
        ["object", "SELECT ?", [{} as unknown as SqlParam]],
        ["ArrayBuffer", "SELECT ?", [new ArrayBuffer(2) as unknown as SqlParam]],
      ])("SQL_BAD_PARAMS: %s", async (_name, sql, params) => {
        expect(await codeOf(run(sql, params))).toBe("SQL_BAD_PARAMS");
      });
    });

    describe("guards", () => {
      test.each([
        "INSERT INTO items(name) VALUES ('x')",
        "UPDATE items SET name = 'x'",
        "DELETE FROM items",
        "REPLACE INTO kinds(id) VALUES (1)",
        "CREATE TABLE t(x)",
        "CREATE TEMP TABLE t(x)",
        "CREATE TEMP VIEW v AS SELECT 1",
        "CREATE INDEX i2 ON items(name)",
        "DROP TABLE items",
        "DROP VIEW cheap",
        "ALTER TABLE items ADD COLUMN z",
        "ATTACH 'other.db' AS other",
        "DETACH main",
        "BEGIN",
        "COMMIT",
        "SAVEPOINT s",
        "VACUUM",
        "VACUUM INTO 'copy.db'",
        "REINDEX",
        "ANALYZE",
        "PRAGMA user_version = 7",
        "PRAGMA main.user_version = 7",
        "PRAGMA journal_mode = WAL",
        "PRAGMA journal_mode",
        "PRAGMA writable_schema = 1",
        "PRAGMA query_only = 0",
        "PRAGMA cache_size = 10",
        "PRAGMA temp_store = FILE",
        "PRAGMA wal_checkpoint",
        "SELECT load_extension('evil')",
        "WITH x AS (SELECT 1) DELETE FROM items",
      ])("SQL_READONLY: %s", async (sql) => {
        expect(await codeOf(run(sql))).toBe("SQL_READONLY");
      });

      test.each([
        ["PRAGMA table_info(items)", 5],
        ["PRAGMA table_xinfo('items')", 5],
        ["PRAGMA index_list(items)", 1],
        ["PRAGMA index_info(items_category)", 1],
        ["PRAGMA foreign_key_list(items)", 0],
        ["PRAGMA page_size", 1],
        ["PRAGMA page_count", 1],
        ["PRAGMA quick_check", 1],
        ["PRAGMA integrity_check(5)", 1],
        ["PRAGMA schema_version", 1],
        ["PRAGMA main.user_version", 1],
        ["SELECT * FROM pragma_table_info('items')", 5],
        ["SELECT name FROM pragma_table_list WHERE schema = 'main' AND name = 'items'", 1],
        ["SELECT * FROM sqlite_schema", 4],
        ["SELECT * FROM cheap", 19],
        ["WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) SELECT x FROM c", 10],
        ["EXPLAIN QUERY PLAN SELECT * FROM items WHERE category = 2", 1],
        ["SELECT 1;", 1],
        ["SELECT 1 ; ; \n", 1],
        ["SELECT 1; -- trailing comment", 1],
        ["SELECT 1 /* c */ ; /* more */", 1],
      ] as const)("allowed: %s", async (sql, rowCount) => {
        const { results } = await run(sql);
        expect(results[0]?.rows).toHaveLength(rowCount);
      });

      test("PRAGMA user_version reads 42", async () => {
        expect(await rowsOf("PRAGMA user_version")).toEqual([[42n]]);
      });

      test.each(["SELEC 1", "SELECT (", "", " ; ", "-- only a comment"])("SQL_SYNTAX: %j", async (sql) => {
        expect(await codeOf(run(sql))).toBe("SQL_SYNTAX");
      });

      test.each(["SELECT * FROM nope", "SELECT nope FROM items"])("SQL_ERROR (well-formed, but not in this database): %j", async (sql) => {
        expect(await codeOf(run(sql))).toBe("SQL_ERROR");
      });

      test.each(["SELECT 1; SELECT 2", "SELECT 1; DROP TABLE items", "SELECT 1; garbage", "SELECT 1;SELECT 2;"])(
        "SQL_MULTIPLE_STATEMENTS: %j",
        async (sql) => {
          expect(await codeOf(run(sql))).toBe("SQL_MULTIPLE_STATEMENTS");
        },
      );

      test.each(["SELECT abs(-9223372036854775808)", "SELECT json('{bad')"])("SQL_ERROR at run time: %s", async (sql) => {
        expect(await codeOf(run(sql))).toBe("SQL_ERROR");
      });

      test("the failing statement's index is on the error", async () => {
        const err = await engine
          .execute("main", source, [{ sql: "SELECT 1" }, { sql: "DELETE FROM items" }], LIMITS)
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SqlError);
        expect(err).toMatchObject({ code: "SQL_READONLY", statementIndex: 1 });
      });

      test("nothing was modified by any of the above", async () => {
        expect(await rowsOf("SELECT count(*), max(id) FROM items")).toEqual([[BigInt(ROWS), BigInt(ROWS)]]);
      });
    });

    describe("limits", () => {
      test("maxRows: exactly at the limit is fine, one more is SQL_TOO_MANY_ROWS (counted over all statements)", async () => {
        const limits = { ...LIMITS, maxRows: 10 };
        expect((await run("SELECT id FROM items LIMIT 10", undefined, limits)).results[0]?.rows).toHaveLength(10);
        expect(await codeOf(run("SELECT id FROM items LIMIT 11", undefined, limits))).toBe("SQL_TOO_MANY_ROWS");
        const two = engine.execute(
          "main",
          source,
          [{ sql: "SELECT id FROM items LIMIT 6" }, { sql: "SELECT id FROM items LIMIT 5" }],
          limits,
        );
        expect(await codeOf(two)).toBe("SQL_TOO_MANY_ROWS");
      });

      test("maxResultBytes → SQL_RESULT_TOO_LARGE, checked before big values are copied", async () => {
        const limits = { ...LIMITS, maxResultBytes: 2000 };
        expect(await codeOf(run("SELECT payload FROM items LIMIT 5", undefined, limits))).toBe("OK");
        expect(await codeOf(run("SELECT payload FROM items LIMIT 20", undefined, limits))).toBe("SQL_RESULT_TOO_LARGE");
        expect(await codeOf(run("SELECT zeroblob(100000)", undefined, limits))).toBe("SQL_RESULT_TOO_LARGE");
      });

      test("timeoutMs interrupts a runaway query with SQL_TIMEOUT; the engine stays usable", async () => {
        const started = Date.now();
        const code = await codeOf(
          run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", undefined, {
            ...LIMITS,
            timeoutMs: 150,
          }),
        );
        expect(code).toBe("SQL_TIMEOUT");
        expect(Date.now() - started).toBeLessThan(5000);
        expect(await rowsOf("SELECT 1")).toEqual([[1n]]);
      });
    });

    describe("snapshots on a reused connection", () => {
      let v1: Uint8Array;
      let v2: Uint8Array;
      let v3: Uint8Array;

      beforeAll(async () => {
        const fixture = await buildStandardDb(4096, 2000);
        v1 = asWalPrimary(fixture.bytes());
        await fixture.exec("UPDATE kinds SET t = 'second' WHERE id = 2");
        v2 = asWalPrimary(fixture.bytes());
        await fixture.exec(`WITH RECURSIVE s(x) AS (SELECT 2001 UNION ALL SELECT x + 1 FROM s WHERE x < 3000)
          INSERT INTO items SELECT x, 'item-' || x, x % 17, x * 0.5, 'p' FROM s`);
        v3 = asWalPrimary(fixture.bytes());
        await fixture.close();
        // Give every version the same stored change counter and version-valid-for
        // number, so only the VFS's TXID patch can tell them apart.
        for (const v of [v2, v3]) {
          v.set(v1.subarray(24, 28), 24);
          v.set(v1.subarray(92, 96), 92);
        }
        expect(v2.length).toBe(v1.length);
        expect(v3.length).toBeGreaterThan(v1.length);
      });

      const probe = "SELECT t FROM kinds WHERE id = 2";

      test("a newer TXID makes SQLite drop its cache; the old source is never touched again", async () => {
        const s1 = new TestPageSource(v1, 10);
        const first = await engine.execute("snap", s1, [{ sql: probe }], LIMITS);
        expect(first.results[0]?.rows).toEqual([[""]]);

        // Same snapshot again: SQLite's page cache is reused, only the counter probe reads page 1.
        const again = await engine.execute("snap", s1, [{ sql: probe }], LIMITS);
        expect(again.results[0]?.rows).toEqual([[""]]);
        expect(again.stats.pagesRead).toBeLessThan(first.stats.pagesRead);
        expect(again.stats.pagesRead).toBe(1);

        const callsBefore = s1.calls.length;
        const s2 = new TestPageSource(v2, 11);
        expect((await engine.execute("snap", s2, [{ sql: probe }], LIMITS)).results[0]?.rows).toEqual([["second"]]);

        const s3 = new TestPageSource(v3, 12);
        const grown = await engine.execute(
          "snap",
          s3,
          [{ sql: "SELECT count(*), max(id) FROM items" }, { sql: probe }, { sql: "PRAGMA page_count" }],
          LIMITS,
        );
        expect(grown.results.map((r) => r.rows)).toEqual([[[3000n, 3000n]], [["second"]], [[BigInt(s3.pageCount)]]]);
        expect(s1.calls.length).toBe(callsBefore);

        // Going back in time is just another counter change.
        expect((await engine.execute("snap", s1, [{ sql: probe }], LIMITS)).results[0]?.rows).toEqual([[""]]);
      });

      test("control: with an unchanged TXID the cache would (wrongly) survive — the patch is what invalidates it", async () => {
        const other = await SqlEngine.create({ build });
        const s1 = new TestPageSource(v1, 20);
        expect((await other.execute("ctl", s1, [{ sql: probe }], LIMITS)).results[0]?.rows).toEqual([[""]]);
        const sameTxid = new TestPageSource(v2, 20);
        expect((await other.execute("ctl", sameTxid, [{ sql: probe }], LIMITS)).results[0]?.rows).toEqual([[""]]);
        const newer = new TestPageSource(v2, 21);
        expect((await other.execute("ctl", newer, [{ sql: probe }], LIMITS)).results[0]?.rows).toEqual([["second"]]);
      });

      test("a different page size under the same name reopens the connection", async () => {
        const small = await FixtureDb.create(1024);
        await small.exec("CREATE TABLE kinds(id INTEGER PRIMARY KEY, t TEXT); INSERT INTO kinds VALUES (2, 'tiny');");
        const s = new TestPageSource(asWalPrimary(small.bytes()), 30);
        await small.close();
        expect((await engine.execute("snap", s, [{ sql: probe }, { sql: "PRAGMA page_size" }], LIMITS)).results.map((r) => r.rows)).toEqual([
          [["tiny"]],
          [[1024n]],
        ]);
      });

      test("more databases than connections: LRU eviction keeps results right", async () => {
        const lru = await SqlEngine.create({ build, maxConnections: 2 });
        const sources = [new TestPageSource(v1, 1), new TestPageSource(v2, 1), new TestPageSource(v3, 1)];
        const expected = [[[""]], [["second"]], [["second"]]];
        for (let round = 0; round < 3; round++) {
          for (const [i, s] of sources.entries()) {
            const { results } = await lru.execute(`lru-${i}`, s, [{ sql: probe }], LIMITS);
            expect(results[0]?.rows).toEqual(expected[i]);
          }
        }
      });
    });

    describe("PageSource failures", () => {
      test("a readPage error mid-query rejects with the original error and its code; the next call works", async () => {
        const s = new TestPageSource(standard, 2000);
        const boom = new CodedError("PAGE_FETCH_FAILED", "R2 said no");
        s.failWith = (pgno) => (pgno === 40 ? boom : undefined);
        const err = await engine.execute("fail", s, [{ sql: "SELECT sum(length(payload)) FROM items" }], LIMITS).catch((e: unknown) => e);
        expect(err).toBe(boom);
        expect(err).toMatchObject({ code: "PAGE_FETCH_FAILED" });
        s.failWith = null;
        const ok = await engine.execute("fail", s, [{ sql: "SELECT count(*) FROM items" }], LIMITS);
        expect(ok.results[0]?.rows).toEqual([[BigInt(ROWS)]]);
      });

      test("invalid inputs are rejected before touching SQLite", async () => {
        await expect(engine.execute(":memory:", source, [{ sql: "SELECT 1" }], LIMITS)).rejects.toBeInstanceOf(RangeError);
        await expect(engine.execute("", source, [{ sql: "SELECT 1" }], LIMITS)).rejects.toBeInstanceOf(RangeError);
        const bad = { pageSize: 1000, pageCount: 1, txid: 1, readPage: source.readPage.bind(source) };
        await expect(engine.execute("x", bad, [{ sql: "SELECT 1" }], LIMITS)).rejects.toBeInstanceOf(RangeError);
      });
    });

    describe("serialization and recovery", () => {
      test("100 concurrent execute() calls all return correct results", async () => {
        const slow = new TestPageSource(standard, 3000);
        slow.delayMs = 1; // real timer waits inside xRead, so calls would interleave without the mutex
        const calls = Array.from({ length: 100 }, (_, k) => {
          const c = k % 17;
          const dbName = k % 2 === 0 ? "conc-a" : "conc-b";
          const src = k % 2 === 0 ? slow : source;
          return engine
            .execute(
              dbName,
              src,
              [
                { sql: "SELECT count(*) FROM items WHERE category = ?", params: [c] },
                { sql: "SELECT name FROM items WHERE id = :id", params: { id: k + 1 } },
              ],
              LIMITS,
            )
            .then((r) => ({ k, c, rows: r.results.map((x) => x.rows) }));
        });
        expect(engine.queueLength).toBeGreaterThan(1);
        const all = await Promise.all(calls);
        for (const { k, c, rows } of all) {
          expect(rows).toEqual([[[categoryCount(c)]], [[`item-${k + 1}`]]]);
        }
      });

      test("a stack overflow in wasm discards the instance (SQL_TOO_COMPLEX, never retried); queued and later calls succeed", async () => {
        const resets = engine.resets;
        // SQLITE_MAX_EXPR_DEPTH is 0 in these builds, so a deep expression overflows the wasm stack
        // (the HTTP layer's text guard refuses such SQL before it gets here).
        const deep = "SELECT " + "1+".repeat(20_000) + "1";
        const settled = await Promise.allSettled([
          run("SELECT count(*) FROM items"),
          run(deep),
          run("SELECT name FROM items WHERE id = 7"),
          engine.execute("other", new TestPageSource(standard, 1), [{ sql: "SELECT max(id) FROM items" }], LIMITS),
        ]);
        expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
        const trap = settled[1];
        expect(trap?.status === "rejected" ? trap.reason : null).toMatchObject({ code: "SQL_TOO_COMPLEX" });
        expect(engine.resets).toBe(resets + 1);
        const later = settled.map((s) => (s.status === "fulfilled" ? s.value.results[0]?.rows : null));
        expect(later).toEqual([[[BigInt(ROWS)]], null, [["item-7"]], [[BigInt(ROWS)]]]);
        expect(await rowsOf("SELECT t FROM kinds WHERE id = 1")).toEqual([["héllo wörld ✓ 日本語 🎉"]]);
      });
    });
  });
}

describe("default build", () => {
  test("SqlEngine.create() picks JSPI in local workerd", async () => {
    const engine = await SqlEngine.create();
    expect(engine.build).toBe("jspi");
  });
});
