/**
 * The D1 surface of `createD1` over the LtxEdge entrypoint (called through
 * `ctx.exports`, a real RPC to the entrypoint): result shapes and metadata as
 * D1's, D1's value conversions, bind() type errors, one RPC per all()/batch(),
 * batches on one snapshot, transaction statements, read-only errors, and
 * that the objects type-check as @cloudflare/workers-types' D1 classes.
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { D1Error, type LtxEdgeBinding, createD1 } from "../../src/d1/client.ts";
import type { D1WireOptions, D1WireStatement } from "../../src/d1/wire.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { manifest, seedReplica } from "../support/seed.ts";
import type D1Consumer from "./d1-consumer/worker.ts";
import { SQL, manifestRows } from "./orm-fixture.ts";

const consumer = (env as unknown as { D1_CONSUMER: Service<D1Consumer> }).D1_CONSUMER;
const r2 = new R2Store(env.BUCKET);
const DB = `d1-binding-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;

let small: FixtureManifest;

beforeAll(async () => {
  small = await manifest("small");
  await seedReplica(r2, "small", DB);
});

afterAll(async () => {
  await env.DB_INDEX.getByName(DB).stop();
});

/** The rejection of `p`, which must be a D1Error. */
async function d1Error(p: Promise<unknown>): Promise<D1Error> {
  try {
    await p;
  } catch (e) {
    if (e instanceof D1Error) return e;
    throw e;
  }
  throw new Error("expected a D1Error");
}

/** A binding that counts the RPCs it forwards to LtxEdge. */
function counted(): { binding: LtxEdgeBinding; calls: number } {
  const c = {
    calls: 0,
    binding: {
      query: (db: string, statements: D1WireStatement[], options?: D1WireOptions) => {
        c.calls++;
        return exports.LtxEdge.query(db, statements, options);
      },
    },
  };
  return c;
}

