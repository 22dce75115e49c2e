/**
 * Hrana over HTTP, raw protocol: pipelines of execute/batch/sequence/describe/
 * store_sql/close_sql/get_autocommit/close against real replicas in local R2,
 * exact value types, batch conditions, transaction statements, errors, and
 * replication_index as read-your-writes and as the snapshot of a read
 * transaction that outlives a replica update.
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { advancePoll, manifest, seedReplica } from "../support/seed.ts";
import {
  type HStreamResult,
  batchResult,
  describeResult,
  errorOf,
  execResult,
  execute,
  float,
  hex,
  int,
  okType,
  pipeline,
  plainRows,
  seedSmallUpTo,
  stmt,
  text,
} from "./hrana-support.ts";

const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const DB = `hrana-${uid}`;

const COUNT = "SELECT count(*) FROM users";
const POSTS = "SELECT count(*), sum(length(body)), max(id) FROM posts";
const FIRST5 = "SELECT id, name, email, age, score FROM users ORDER BY id LIMIT 5";

let small: FixtureManifest;

function expected(m: FixtureManifest, txidHex: string, sql: string): unknown[][] {
  const q = m.checked_states.find((s) => s.txid === txidHex)?.queries?.find((x) => x.sql === sql);
  if (!q) throw new Error(`no expected result for ${sql} at ${txidHex}`);
  return q.rows;
}

beforeAll(async () => {
  small = await manifest("small");
  await seedReplica(r2, "small", DB);
});

afterAll(async () => {
  await env.DB_INDEX.getByName(DB).stop();
});

describe("endpoints", () => {
  test("version probes answer 200 without a token for v2 and v3; v3-protobuf is not offered", async () => {
    for (const v of ["v2", "v3"]) {
      const r = await exports.default.fetch(`http://localhost/db/${DB}/${v}`);
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    const pb = await exports.default.fetch(`http://localhost/db/${DB}/v3-protobuf`);
    expect(pb.status).toBe(404);
    await pb.arrayBuffer();
  });

  test("v2 and v3 pipelines answer the same; JSON with the content type clients require", async () => {
    for (const v of ["v2", "v3"] as const) {
      const r = await pipeline(DB, { baton: null, requests: [execute(COUNT), { type: "close" }] }, v);
      expect(r.status, r.text).toBe(200);
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(r.headers.get("x-ltx-txid")).toBe(small.final_txid);
      expect(r.body.baton).toBeNull();
      expect(r.body.base_url).toBeNull();
      expect(plainRows(execResult(r.body.results[0]))).toEqual(expected(small, small.final_txid, COUNT));
      expect(okType(r.body.results[1], "close")).toEqual({ type: "close" });
    }
  });

  test("a URL without the trailing slash gets a 404 that says how to fix it", async () => {
    const res = await exports.default.fetch("http://localhost/db/v2/pipeline", { method: "POST", body: JSON.stringify({ requests: [] }) });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = (await res.json()) as { message: string; code: string };
    expect(body.code).toBe("NOT_FOUND");
    expect(body.message).toMatch(/trailing slash/);
  });

  test("an unknown database is a 404 in both error shapes", async () => {
    const r = await pipeline(`nope-${uid}`, { requests: [execute("SELECT 1")] });
    expect(r.status).toBe(404);
    const body = JSON.parse(r.text) as { message: string; code: string; error: { code: string; message: string } };
    expect(body.code).toBe("DB_NOT_FOUND");
    expect(body.error.code).toBe("DB_NOT_FOUND");
    expect(body.message).toBe(body.error.message);
  });

  test("GET on a pipeline is 405; cursors are refused clearly", async () => {
    const g = await exports.default.fetch(`http://localhost/db/${DB}/v3/pipeline`);
    expect(g.status).toBe(405);
    expect(g.headers.get("allow")).toBe("POST");
    await g.arrayBuffer();
    const c = await exports.default.fetch(`http://localhost/db/${DB}/v3/cursor`, { method: "POST", body: "{}" });
    expect(((await c.json()) as { code: string }).code).toBe("NOT_SUPPORTED");
  });
});

describe("values", () => {
  test("results keep SQLite's types exactly: 64-bit integers, REAL 1.0, text, blob, NULL", async () => {
    const sql =
      "SELECT 9223372036854775807 AS max, -9223372036854775808 AS min, 1.0 AS one, 0.5 AS half, 1e300 * 1e300 AS inf, " +
      "'Zoë 李雷' AS t, x'00ff10' AS b, x'' AS empty, NULL AS n, 42 AS small";
    const r = await pipeline(DB, { requests: [execute(sql), { type: "close" }] });
    const res = execResult(r.body.results[0]);
    expect(res.cols).toEqual(["max", "min", "one", "half", "inf", "t", "b", "empty", "n", "small"].map((name) => ({ name, decltype: null })));
    expect(res.rows).toEqual([
      [
        int("9223372036854775807"),
        int("-9223372036854775808"),
        float(1),
        float(0.5),
        float(Number.POSITIVE_INFINITY),
        text("Zoë 李雷"),
        { type: "blob", base64: "AP8Q" },
        { type: "blob", base64: "" },
        { type: "null" },
        int(42),
      ],
    ]);
    // On the wire: a REAL that happens to be integral still reads as a float literal.
    expect(r.text).toContain('{"type":"float","value":1.0}');
    expect(r.text).toContain('{"type":"float","value":1e999}');
    expect(res.affected_row_count).toBe(0);
    expect(res.last_insert_rowid).toBeNull();
    expect(res.rows_written).toBe(0);
    expect(res.rows_read).toBe(1);
    expect(res.replication_index).toBe(String(small.final_txid_int));
    expect(typeof res.query_duration_ms).toBe("number");
  });

  test("arguments bind exactly: integer strings as 64-bit INTEGER, floats, text, blobs, NULL", async () => {
    const args = [int("9223372036854775807"), int("-42"), float(0.25), text("a'b;c"), { type: "blob", base64: "AP8=" }, { type: "null" }];
    const sql = "SELECT ?1, typeof(?1), ?2, ?3, typeof(?3), ?4, hex(?5), typeof(?5), ?6 IS NULL";
    const r = await pipeline(DB, { requests: [execute(sql, { args })] });
    expect(execResult(r.body.results[0]).rows).toEqual([
      [int("9223372036854775807"), text("integer"), int(-42), float(0.25), text("real"), text("a'b;c"), text("00FF"), text("blob"), int(1)],
    ]);
  });

  test("named arguments with or without their prefix; fixture rows match the manifest", async () => {
    const r = await pipeline(DB, {
      requests: [
        execute("SELECT id, name, age FROM users WHERE email = :email", { named_args: [{ name: ":email", value: text("user7@example.com") }] }),
        execute("SELECT id, name, age FROM users WHERE email = @email", { named_args: [{ name: "email", value: text("user7@example.com") }] }),
        execute(FIRST5),
      ],
    });
    const want = expected(small, small.final_txid, "SELECT id, name, age FROM users WHERE email = 'user7@example.com'");
    expect(plainRows(execResult(r.body.results[0]))).toEqual(want);
    expect(plainRows(execResult(r.body.results[1]))).toEqual(want);
    expect(plainRows(execResult(r.body.results[2]))).toEqual(expected(small, small.final_txid, FIRST5));
  });

  test("want_rows false keeps the columns and drops the rows", async () => {
    const r = await pipeline(DB, { requests: [execute(COUNT, { want_rows: false })] });
    const res = execResult(r.body.results[0]);
    expect(res.cols).toHaveLength(1);
    expect(res.rows).toEqual([]);
    expect(res.rows_read).toBe(1);
  });

  test("bad arguments fail their own statement with SQL_BAD_PARAMS", async () => {
    const r = await pipeline(DB, {
      requests: [
        execute("SELECT ?", { args: [int("9223372036854775808")] }),
        execute("SELECT ?", { args: [{ type: "integer", value: "12x" }] }),
        execute("SELECT ?", { args: [{ type: "blob", base64: "!!" }] }),
        execute("SELECT ?", { args: [{ type: "date", value: "x" }] }),
        execute("SELECT ?, :a", { args: [int(1)], named_args: [{ name: "a", value: int(2) }] }),
        execute("SELECT ?, ?", { args: [int(1)] }),
        execute("SELECT :a", { named_args: [{ name: "a", value: int(1) }, { name: ":a", value: int(2) }] }),
        execute("SELECT 1"),
      ],
    });
    for (const i of [0, 1, 2, 3, 4, 5, 6]) expect(errorOf(r.body.results[i]).code, `request ${i}`).toBe("SQL_BAD_PARAMS");
    expect(errorOf(r.body.results[0]).message).toMatch(/64-bit/);
    expect(execResult(r.body.results[7]).rows).toEqual([[int(1)]]);
  });
});

describe("batches", () => {
  test("conditions ok/error/not/and/or decide which steps run", async () => {
    const steps = [
      { stmt: stmt("SELECT 1") },
      { stmt: stmt("INSERT INTO users(id) VALUES (1000)") },
      { condition: { type: "ok", step: 0 }, stmt: stmt("SELECT 2") },
      { condition: { type: "ok", step: 1 }, stmt: stmt("SELECT 3") },
      { condition: { type: "error", step: 1 }, stmt: stmt("SELECT 4") },
      { condition: { type: "not", cond: { type: "ok", step: 1 } }, stmt: stmt("SELECT 5") },
      { condition: { type: "and", conds: [{ type: "ok", step: 0 }, { type: "error", step: 1 }] }, stmt: stmt("SELECT 6") },
      { condition: { type: "or", conds: [{ type: "ok", step: 3 }, { type: "error", step: 0 }] }, stmt: stmt("SELECT 7") },
      { condition: { type: "and", conds: [] }, stmt: stmt("SELECT 8") },
      { condition: { type: "or", conds: [] }, stmt: stmt("SELECT 9") },
      { condition: { type: "error", step: 3 }, stmt: stmt("SELECT 10") },
    ];
    const r = await pipeline(DB, { requests: [{ type: "batch", batch: { steps } }] });
    const b = batchResult(r.body.results[0]);
    const ran = b.step_results.map((x) => (x ? x.rows[0]?.[0] : null));
    expect(ran).toEqual([int(1), null, int(2), null, int(4), int(5), int(6), null, int(8), null, null]);
    expect(b.step_errors.map((e) => e?.code ?? null)).toEqual([null, "SQL_READONLY", null, null, null, null, null, null, null, null, null]);
    expect(b.step_errors[1]?.message).toMatch(/read-only.*INSERT on users/);
    expect(b.replication_index).toBe(String(small.final_txid_int));
  });

  test("the batch @libsql/client sends for client.batch(…, 'read'): BEGIN, guarded statements, COMMIT, ROLLBACK on failure", async () => {
    const clientBatch = (sqls: string[], begin = "BEGIN TRANSACTION READONLY") => {
      const steps: Record<string, unknown>[] = [{ stmt: stmt(begin) }];
      sqls.forEach((sql, i) => {
        steps.push({ condition: { type: "and", conds: [{ type: "ok", step: i }, { type: "not", cond: { type: "is_autocommit" } }] }, stmt: stmt(sql) });
      });
      const last = steps.length - 1;
      steps.push({ condition: { type: "and", conds: [{ type: "ok", step: last }, { type: "not", cond: { type: "is_autocommit" } }] }, stmt: stmt("COMMIT") });
      steps.push({ condition: { type: "not", cond: { type: "ok", step: last + 1 } }, stmt: stmt("ROLLBACK") });
      return { type: "batch", batch: { steps } };
    };
    const r = await pipeline(DB, { requests: [clientBatch([COUNT, POSTS]), { type: "get_autocommit" }, clientBatch([COUNT, "SELECT nope FROM users", POSTS], "BEGIN DEFERRED"), { type: "get_autocommit" }] });
    const good = batchResult(r.body.results[0]);
    expect(plainRows(good.step_results[1])).toEqual(expected(small, small.final_txid, COUNT));
    expect(plainRows(good.step_results[2])).toEqual(expected(small, small.final_txid, POSTS));
    expect(good.step_results[3]).not.toBeNull(); // COMMIT ran
    expect(good.step_results[4]).toBeNull(); // ROLLBACK skipped
    expect(okType(r.body.results[1], "get_autocommit").is_autocommit).toBe(true);
    const bad = batchResult(r.body.results[2]);
    expect(bad.step_errors[2]?.code).toBe("SQL_ERROR");
    expect(bad.step_errors[2]?.message).toMatch(/no such column: nope/);
    expect(bad.step_results[3]).toBeNull(); // skipped after the failure
    expect(bad.step_results[4]).toBeNull(); // COMMIT skipped
    expect(bad.step_results[5]).not.toBeNull(); // ROLLBACK ran
    expect(okType(r.body.results[3], "get_autocommit").is_autocommit).toBe(true);
  });

  test("BEGIN IMMEDIATE opens a read transaction; the write in it fails with SQL_READONLY and the guarded ROLLBACK runs", async () => {
    const r = await pipeline(DB, {
      requests: [
        {
          type: "batch",
          batch: {
            steps: [
              { stmt: stmt("BEGIN IMMEDIATE") },
              { condition: { type: "ok", step: 0 }, stmt: stmt("UPDATE users SET name = 'x'") },
              { condition: { type: "not", cond: { type: "ok", step: 1 } }, stmt: stmt("ROLLBACK") },
            ],
          },
        },
        { type: "get_autocommit" },
        execute("ROLLBACK"),
      ],
    });
    const b = batchResult(r.body.results[0]);
    expect(b.step_errors[0]).toBeNull();
    expect(b.step_errors[1]?.code).toBe("SQL_READONLY");
    expect(b.step_errors[1]?.message).toMatch(/read-only replica.*UPDATE on users/);
    expect(b.step_results[2]).not.toBeNull(); // ROLLBACK ran and ended the transaction
    expect(b.step_errors[2]).toBeNull();
    expect(okType(r.body.results[1], "get_autocommit").is_autocommit).toBe(true);
    // ROLLBACK outside a transaction fails just as it would in SQLite.
    expect(errorOf(r.body.results[2])).toMatchObject({ code: "SQL_ERROR", message: expect.stringMatching(/no transaction is active/) });
  });

  test("a condition naming a later step is a protocol error (400)", async () => {
    const r = await pipeline(DB, { requests: [{ type: "batch", batch: { steps: [{ condition: { type: "ok", step: 0 }, stmt: stmt("SELECT 1") }] } }] });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "BAD_REQUEST", error: { code: "BAD_REQUEST" } });
  });
});

describe("sequence, stored SQL, autocommit, close", () => {
  test("sequence runs every statement; semicolons in strings and comments do not split; the first failure stops it", async () => {
    const r = await pipeline(DB, {
      requests: [
        { type: "sequence", sql: "SELECT 1; -- a ; comment\nSELECT ';', \"a;b\" FROM (SELECT 1 AS \"a;b\"); /* ; */ SELECT 2;;" },
        { type: "sequence", sql: "SELECT 1; DELETE FROM users; SELECT 2" },
        { type: "sequence", sql: "" },
        { type: "sequence", sql: "CREATE TRIGGER t AFTER INSERT ON users BEGIN DELETE FROM posts; END; SELECT 1" },
        execute("-- nothing to run;"),
        execute("SELECT 1; SELECT 2"),
      ],
    });
    expect(errorOf(r.body.results[4])).toMatchObject({ code: "SQL_SYNTAX", message: "no SQL statement to run" });
    expect(errorOf(r.body.results[5]).code).toBe("SQL_MULTIPLE_STATEMENTS");
    expect(okType(r.body.results[0], "sequence")).toEqual({ type: "sequence" });
    expect(errorOf(r.body.results[1]).code).toBe("SQL_READONLY");
    expect(okType(r.body.results[2], "sequence")).toEqual({ type: "sequence" });
    expect(errorOf(r.body.results[3]).code).toBe("SQL_READONLY");
  });

  test("store_sql/close_sql: stored texts are used by id, live on in the baton, and vanish when closed", async () => {
    const r1 = await pipeline(DB, {
      requests: [
        { type: "store_sql", sql_id: 1, sql: COUNT },
        { type: "store_sql", sql_id: 2, sql: "SELECT id FROM users WHERE id = ?" },
        { type: "execute", stmt: { sql_id: 1 } },
        { type: "batch", batch: { steps: [{ stmt: { sql_id: 2, args: [int(7)] } }, { stmt: { sql_id: 2, args: [int(8)] } }] } },
        { type: "store_sql", sql_id: 1, sql: "SELECT 2" },
      ],
    });
    expect(okType(r1.body.results[0], "store_sql")).toEqual({ type: "store_sql" });
    expect(plainRows(execResult(r1.body.results[2]))).toEqual(expected(small, small.final_txid, COUNT));
    expect(batchResult(r1.body.results[3]).step_results.map((s) => plainRows(s))).toEqual([[[7]], [[8]]]);
    expect(errorOf(r1.body.results[4]).message).toMatch(/sql_id 1 is already in use/);
    expect(r1.body.baton).toEqual(expect.any(String));

    const r2 = await pipeline(DB, {
      baton: r1.body.baton,
      requests: [{ type: "execute", stmt: { sql_id: 2, args: [int(9)] } }, { type: "close_sql", sql_id: 2 }, { type: "execute", stmt: { sql_id: 2, args: [int(9)] } }, { type: "describe", sql_id: 1 }],
    });
    expect(plainRows(execResult(r2.body.results[0]))).toEqual([[9]]);
    expect(okType(r2.body.results[1], "close_sql")).toEqual({ type: "close_sql" });
    expect(errorOf(r2.body.results[2])).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/no SQL text with sql_id 2/) });
    expect(describeResult(r2.body.results[3]).cols).toEqual([{ name: "count(*)", decltype: null }]);
    expect(r2.body.baton).not.toBe(r1.body.baton);
  });

  test("get_autocommit follows BEGIN/COMMIT/ROLLBACK and savepoints across pipelines", async () => {
    const auto = (r: HStreamResult | undefined): boolean | undefined => okType(r, "get_autocommit").is_autocommit;
    const a = await pipeline(DB, { requests: [{ type: "get_autocommit" }, execute("BEGIN"), { type: "get_autocommit" }, execute("BEGIN")] });
    expect(auto(a.body.results[0])).toBe(true);
    expect(auto(a.body.results[2])).toBe(false);
    expect(errorOf(a.body.results[3]).message).toMatch(/within a transaction/);
    const b = await pipeline(DB, { baton: a.body.baton, requests: [{ type: "get_autocommit" }, execute("END TRANSACTION"), { type: "get_autocommit" }, execute("COMMIT")] });
    expect(auto(b.body.results[0])).toBe(false);
    expect(auto(b.body.results[2])).toBe(true);
    expect(errorOf(b.body.results[3]).message).toMatch(/no transaction is active/);
    const c = await pipeline(DB, {
      baton: b.body.baton,
      requests: [execute("SAVEPOINT a"), execute("SAVEPOINT b"), execute("ROLLBACK TO b"), execute("RELEASE SAVEPOINT b"), { type: "get_autocommit" }, execute("RELEASE a"), { type: "get_autocommit" }, execute("RELEASE a")],
    });
    expect(c.body.results.slice(0, 4).map((x) => x.type)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(auto(c.body.results[4])).toBe(false);
    expect(auto(c.body.results[6])).toBe(true);
    expect(errorOf(c.body.results[7]).message).toMatch(/no such savepoint: a/);
  });

  test("close ends the stream: later requests of the pipeline fail, and no baton comes back", async () => {
    const r = await pipeline(DB, { requests: [{ type: "close" }, execute("SELECT 1")] });
    expect(r.body.baton).toBeNull();
    expect(errorOf(r.body.results[1]).code).toBe("STREAM_CLOSED");
  });
});

describe("describe", () => {
  test("parameters by SQLite's numbering, result columns, EXPLAIN, read-only", async () => {
    const r = await pipeline(DB, {
      requests: [
        { type: "describe", sql: "SELECT id, name AS n, ?, :a FROM users WHERE id = ?5 AND name = :a" },
        { type: "describe", sql: "SELECT 1 AS a, 2 AS a, 3" },
        { type: "describe", sql: "WITH x(v) AS (VALUES (1)) SELECT v FROM x" },
        { type: "describe", sql: "EXPLAIN QUERY PLAN SELECT * FROM users WHERE id = ?" },
        { type: "describe", sql: "BEGIN" },
        { type: "describe", sql: "INSERT INTO users(id) VALUES (?)" },
        { type: "describe", sql: "SELECT nope FROM users" },
        { type: "describe", sql: "PRAGMA table_info(users)" },
        { type: "describe", sql: "SELECT 1; SELECT 2" },
      ],
    });
    expect(describeResult(r.body.results[0])).toEqual({
      params: [{ name: null }, { name: ":a" }, { name: null }, { name: null }, { name: "?5" }],
      cols: ["id", "n", "?", ":a"].map((name) => ({ name, decltype: null })),
      is_explain: false,
      is_readonly: true,
    });
    expect(describeResult(r.body.results[1]).cols.map((c) => c.name)).toEqual(["a", "a", "3"]);
    expect(describeResult(r.body.results[2]).cols.map((c) => c.name)).toEqual(["v"]);
    expect(describeResult(r.body.results[3])).toMatchObject({ params: [{ name: null }], is_explain: true, cols: [{ name: "id" }, { name: "parent" }, { name: "notused" }, { name: "detail" }] });
    expect(describeResult(r.body.results[4])).toEqual({ params: [], cols: [], is_explain: false, is_readonly: true });
    expect(errorOf(r.body.results[5]).code).toBe("SQL_READONLY");
    expect(errorOf(r.body.results[6]).code).toBe("SQL_ERROR");
    expect(errorOf(r.body.results[7]).code).toBe("NOT_SUPPORTED");
    expect(errorOf(r.body.results[8]).code).toBe("SQL_MULTIPLE_STATEMENTS");
  });
});