describe("results as D1 shapes them", () => {
  test("all(), run(), first(), first(column) and raw() over the manifest's rows", async () => {
    const d1 = createD1(exports.LtxEdge, DB);
    const expected = manifestRows(small, small.final_txid, SQL.first5);
    const cols = ["id", "name", "email", "age", "score"];
    const objects = expected.map((r) => Object.fromEntries(cols.map((c, i) => [c, r[i]])));
    const all = await d1.prepare(SQL.first5).all();
    expect(all.success).toBe(true);
    expect(all.results).toEqual(objects);
    expect((await d1.prepare(SQL.first5).run()).results).toEqual(objects);
    expect(await d1.prepare(SQL.first5).first()).toEqual(objects[0]);
    expect(await d1.prepare(SQL.first5).first("name")).toBe("Linus Liskov");
    expect(await d1.prepare("SELECT id FROM users WHERE id = ?").bind(-1).first()).toBeNull();
    expect(await d1.prepare(SQL.first5).raw()).toEqual(expected);
    expect(await d1.prepare(SQL.first5).raw({ columnNames: true })).toEqual([cols, ...expected]);
    const missing = await d1Error(d1.prepare(SQL.first5).first("nope"));
    expect(missing.message).toBe("D1_COLUMN_NOTFOUND: Column not found (nope)");
  });

  test("meta has D1's fields (a read changes nothing) and ltx-edge's: the TXID, where it came from, what it cost", async () => {
    const r = await createD1(exports.LtxEdge, DB).prepare(SQL.count).all();
    const m = r.meta;
    expect(m).toMatchObject({
      served_by: "ltx-edge",
      served_by_primary: false,
      changes: 0,
      last_row_id: 0,
      changed_db: false,
      rows_read: 1,
      rows_written: 0,
      size_after: 30 * 4096, // PRAGMA page_count × page size at the final TXID
      txid: small.final_txid_int,
      txid_hex: small.final_txid,
      served_from: "live",
    });
    expect(typeof m.duration).toBe("number");
    expect(typeof m.timings?.sql_duration_ms).toBe("number");
    for (const k of ["storage_requests", "cache_hits", "isolate_hits", "bytes_fetched", "index_ms"]) expect(typeof m[k], k).toBe("number");
    expect(m.position_time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  test("values: INTEGER as number (or exact bigint on request), REAL stays fractional, BLOB as an array of bytes", async () => {
    const sql = "SELECT 9007199254740993 AS big, 7 AS small, 1.5 AS real, x'00ff' AS blob, NULL AS nul, 'Zoë' AS text";
    const row = await createD1(exports.LtxEdge, DB).prepare(sql).first();
    expect(row).toEqual({ big: 9007199254740992, small: 7, real: 1.5, blob: [0, 255], nul: null, text: "Zoë" });
    const exact = await createD1(exports.LtxEdge, DB, { integers: "bigint" }).prepare(sql).first();
    expect(exact).toMatchObject({ big: 9007199254740993n, small: 7n });
    expect(await createD1(exports.LtxEdge, DB).prepare("SELECT avatar FROM users WHERE id = 3").first("avatar")).toEqual([0x7e]);
  });
});

describe("binding parameters", () => {
  test("D1's types bind as D1 binds them; ?NNN picks by position; bigint binds exactly", async () => {
    const d1 = createD1(exports.LtxEdge, DB, { integers: "bigint" });
    const bytes = new Uint8Array([1, 2, 255]);
    const row = await d1
      .prepare("SELECT typeof(?1) AS i, typeof(?2) AS r, ?3 AS s, ?4 AS t, ?5 IS NULL AS n, hex(?6) AS ab, hex(?7) AS view, hex(?8) AS arr, ?9 AS big")
      .bind(7, 7.5, "x", true, null, bytes.buffer, bytes, [1, 2, 255], 9223372036854775807n)
      .first();
    expect(row).toEqual({ i: "integer", r: "real", s: "x", t: 1n, n: 1n, ab: "0102FF", view: "0102FF", arr: "0102FF", big: 9223372036854775807n });
    expect(await d1.prepare("SELECT ?2, ?1").bind("a", "b").raw()).toEqual([["b", "a"]]);
    expect(await d1.prepare("SELECT name FROM users WHERE id = ?").bind(7).first("name")).toBe("Ken Thompson");
  });

  test("undefined and other types fail in bind() with D1_TYPE_ERROR", () => {
    const stmt = createD1(exports.LtxEdge, DB).prepare("SELECT ?");
    for (const v of [undefined, {}, new Date(0), [1, 256]]) {
      let err: unknown = null;
      try {
        stmt.bind(v);
      } catch (e) {
        err = e;
      }
      expect(err, String(v)).toBeInstanceOf(D1Error);
      expect((err as Error).message).toMatch(/^D1_TYPE_ERROR: Type '\w+' not supported for value/);
    }
  });
});

describe("one RPC per call, one snapshot per batch", () => {
  test("all(), first(), raw() are one RPC each; a batch of any size is one RPC with one result per statement", async () => {
    const c = counted();
    const d1 = createD1(c.binding, DB);
    const stmt = d1.prepare(SQL.count);
    await stmt.all();
    await stmt.first();
    await d1.prepare(SQL.first5).raw();
    expect(c.calls).toBe(3);
    const [a, b, x] = await d1.batch([d1.prepare(SQL.count), d1.prepare(SQL.posts3), d1.prepare("SELECT ? AS v").bind(5)]);
    expect(c.calls).toBe(4);
    expect(a?.results).toEqual([{ "count(*)": 38 }]);
    expect(b?.results.map((r) => Object.values(r as Record<string, unknown>))).toEqual(manifestRows(small, small.final_txid, SQL.posts3));
    expect(x?.results).toEqual([{ v: 5 }]);
    expect(new Set([a, b, x].map((r) => r?.meta.txid))).toEqual(new Set([small.final_txid_int]));
    expect(await d1.batch([])).toEqual([]);
    expect(c.calls).toBe(4);
  });

  test("a batch fails with its first failing statement, as D1's does", async () => {
    const d1 = createD1(exports.LtxEdge, DB);
    const e = await d1Error(d1.batch([d1.prepare(SQL.count), d1.prepare("SELECT nope FROM users"), d1.prepare("DELETE FROM users")]));
    expect(e.message).toMatch(/^D1_ERROR: .*no such column: nope.*: SQL_ERROR$/);
    expect(e.code).toBe("SQL_ERROR");
    expect(e.statementIndex).toBe(1);
  });
});

describe("a read-only replica", () => {
  test("writes fail with a D1_ERROR saying so; exec() and dump() fail too", async () => {
    const d1 = createD1(exports.LtxEdge, DB);
    const w = await d1Error(d1.prepare("INSERT INTO users(id, name) VALUES (?, ?)").bind(1000, "x").run());
    expect(w.message).toMatch(/^D1_ERROR: ltx-edge serves a read-only replica: .*INSERT on users.*: SQL_READONLY$/);
    expect(w.code).toBe("SQL_READONLY");
    const ddl = await d1Error(d1.batch([d1.prepare(SQL.count), d1.prepare("CREATE TABLE t(x)")]));
    expect([ddl.code, ddl.statementIndex]).toEqual(["SQL_READONLY", 1]);
    const exec = await d1Error(d1.exec("SELECT 1;\nSELECT 2"));
    expect(exec.message).toMatch(/^D1_EXEC_ERROR: Error in line 1: SELECT 1;: ltx-edge serves a read-only replica/);
    expect((await d1Error(d1.dump())).message).toMatch(/^D1_DUMP_ERROR: .*ltx-edge restore/);
  });

  test("BEGIN (any mode) … COMMIT is a read transaction; a write in it fails; SQLite's rules for stray COMMIT and savepoints", async () => {
    const d1 = createD1(exports.LtxEdge, DB);
    const [, n] = await d1.batch([d1.prepare("BEGIN IMMEDIATE"), d1.prepare(SQL.count)]);
    expect(n?.results).toEqual([{ "count(*)": 38 }]);
    expect((await d1Error(d1.prepare("UPDATE users SET name = 'x'").run())).code).toBe("SQL_READONLY");
    expect((await d1Error(d1.prepare("BEGIN").run())).message).toBe("D1_ERROR: cannot start a transaction within a transaction: SQL_ERROR");
    await d1.prepare("SAVEPOINT a").run();
    expect((await d1Error(d1.prepare("RELEASE b").run())).message).toBe("D1_ERROR: no such savepoint: b: SQL_ERROR");
    await d1.prepare("RELEASE a").run();
    await d1.prepare("COMMIT").run();
    expect((await d1Error(d1.prepare("ROLLBACK").run())).message).toBe("D1_ERROR: cannot rollback - no transaction is active: SQL_ERROR");
    expect((await d1Error(d1.prepare("BEGIN").bind(1).run())).code).toBe("SQL_BAD_PARAMS");
  });
});

describe("misuse is explained", () => {
  test("an unknown database, a binding without entrypoint = \"LtxEdge\", bad options", async () => {
    const none = await d1Error(createD1(exports.LtxEdge, `${DB}-nope`).prepare("SELECT 1").all());
    expect(none.code).toBe("DB_NOT_FOUND");
    // (vitest-pool-workers' wrapper of the default export also logs the refusal as an uncaught exception.)
    const wrong = await consumer.wrongBinding();
    expect(wrong?.message).toMatch(/^D1_ERROR: the call to ltx-edge's LtxEdge entrypoint failed \(bind it with entrypoint = "LtxEdge"\)/);
    expect(wrong?.code).toBe("BINDING_ERROR");
    expect(() => createD1(exports.LtxEdge, "")).toThrow(/databaseName/);
    expect(() => createD1(exports.LtxEdge, DB, { integers: "string" as "number" })).toThrow(/integers/);
  });

  test("the RPC refuses what it does not know, naming it", async () => {
    const call = (statements: unknown, options?: unknown) => exports.LtxEdge.query(DB, statements as D1WireStatement[], options as D1WireOptions);
    const stmt = [{ sql: "SELECT 1", params: [] }];
    expect(await call(stmt, { minTxd: "15" })).toEqual({ success: false, error: { code: "BAD_REQUEST", message: expect.stringMatching(/unknown option minTxd/), statementIndex: null } });
    expect(await call(stmt, { maxWaitMs: "soon" })).toMatchObject({ success: false, error: { code: "BAD_REQUEST", message: "options.maxWaitMs must be a non-negative number of milliseconds" } });
    expect(await call(stmt, { minTxid: "yesterday" })).toMatchObject({ success: false, error: { code: "INVALID_TXID" } });
    expect(await call("SELECT 1")).toMatchObject({ success: false, error: { code: "BAD_REQUEST", message: "statements must be an array" } });
    expect(await call([{ sql: "SELECT 1", params: [], args: [] }])).toMatchObject({ success: false, error: { code: "BAD_REQUEST", statementIndex: 0 } });
    expect(await call([{ sql: "SELECT ?", params: [{}] }])).toMatchObject({ success: false, error: { code: "SQL_BAD_PARAMS", statementIndex: 0 } });
    // D1's own interchange shape: rows next to their column names, D1's meta plus ltx-edge's.
    expect(await call(stmt)).toMatchObject({
      success: true,
      results: [{ success: true, results: { columns: ["1"], rows: [[1n]] }, meta: { rows_read: 1, changes: 0, txid: small.final_txid_int } }],
      inTransaction: false,
    });
  });

  test("the objects are D1Database, D1DatabaseSession and D1PreparedStatement of @cloudflare/workers-types", () => {
    // Compile-time checks (npm run typecheck): ORMs typed against the ambient D1 classes accept them.
    const db: D1Database = createD1(exports.LtxEdge, DB);
    const session: D1DatabaseSession = db.withSession("first-unconstrained");
    const stmt: D1PreparedStatement = session.prepare("SELECT 1");
    expect([db, session, stmt].every((x) => typeof x === "object")).toBe(true);
  });
});