describe("protocol errors", () => {
  const raw = async (body: string): Promise<{ status: number; json: { message: string; code: string; error: { code: string } } }> => {
    const res = await exports.default.fetch(`http://localhost/db/${DB}/v2/pipeline`, { method: "POST", body, headers: { "content-type": "application/json" } });
    expect(res.headers.get("content-type")).toBe("application/json");
    return { status: res.status, json: (await res.json()) as { message: string; code: string; error: { code: string } } };
  };

  test("bad JSON, a bad shape, an unknown request type and a foreign baton are 400s in both error shapes", async () => {
    const cases: [string, string, RegExp][] = [
      ["{", "INVALID_JSON", /not valid JSON/],
      ["[]", "BAD_REQUEST", /JSON object/],
      ['{"requests": {}}', "BAD_REQUEST", /"requests" must be an array/],
      ['{"requests": [{"type": "open_cursor"}]}', "BAD_REQUEST", /unknown request type "open_cursor"/],
      ['{"requests": [{"type": "execute", "stmt": {}}]}', "BAD_REQUEST", /exactly one of "sql" and "sql_id"/],
      ['{"requests": [{"type": "execute", "stmt": {"sql": "SELECT 1", "replication_index": "0x10"}}]}', "INVALID_TXID", /decimal/],
      ['{"baton": "nonsense", "requests": []}', "INVALID_BATON", /baton/],
    ];
    for (const [body, code, message] of cases) {
      const r = await raw(body);
      expect(r.status, body).toBe(400);
      expect(r.json.code, body).toBe(code);
      expect(r.json.error.code).toBe(code);
      expect(r.json.message, body).toMatch(message);
    }
  });

  test("a baton only works for the database that issued it", async () => {
    const other = `hrana-other-${uid}`;
    await seedReplica(r2, "small", other);
    const a = await pipeline(DB, { requests: [execute("SELECT 1")] });
    const b = await pipeline(other, { baton: a.body.baton, requests: [execute("SELECT 1")] });
    expect(b.status).toBe(400);
    expect(JSON.parse(b.text)).toMatchObject({ code: "INVALID_BATON", message: expect.stringMatching(/another database/) });
    await env.DB_INDEX.getByName(other).stop();
  });

  test("too many statements in one pipeline is refused up front", async () => {
    const r = await pipeline(DB, { requests: Array.from({ length: 51 }, () => execute("SELECT 1")) });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text)).toMatchObject({ code: "TOO_MANY_STATEMENTS" });
    // Transaction statements are answered by the stream and do not count.
    const steps = [{ stmt: stmt("BEGIN") }, ...Array.from({ length: 50 }, () => ({ stmt: stmt("SELECT 1") })), { stmt: stmt("COMMIT") }];
    const ok = await pipeline(DB, { requests: [{ type: "batch", batch: { steps } }] });
    expect(ok.status, ok.text).toBe(200);
  });
});

describe("replication_index", () => {
  test("is the TXID served, and a client's replication_index waits for the replica like min_txid", async () => {
    const poll = await manifest("poll");
    const before = poll.before_final_txid ?? "";
    const after = poll.after_final_txid ?? "";
    const db = `hrana-ryw-${uid}`;
    await seedReplica(r2, "poll/before", db);
    const r1 = await pipeline(db, { requests: [execute(COUNT)] });
    const first = execResult(r1.body.results[0]);
    expect(first.replication_index).toBe(String(Number.parseInt(before, 16)));
    expect(plainRows(first)).toEqual(expected(poll, before, COUNT));

    await advancePoll(r2, db);
    const afterIndex = String(Number.parseInt(after, 16));
    const r2nd = await pipeline(db, { requests: [execute(COUNT, { replication_index: afterIndex }), execute(POSTS)] });
    expect(r2nd.headers.get("x-ltx-txid")).toBe(after);
    for (const [i, sql] of [[0, COUNT], [1, POSTS]] as const) {
      const res = execResult(r2nd.body.results[i]);
      expect(res.replication_index).toBe(afterIndex);
      expect(plainRows(res)).toEqual(expected(poll, after, sql));
    }
    // On a batch as well (libSQL puts it on the batch or on a statement).
    const r3 = await pipeline(db, { requests: [{ type: "batch", batch: { steps: [{ stmt: stmt(COUNT) }], replication_index: afterIndex } }] });
    expect(batchResult(r3.body.results[0]).replication_index).toBe(afterIndex);
    await env.DB_INDEX.getByName(db).stop();
  });

  test("a stream never reads older than what it was served: the baton carries the newest index", async () => {
    const a = await pipeline(DB, { requests: [execute("SELECT 1")] });
    const b = await pipeline(DB, { baton: a.body.baton, requests: [execute("SELECT 1")] });
    expect(execResult(b.body.results[0]).replication_index).toBe(String(small.final_txid_int));
  });
});

describe("one snapshot", () => {
  test("a read transaction keeps its snapshot across pipelines while the replica moves on (time travel to its TXID)", async () => {
    const db = `hrana-txn-${uid}`;
    const mid = 0x10;
    const advance = await seedSmallUpTo(r2, db, mid);
    const p1 = await pipeline(db, {
      requests: [{ type: "batch", batch: { steps: [{ stmt: stmt("BEGIN TRANSACTION READONLY") }, { condition: { type: "ok", step: 0 }, stmt: stmt(COUNT) }] } }],
    });
    const b1 = batchResult(p1.body.results[0]);
    expect(b1.replication_index).toBe(String(mid));
    expect(plainRows(b1.step_results[1])).toEqual(expected(small, hex(mid), COUNT));

    // The replica moves on, and this isolate's live index with it.
    await advance();
    const fresh = await pipeline(db, { requests: [execute(COUNT, { replication_index: String(small.final_txid_int) })] });
    expect(execResult(fresh.body.results[0]).replication_index).toBe(String(small.final_txid_int));

    // Inside the transaction: still the old snapshot, errors included.
    const p2 = await pipeline(db, {
      baton: p1.body.baton,
      requests: [execute(COUNT), execute("SELECT nope FROM users"), execute(POSTS), { type: "get_autocommit" }, execute(COUNT, { replication_index: String(small.final_txid_int) })],
    });
    expect(p2.headers.get("x-ltx-served-from")).toBe("time_travel");
    expect(p2.headers.get("x-ltx-txid")).toBe(hex(mid));
    expect(plainRows(execResult(p2.body.results[0]))).toEqual(expected(small, hex(mid), COUNT));
    expect(errorOf(p2.body.results[1]).code).toBe("SQL_ERROR");
    expect(plainRows(execResult(p2.body.results[2]))).toEqual(expected(small, hex(mid), POSTS));
    expect(execResult(p2.body.results[2]).replication_index).toBe(String(mid));
    expect(okType(p2.body.results[3], "get_autocommit").is_autocommit).toBe(false);
    // A replication_index beyond the transaction's snapshot cannot be honoured inside it (only that statement fails).
    expect(errorOf(p2.body.results[4])).toMatchObject({ code: "TXID_NOT_YET_AVAILABLE", message: expect.stringMatching(/commit or roll back/) });

    // COMMIT ends it; the stream's next pipeline reads the present.
    const p3 = await pipeline(db, { baton: p2.body.baton, requests: [execute("COMMIT")] });
    expect(p3.body.results[0]?.type).toBe("ok");
    const p4 = await pipeline(db, { baton: p3.body.baton, requests: [execute(COUNT), { type: "close" }] });
    expect(execResult(p4.body.results[0]).replication_index).toBe(String(small.final_txid_int));
    expect(plainRows(execResult(p4.body.results[0]))).toEqual(expected(small, small.final_txid, COUNT));
    expect(p4.body.baton).toBeNull();
    await env.DB_INDEX.getByName(db).stop();
  });

  test("a transaction whose snapshot was compacted away fails clearly instead of reading another state", async () => {
    const poll = await manifest("poll");
    const before = Number.parseInt(poll.before_final_txid ?? "", 16);
    const after = Number.parseInt(poll.after_final_txid ?? "", 16);
    const db = `hrana-gone-${uid}`;
    await seedReplica(r2, "poll/before", db);
    const p1 = await pipeline(db, { requests: [execute("BEGIN"), execute(COUNT)] });
    expect(execResult(p1.body.results[1]).replication_index).toBe(String(before));
    // poll/after no longer holds the files of `before` (retention removed them).
    await advancePoll(r2, db);
    await pipeline(db, { requests: [execute(COUNT, { replication_index: String(after) })] });
    const p2 = await pipeline(db, { baton: p1.body.baton, requests: [execute(COUNT), execute("ROLLBACK"), { type: "get_autocommit" }] });
    const e = errorOf(p2.body.results[0]);
    expect(e.code).toMatch(/^PLAN_/);
    expect(e.message).toMatch(new RegExp(`snapshot \\(replication index ${before}\\) can no longer be read`));
    // The stream itself carries on: ROLLBACK ends the transaction, the next pipeline reads the present.
    expect(okType(p2.body.results[2], "get_autocommit").is_autocommit).toBe(true);
    const p3 = await pipeline(db, { baton: p2.body.baton, requests: [execute(COUNT)] });
    expect(execResult(p3.body.results[0]).replication_index).toBe(String(after));
    await env.DB_INDEX.getByName(db).stop();
  });

  test("a pipeline with failing statements still answers every statement from one snapshot while the replica moves", async () => {
    const db = `hrana-iso-${uid}`;
    const advance = await seedSmallUpTo(r2, db, 0x10);
    await pipeline(db, { requests: [execute(POSTS)] });
    const slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT count(*) FROM c";
    const running = pipeline(db, {
      requests: [
        {
          type: "batch",
          batch: { steps: [{ stmt: stmt(POSTS) }, { stmt: stmt(slow) }, { stmt: stmt("SELECT nope FROM users") }, { stmt: stmt(POSTS) }, { stmt: stmt(COUNT) }] },
        },
        execute("DELETE FROM users"),
        execute(FIRST5),
      ],
    });
    await advance();
    await pipeline(db, { requests: [execute(COUNT, { replication_index: String(small.final_txid_int) })] });
    const r = await running;
    const b = batchResult(r.body.results[0]);
    const at = b.replication_index ?? "";
    const atHex = hex(Number(at));
    expect([hex(0x10), small.final_txid]).toContain(atHex);
    expect(b.step_errors[2]?.code).toBe("SQL_ERROR");
    expect(plainRows(b.step_results[0])).toEqual(expected(small, atHex, POSTS));
    expect(plainRows(b.step_results[3])).toEqual(expected(small, atHex, POSTS));
    expect(plainRows(b.step_results[4])).toEqual(expected(small, atHex, COUNT));
    expect(errorOf(r.body.results[1]).code).toBe("SQL_READONLY");
    expect(plainRows(execResult(r.body.results[2]))).toEqual(expected(small, atHex, FIRST5));
    expect(execResult(r.body.results[2]).replication_index).toBe(at);
    await env.DB_INDEX.getByName(db).stop();
  });
});
