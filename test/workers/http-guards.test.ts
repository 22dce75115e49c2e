/**
 * Every guard of the HTTP API, over HTTP: the read-only SQL policy, SQL and
 * parameter errors, exact value types, request limits (which a request may
 * only lower), request validation and routing, time-travel and min_txid
 * errors, response metadata, 100 concurrent queries in one isolate, and
 * recovery from a corrupt LTX file. Every error is checked for its status,
 * its stable code and a non-empty message.
 */
import { type Reply, expectError } from "../support/http.ts";
import { envWith, queryVia } from "../support/app.ts";
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { decodeLtxFile } from "../../src/ltx/decoder.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { fixtureBytes, fixtureLtxFiles, manifest, seedReplica } from "../support/seed.ts";
import { parseTyped, type Typed } from "../support/typed-json.ts";
import { type TypedQuery, expectRows, typedManifest, typedQueriesAt } from "../support/typed-rows.ts";

const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
let seq = 0;
const fresh = (base: string) => `g-${base}-${uid}-${seq++}`;

/** `small` (users/posts) and `multi-level`, seeded once for the read-only tests. */
const SMALL = fresh("small");
const ML = fresh("ml");
const used = new Set<string>();

interface Meta {
  txid: number;
  txid_hex: string;
  served_from: string;
  duration_ms: number;
  rows_read: number;
  pages_read: number;
  storage_requests: number;
  bytes_fetched: number;
  isolate_hits: number;
  cache_hits: number;
  cache_misses: number;
  engine: string;
  [k: string]: unknown;
}

async function call(path: string, init: RequestInit = {}, host = "http://localhost"): Promise<Reply> {
  const res = await exports.default.fetch(`${host}${path}`, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** POSTs a body (an object is JSON-encoded, a string is sent as is) to /db/<db>/<kind>. */
async function post(db: string, body: unknown, kind: "query" | "batch" = "query", headers: Record<string, string> = {}): Promise<Reply> {
  used.add(db);
  return call(`/db/${encodeURIComponent(db)}/${kind}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
}

/** The typed rows of a successful /query reply (INTEGER → {int}, REAL → {real}). */
function rows(r: Reply): Typed {
  expect(r.status, r.text).toBe(200);
  return (parseTyped(r.text) as { rows: Typed }).rows;
}

function columns(r: Reply): string[] {
  expect(r.status, r.text).toBe(200);
  return (JSON.parse(r.text) as { columns: string[] }).columns;
}

function meta(r: Reply): Meta {
  expect(r.status, r.text).toBe(200);
  return (JSON.parse(r.text) as { meta: Meta }).meta;
}

const int = (v: string | number | bigint): Typed => ({ int: String(v) });
const real = (v: number): Typed => ({ real: v });

async function counts(db: string): Promise<Typed> {
  return rows(await post(db, { sql: "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM posts), (SELECT count(*) FROM sqlite_schema)" }));
}

let smallManifest: FixtureManifest;
/** users, posts, their two indexes and Litestream's two tables in `small`. */
const SCHEMA_OBJECTS = 6;

beforeAll(async () => {
  await seedReplica(r2, "small", SMALL);
  await seedReplica(r2, "multi-level", ML);
  smallManifest = await manifest("small");
});

afterAll(async () => {
  for (const name of used) await env.DB_INDEX.getByName(name).stop();
});

// ----------------------------------------------------------------- read-only

describe("read-only guard", () => {
  const WRITES: [string, RegExp][] = [
    ["INSERT INTO users(name) VALUES ('mallory')", /read-only/],
    ["UPDATE users SET age = 1", /read-only/],
    ["DELETE FROM users", /read-only/],
    ["DELETE FROM posts WHERE id > 0", /read-only/],
    ["REPLACE INTO users(id, name) VALUES (1, 'mallory')", /read-only/],
    ["INSERT OR REPLACE INTO users(id, name) VALUES (1, 'mallory')", /read-only/],
    ["WITH x AS (SELECT 1) DELETE FROM users", /read-only/],
    ["CREATE TABLE t(x)", /read-only/],
    ["CREATE TEMP TABLE t(x)", /read-only/],
    ["CREATE INDEX users_age ON users(age)", /read-only/],
    ["CREATE VIEW v AS SELECT 1", /read-only/],
    ["CREATE TRIGGER tr AFTER INSERT ON users BEGIN SELECT 1; END", /read-only/],
    ["DROP TABLE users", /read-only/],
    // No authorizer callback fires for a table that does not exist; sqlite3_stmt_readonly() refuses it.
    ["DROP TABLE IF EXISTS nope", /would modify the database/],
    ["ALTER TABLE users ADD COLUMN z", /read-only/],
    ["ALTER TABLE users RENAME TO people", /read-only/],
    ["INSERT INTO sqlite_schema VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(y)')", /read-only/],
    ["ATTACH 'other.db' AS other", /ATTACH and DETACH are not allowed/],
    ["ATTACH ':memory:' AS mem", /ATTACH and DETACH are not allowed/],
    ["DETACH main", /ATTACH and DETACH are not allowed/],
    ["SELECT load_extension('x')", /load_extension\(\) is not allowed/],
    ["SELECT load_extension('x', 'init')", /load_extension\(\) is not allowed/],
    ["PRAGMA user_version = 5", /PRAGMA user_version may only be read, not set/],
    ["PRAGMA main.user_version = 5", /PRAGMA user_version may only be read, not set/],
    ["PRAGMA user_version(5)", /PRAGMA user_version may only be read, not set/],
    ["PRAGMA application_id = 7", /may only be read, not set/],
    ["PRAGMA schema_version = 1", /may only be read, not set/],
    ["PRAGMA foreign_keys = ON", /may only be read, not set/],
    ["PRAGMA journal_mode = WAL", /PRAGMA journal_mode is not allowed/],
    ["PRAGMA journal_mode = DELETE", /PRAGMA journal_mode is not allowed/],
    ["PRAGMA writable_schema = 1", /PRAGMA writable_schema is not allowed/],
    ["PRAGMA query_only = 0", /PRAGMA query_only is not allowed/],
    ["PRAGMA cache_size = 100000", /PRAGMA cache_size is not allowed/],
    ["PRAGMA temp_store = FILE", /PRAGMA temp_store is not allowed/],
    ["PRAGMA wal_checkpoint(TRUNCATE)", /PRAGMA wal_checkpoint is not allowed/],
    ["PRAGMA optimize", /PRAGMA optimize is not allowed/],
    ["VACUUM", /would modify the database/],
    ["VACUUM INTO 'copy.db'", /would modify the database/],
    ["BEGIN", /transaction control is not allowed/],
    ["BEGIN IMMEDIATE", /transaction control is not allowed/],
    ["COMMIT", /transaction control is not allowed/],
    ["ROLLBACK", /transaction control is not allowed/],
    ["SAVEPOINT s1", /transaction control is not allowed/],
    ["RELEASE s1", /transaction control is not allowed/],
    ["REINDEX", /read-only/],
    ["REINDEX users", /read-only/],
    ["ANALYZE", /read-only/],
    ["ANALYZE users", /read-only/],
  ];

  test.each(WRITES)("%s → 403 SQL_READONLY", async (sql, message) => {
    expectError(await post(SMALL, { sql }), 403, "SQL_READONLY", message);
  });

  test("the same writes are refused inside a batch, and the batch returns no partial result", async () => {
    const r = await post(SMALL, { statements: ["SELECT count(*) FROM users", "DELETE FROM users", "SELECT count(*) FROM users"] }, "batch");
    expectError(r, 403, "SQL_READONLY", /read-only/);
    expect(r.text).not.toContain("results");
  });

  test("a write hidden after a read in one entry is refused as a second statement", async () => {
    expectError(await post(SMALL, { sql: "SELECT 1; DELETE FROM users" }), 400, "SQL_MULTIPLE_STATEMENTS", /only one SQL statement/);
    expectError(await post(SMALL, { sql: "SELECT 1; PRAGMA user_version = 5" }), 400, "SQL_MULTIPLE_STATEMENTS");
  });

  test("a PRAGMA set to an empty string slips past the authorizer's read check but is still refused (sqlite3_stmt_readonly)", async () => {
    expectError(await post(SMALL, { sql: "PRAGMA user_version = ''" }), 403, "SQL_READONLY");
    expectError(await post(SMALL, { sql: "PRAGMA schema_version = ''" }), 403, "SQL_READONLY");
  });

  test("functions that reach outside SQL do not exist or are refused", async () => {
    expectError(await post(SMALL, { sql: "SELECT writefile('x', 'y')" }), 422, "SQL_ERROR", /no such function: writefile/);
    expectError(await post(SMALL, { sql: "SELECT readfile('/etc/passwd')" }), 422, "SQL_ERROR", /no such function: readfile/);
  });

  test("nothing changed: counts, schema, user_version and integrity are as before every refused write", async () => {
    expect(await counts(SMALL)).toEqual([[int(38), int(52), int(SCHEMA_OBJECTS)]]);
    expect(rows(await post(SMALL, { sql: "PRAGMA user_version" }))).toEqual([[int(0)]]);
    expect(rows(await post(SMALL, { sql: "SELECT name FROM users WHERE id = 1" }))).toEqual([["Linus Liskov"]]);
    expect(rows(await post(SMALL, { sql: "SELECT count(*) FROM sqlite_schema WHERE name IN ('t', 'v', 'tr', 'users_age', 'people', 'x', 'sqlite_stat1')" }))).toEqual([[int(0)]]);
    expect(rows(await post(SMALL, { sql: "PRAGMA integrity_check" }))).toEqual([["ok"]]);
  });

  test("introspection PRAGMAs work", async () => {
    expect(rows(await post(SMALL, { sql: "PRAGMA page_count" }))).toEqual([[int(30)]]);
    expect(rows(await post(SMALL, { sql: "PRAGMA page_size" }))).toEqual([[int(4096)]]);
    const info = await post(SMALL, { sql: "PRAGMA table_info(users)" });
    expect(columns(info)).toEqual(["cid", "name", "type", "notnull", "dflt_value", "pk"]);
    expect((rows(info) as Typed[][]).map((r) => r[1])).toEqual(["id", "name", "email", "age", "score", "avatar"]);
    expect(rows(await post(SMALL, { sql: "PRAGMA integrity_check" }))).toEqual([["ok"]]);
    expect(rows(await post(SMALL, { sql: "PRAGMA quick_check" }))).toEqual([["ok"]]);
    expect(rows(await post(SMALL, { sql: "PRAGMA user_version" }))).toEqual([[int(0)]]);
    expect((rows(await post(SMALL, { sql: "PRAGMA index_list(users)" })) as Typed[][]).map((r) => r[1])).toEqual(["users_email"]);
    const tvf = await post(SMALL, { sql: "SELECT name FROM pragma_table_info('posts') ORDER BY cid" });
    expect(rows(tvf)).toEqual([["id"], ["user_id"], ["title"], ["body"], ["created_at"]]);
  });

  test("reading a setting PRAGMA outside the allowlist is refused too (journal_mode)", async () => {
    expectError(await post(SMALL, { sql: "PRAGMA journal_mode" }), 403, "SQL_READONLY", /PRAGMA journal_mode is not allowed/);
  });
});

// ------------------------------------------------------------------ SQL errors

describe("SQL errors", () => {
  test("malformed SQL → 400 SQL_SYNTAX naming the problem", async () => {
    expectError(await post(SMALL, { sql: "SELEC 1" }), 400, "SQL_SYNTAX", /near "SELEC": syntax error/);
    expectError(await post(SMALL, { sql: "SELECT FROM users WHERE" }), 400, "SQL_SYNTAX", /syntax error/);
    expectError(await post(SMALL, { sql: "SELECT (1" }), 400, "SQL_SYNTAX");
  });

  test("unknown table or column → 422 SQL_ERROR (well-formed SQL that does not fit this database)", async () => {
    expectError(await post(SMALL, { sql: "SELECT * FROM nope" }), 422, "SQL_ERROR", /no such table: nope/);
    expectError(await post(SMALL, { sql: "SELECT nope FROM users" }), 422, "SQL_ERROR", /no such column: nope/);
  });

  test("two statements in one /query → 400 SQL_MULTIPLE_STATEMENTS; trailing semicolons and comments are fine", async () => {
    expectError(await post(SMALL, { sql: "SELECT 1; SELECT 2" }), 400, "SQL_MULTIPLE_STATEMENTS", /only one SQL statement/);
    expectError(await post(SMALL, { sql: "SELECT 1; SELEC 2" }), 400, "SQL_MULTIPLE_STATEMENTS");
    expect(rows(await post(SMALL, { sql: "SELECT 1;;  -- done\n/* c */ ;" }))).toEqual([[int(1)]]);
  });

  test("empty or missing sql → 400 BAD_REQUEST; only a comment → 400 SQL_SYNTAX", async () => {
    expectError(await post(SMALL, { sql: "" }), 400, "BAD_REQUEST", /sql must be a non-empty string/);
    expectError(await post(SMALL, { sql: "  \n\t " }), 400, "BAD_REQUEST", /non-empty string/);
    expectError(await post(SMALL, {}), 400, "BAD_REQUEST", /sql/);
    expectError(await post(SMALL, { sql: 42 }), 400, "BAD_REQUEST", /sql/);
    expectError(await post(SMALL, { sql: "-- nothing here" }), 400, "SQL_SYNTAX", /no SQL statement/);
  });

  test("runtime errors → 422 SQL_ERROR", async () => {
    expectError(await post(SMALL, { sql: "SELECT abs(-9223372036854775808)" }), 422, "SQL_ERROR", /integer overflow/);
    expectError(await post(SMALL, { sql: "SELECT json('{')" }), 422, "SQL_ERROR", /malformed JSON/);
  });

  test("batch: bad shapes → 400 BAD_REQUEST; an SQL error anywhere fails the whole batch", async () => {
    expectError(await post(SMALL, { statements: [] }, "batch"), 400, "BAD_REQUEST", /statements/);
    expectError(await post(SMALL, { statements: "SELECT 1" }, "batch"), 400, "BAD_REQUEST", /statements/);
    expectError(await post(SMALL, { statements: ["SELECT 1", 5] }, "batch"), 400, "BAD_REQUEST", /statements\[1\]/);
    expectError(await post(SMALL, { statements: ["SELECT 1", { sql: "" }] }, "batch"), 400, "BAD_REQUEST", /statements\[1\]\.sql/);
    expectError(await post(SMALL, { statements: ["SELECT 1", "SELECT 2", "SELECT * FROM nope"] }, "batch"), 422, "SQL_ERROR", /no such table: nope/);
  });
});

// ------------------------------------------------------------------ parameters

describe("parameters", () => {
  test("wrong count → 400 SQL_BAD_PARAMS", async () => {
    expectError(await post(SMALL, { sql: "SELECT ?", params: [] }), 400, "SQL_BAD_PARAMS", /1 parameter\(s\) but 0 were given/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: [1, 2] }), 400, "SQL_BAD_PARAMS", /1 parameter\(s\) but 2 were given/);
    expectError(await post(SMALL, { sql: "SELECT ?, ?" }), 400, "SQL_BAD_PARAMS", /none were given/);
    expectError(await post(SMALL, { sql: "SELECT 1", params: [1] }), 400, "SQL_BAD_PARAMS", /0 parameter\(s\) but 1 were given/);
  });

  test("unknown or missing named parameter → 400 SQL_BAD_PARAMS", async () => {
    expectError(await post(SMALL, { sql: "SELECT :a", params: { a: 1, b: 2 } }), 400, "SQL_BAD_PARAMS", /unknown parameter\(s\): b/);
    expectError(await post(SMALL, { sql: "SELECT :a", params: { b: 2 } }), 400, "SQL_BAD_PARAMS", /missing value for parameter :a/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: { a: 1 } }), 400, "SQL_BAD_PARAMS", /positional/);
  });

  test("nested array/object, bad base64, bad integer, params not a container → 400 SQL_BAD_PARAMS", async () => {
    expectError(await post(SMALL, { sql: "SELECT ?", params: [[1]] }), 400, "SQL_BAD_PARAMS", /params\[0\]: unsupported value/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: [{ x: 1 }] }), 400, "SQL_BAD_PARAMS", /params\[0\]/);
    expectError(await post(SMALL, { sql: "SELECT :a", params: { a: { nested: { deeper: 1 } } } }), 400, "SQL_BAD_PARAMS", /params\.a/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: [{ base64: "AP8=", extra: 1 }] }), 400, "SQL_BAD_PARAMS");
    expectError(await post(SMALL, { sql: "SELECT ?", params: [{ base64: "!!!not base64" }] }), 400, "SQL_BAD_PARAMS", /invalid base64/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: [{ integer: "12x" }] }), 400, "SQL_BAD_PARAMS", /decimal digits/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: [{ integer: "9223372036854775808" }] }), 400, "SQL_BAD_PARAMS", /64-bit range/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: [{ integer: "-9223372036854775809" }] }), 400, "SQL_BAD_PARAMS", /64-bit range/);
    expectError(await post(SMALL, { sql: "SELECT ?", params: "x" }), 400, "SQL_BAD_PARAMS", /params must be an array or an object/);
  });

  test("positional array and named object both bind", async () => {
    expect(rows(await post(SMALL, { sql: "SELECT name FROM users WHERE id = ?", params: [7] }))).toEqual([["Ken Thompson"]]);
    expect(rows(await post(SMALL, { sql: "SELECT name FROM users WHERE id = ?2 AND ?1 = 1", params: [1, 7] }))).toEqual([["Ken Thompson"]]);
    expect(rows(await post(SMALL, { sql: "SELECT name FROM users WHERE id = :id", params: { id: 7 } }))).toEqual([["Ken Thompson"]]);
    expect(rows(await post(SMALL, { sql: "SELECT name FROM users WHERE id = :id", params: { ":id": 7 } }))).toEqual([["Ken Thompson"]]);
    expect(rows(await post(SMALL, { sql: "SELECT $a || @b", params: { a: "x", b: "y" } }))).toEqual([["xy"]]);
    expect(rows(await post(SMALL, { sql: "SELECT id FROM users WHERE email = ?", params: ["user7@example.com"] }))).toEqual([[int(7)]]);
  });

  test("scalar parameter types: boolean → INTEGER, fraction → REAL, null → NULL, text", async () => {
    const r = await post(SMALL, { sql: "SELECT ?1, typeof(?1), ?2, typeof(?2), ?3, typeof(?3), ?4, typeof(?4), ?5", params: [true, 1.5, null, "héllo ✓", 1e300] });
    expect(rows(r)).toEqual([[int(1), "integer", real(1.5), "real", null, "null", "héllo ✓", "text", real(1e300)]]);
  });

  test('{"base64": …} binds a BLOB that round-trips', async () => {
    const r = await post(SMALL, { sql: "SELECT typeof(?1), length(?1), hex(?1), ?1", params: [{ base64: "AP8=" }] });
    expect(rows(r)).toEqual([["blob", int(2), "00FF", { base64: "AP8=" }]]);
    const empty = await post(SMALL, { sql: "SELECT typeof(?1), length(?1), hex(?1), ?1", params: [{ base64: "" }] });
    expect(rows(empty)).toEqual([["blob", int(0), "", { base64: "" }]]);
    const bytes = new Uint8Array(300).map((_, i) => (i * 37) & 0xff);
    const b64 = btoa(String.fromCharCode(...bytes));
    const named = await post(SMALL, { sql: "SELECT length(:b), :b", params: { b: { base64: b64 } } });
    expect(rows(named)).toEqual([[int(300), { base64: b64 }]]);
  });

  test('{"integer": …} binds 64-bit integers exactly, both ends', async () => {
    const r = await post(SMALL, { sql: "SELECT ?1, typeof(?1), ?1 - 1, ?2, typeof(?2)", params: [{ integer: "9223372036854775807" }, { integer: "-9223372036854775808" }] });
    expect(rows(r)).toEqual([[int("9223372036854775807"), "integer", int("9223372036854775806"), int("-9223372036854775808"), "integer"]]);
    const n = await post(SMALL, { sql: "SELECT ?1, typeof(?1)", params: [{ integer: 42 }] });
    expect(rows(n)).toEqual([[int(42), "integer"]]);
  });

  test("more than 100 params → 400 TOO_MANY_PARAMS; exactly 100 work (array and object)", async () => {
    const marks = (n: number) => Array.from({ length: n }, () => "?").join(",");
    expectError(await post(SMALL, { sql: `SELECT ${marks(101)}`, params: Array(101).fill(1) }), 400, "TOO_MANY_PARAMS", /101 params; the limit is 100/);
    const named101 = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`p${i}`, i]));
    expectError(await post(SMALL, { sql: "SELECT 1", params: named101 }), 400, "TOO_MANY_PARAMS", /101 params/);
    const ok = await post(SMALL, { sql: `SELECT ${marks(100)}`, params: Array.from({ length: 100 }, (_, i) => i) });
    expect(rows(ok)).toEqual([Array.from({ length: 100 }, (_, i) => int(i))]);
  });
});

// ----------------------------------------------------------------- value types

describe("value types in responses", () => {
  test("INTEGER beyond 2^53 is exact, REAL 1.0 stays REAL, TEXT, NULL, BLOB as base64", async () => {
    const r = await post(SMALL, { sql: "SELECT 1.0, 1, 9223372036854775807, -9223372036854775808, 'x', NULL, x'00ff'" });
    expect(r.text).toContain('"rows":[[1.0,1,9223372036854775807,-9223372036854775808,"x",null,{"base64":"AP8="}]]');
    expect(rows(r)).toEqual([[real(1), int(1), int("9223372036854775807"), int("-9223372036854775808"), "x", null, { base64: "AP8=" }]]);
    expect(columns(r)).toEqual(["1.0", "1", "9223372036854775807", "-9223372036854775808", "'x'", "NULL", "x'00ff'"]);
  });

  test("REAL edge values: exponent form, -0.0, ±Infinity as null (row shape kept)", async () => {
    const r = await post(SMALL, { sql: "SELECT 1e300, 2.5e-300, 0.1, 9e999, -9e999, 100.0" });
    expect(rows(r)).toEqual([[real(1e300), real(2.5e-300), real(0.1), null, null, real(100)]]);
    expect(r.text).toContain("[[1e+300,2.5e-300,0.1,null,null,100.0]]");
  });

  test("empty BLOB and TEXT with NUL and non-ASCII round-trip", async () => {
    const r = await post(SMALL, { sql: "SELECT x'', 'a' || char(0) || 'b', '日本語 🎉', length(CAST('a' || char(0) || 'b' AS BLOB))" });
    expect(rows(r)).toEqual([[{ base64: "" }, "a\u0000b", "日本語 🎉", int(3)]]);
  });

  test('"integers": "string" writes integers outside ±(2^53−1) as strings, others as numbers', async () => {
    const sql = "SELECT 9007199254740991, 9007199254740992, -9007199254740991, -9007199254740992, 9223372036854775807, 1.0";
    const r = await post(SMALL, { sql, integers: "string" });
    expect(rows(r)).toEqual([[int("9007199254740991"), "9007199254740992", int("-9007199254740991"), "-9007199254740992", "9223372036854775807", real(1)]]);
    const plain = JSON.parse(r.text) as { rows: unknown[][] };
    expect(plain.rows[0]?.[4]).toBe("9223372036854775807");
    const batch = await post(SMALL, { statements: [sql, "SELECT 1"], integers: "string" }, "batch");
    expect(batch.status, batch.text).toBe(200);
    expect((JSON.parse(batch.text) as { results: { rows: unknown[][] }[] }).results[0]?.rows[0]?.[4]).toBe("9223372036854775807");
    expectError(await post(SMALL, { sql: "SELECT 1", integers: "bigint" }), 400, "BAD_REQUEST", /integers must be "number" or "string"/);
  });

  test("table data keeps its types (users: INTEGER, TEXT, NULL, REAL, BLOB)", async () => {
    const r = await post(SMALL, { sql: "SELECT id, name, age, score, typeof(avatar), length(avatar) FROM users WHERE id IN (1, 2) ORDER BY id" });
    expect(rows(r)).toEqual([
      [int(1), "Linus Liskov", null, real(473.75), "blob", int(16)],
      [int(2), "Margaret Perlman", null, null, "null", null],
    ]);
  });
});

// ---------------------------------------------------------------------- limits

describe("limits", () => {
  const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";
  const upTo = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < ${n}) SELECT x FROM c`;

  test("max_rows: too many rows → 422 SQL_TOO_MANY_ROWS; exactly the limit passes", async () => {
    expectError(await post(SMALL, { sql: "SELECT id FROM users", limits: { max_rows: 5 } }), 422, "SQL_TOO_MANY_ROWS", /more than 5 rows/);
    expect((rows(await post(SMALL, { sql: "SELECT id FROM users", limits: { max_rows: 38 } })) as Typed[]).length).toBe(38);
    expectError(await post(SMALL, { sql: "SELECT 1", limits: { max_rows: 0 } }), 422, "SQL_TOO_MANY_ROWS", /more than 0 rows/);
  });

  test("max_rows counts over every statement of a batch", async () => {
    const r = await post(SMALL, { statements: ["SELECT id FROM users LIMIT 3", "SELECT id FROM posts LIMIT 3"], limits: { max_rows: 5 } }, "batch");
    expectError(r, 422, "SQL_TOO_MANY_ROWS", /more than 5 rows/);
  });

  test("a request cannot raise max_rows above the server's 10000", async () => {
    expectError(await post(SMALL, { sql: upTo(10_001), limits: { max_rows: 1e9 } }), 422, "SQL_TOO_MANY_ROWS", /more than 10000 rows/);
    expect((rows(await post(SMALL, { sql: upTo(10_000), limits: { max_rows: 1e9 } })) as Typed[]).length).toBe(10_000);
  });

  test("max_response_bytes: too big → 422 SQL_RESULT_TOO_LARGE", async () => {
    expectError(await post(SMALL, { sql: "SELECT body FROM posts", limits: { max_response_bytes: 1000 } }), 422, "SQL_RESULT_TOO_LARGE", /exceeds 1000 bytes/);
    expect(rows(await post(SMALL, { sql: "SELECT 1", limits: { max_response_bytes: 1000 } }))).toEqual([[int(1)]]);
  });

  test("a request cannot raise max_response_bytes above the server's 8 MiB", async () => {
    const sql = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 7) SELECT randomblob(1000000) FROM c`;
    expectError(await post(SMALL, { sql, limits: { max_response_bytes: 1e12 } }), 422, "SQL_RESULT_TOO_LARGE", /exceeds 8388608 bytes/);
  });

  test("a runaway query with timeout_ms 200 → 408 SQL_TIMEOUT; the next query on the same database works", async () => {
    // The message names the limit that applied; how long it took is not asserted (a loaded machine is slow).
    expectError(await post(SMALL, { sql: runaway, limits: { timeout_ms: 200 } }), 408, "SQL_TIMEOUT", /exceeded its 200 ms time limit/);
    expect(await counts(SMALL)).toEqual([[int(38), int(52), int(SCHEMA_OBJECTS)]]);
    expect(rows(await post(SMALL, { sql: "SELECT name FROM users WHERE id = 7" }))).toEqual([["Ken Thompson"]]);
  });

  test("a request cannot raise timeout_ms above the server's 10 s", async () => {
    expectError(await post(SMALL, { sql: runaway, limits: { timeout_ms: 1e9 } }), 408, "SQL_TIMEOUT", /exceeded its 10000 ms time limit/);
    expect(rows(await post(SMALL, { sql: "SELECT 1" }))).toEqual([[int(1)]]);
  });

  test("max_storage_requests is the query's subrequest budget: storage reads plus Cache API operations, never exceeded", async () => {
    const sql = "SELECT count(*), sum(length(body)), max(id) FROM posts";
    const [a, b, c] = [fresh("storage-a"), fresh("storage-b"), fresh("storage-c")];
    await Promise.all([seedReplica(r2, "multi-level", a), seedReplica(r2, "multi-level", b), seedReplica(r2, "multi-level", c)]);
    const cold = await post(a, { sql });
    const reads = meta(cold).storage_requests;
    const all = meta(cold).subrequests as number;
    expect(reads).toBeGreaterThan(1);
    expect(all).toBe(reads + (meta(cold).cache_ops as number) + (meta(cold).index_requests as number));
    expect(all).toBeGreaterThan(reads); // cold reads consult and fill the Cache API
    const expected = rows(cold);
    // Fewer than the storage reads alone: refused, naming the budget.
    expectError(await post(b, { sql, limits: { max_storage_requests: reads - 1 } }), 422, "QUERY_STORAGE_LIMIT", new RegExp(`more than ${reads - 1} storage requests`));
    // The failure left the database usable; the same query then succeeds.
    expect(rows(await post(b, { sql }))).toEqual(expected);
    // With what the cold query used in all, it passes and stays within it.
    const exact = await post(c, { sql, limits: { max_storage_requests: all } });
    expect(rows(exact)).toEqual(expected);
    expect(meta(exact).subrequests as number).toBeLessThanOrEqual(all);
  });

  test("max_storage_requests 0 on a cold database → 422 at the first read; a raise is accepted (and capped)", async () => {
    const d = fresh("storage-0");
    await seedReplica(r2, "small", d);
    expectError(await post(d, { sql: "SELECT count(*) FROM users", limits: { max_storage_requests: 0 } }), 422, "QUERY_STORAGE_LIMIT", /more than 0 storage requests/);
    expect(rows(await post(d, { sql: "SELECT count(*) FROM users", limits: { max_storage_requests: 1e9 } }))).toEqual([[int(38)]]);
  });

  test("limits: unknown key → 400 UNKNOWN_FIELD (server-only limits cannot be set per request); negative, wrong type → 400 BAD_REQUEST", async () => {
    expectError(await post(SMALL, { sql: "SELECT 1", limits: { max_body_bytes: 10 } }), 400, "UNKNOWN_FIELD", /unknown field body\.limits\.max_body_bytes/);
    expectError(await post(SMALL, { sql: "SELECT 1", limits: { max_wait_ms: 10 } }), 400, "UNKNOWN_FIELD", /unknown field body\.limits\.max_wait_ms/);
    expectError(await post(SMALL, { sql: "SELECT 1", limits: { max_rows: -1 } }), 400, "BAD_REQUEST", /non-negative/);
    expectError(await post(SMALL, { sql: "SELECT 1", limits: { max_rows: "5" } }), 400, "BAD_REQUEST", /non-negative number/);
    expectError(await post(SMALL, { sql: "SELECT 1", limits: [1] }), 400, "BAD_REQUEST", /limits must be an object/);
  });

  test("SQL over 100000 bytes (UTF-8) → 400 SQL_TOO_LONG; exactly 100000 passes", async () => {
    const head = "SELECT 1 --";
    expect(rows(await post(SMALL, { sql: head + "x".repeat(100_000 - head.length) }))).toEqual([[int(1)]]);
    expectError(await post(SMALL, { sql: head + "x".repeat(100_001 - head.length) }), 400, "SQL_TOO_LONG", /100000-byte limit/);
    // 50,005 UTF-16 units but 100,009 bytes: the limit is in bytes.
    expectError(await post(SMALL, { sql: `SELECT '${"é".repeat(50_000)}'` }), 400, "SQL_TOO_LONG");
    expectError(await post(SMALL, { statements: ["SELECT 1", head + "x".repeat(100_001)] }, "batch"), 400, "SQL_TOO_LONG", /statements\[1\]\.sql/);
  });

  test("a statement over the complexity limit → 400 SQL_TOO_COMPLEX (before SQLite sees it); just under it works; operators inside literals do not count", async () => {
    // `SELECT 1` plus n × `+1` costs n + 4 units (a SELECT is 5 …); the limit is 1,000 (docs/limits.md).
    expectError(await post(SMALL, { sql: `SELECT 1${"+1".repeat(996)}` }), 400, "SQL_TOO_COMPLEX", /too complex/);
    expectError(await post(SMALL, { statements: ["SELECT 1", `SELECT 1${"*1".repeat(996)}`] }, "batch"), 400, "SQL_TOO_COMPLEX", /statements\[1\]\.sql/);
    expect(rows(await post(SMALL, { sql: `SELECT 1${"+1".repeat(995)}` }))).toEqual([[int(996)]]);
    const quoted = await post(SMALL, { sql: `SELECT length('${"+".repeat(5000)}') AS "${"-".repeat(2500)}"` });
    expect(rows(quoted)).toEqual([[int(5000)]]);
    expect(columns(quoted)).toEqual(["-".repeat(2500)]);
    // The engine is still healthy afterwards.
    expect(await counts(SMALL)).toEqual([[int(38), int(52), int(SCHEMA_OBJECTS)]]);
  });

  test("batch with 51 statements → 400 TOO_MANY_STATEMENTS; 50 work", async () => {
    expectError(await post(SMALL, { statements: Array(51).fill("SELECT 1") }, "batch"), 400, "TOO_MANY_STATEMENTS", /51 statements; the limit is 50/);
    const ok = await post(SMALL, { statements: Array.from({ length: 50 }, (_, i) => ({ sql: "SELECT ?", params: [i] })) }, "batch");
    expect(ok.status, ok.text).toBe(200);
    const results = (parseTyped(ok.text) as { results: { rows: Typed }[] }).results;
    expect(results.map((r) => r.rows)).toEqual(Array.from({ length: 50 }, (_, i) => [[int(i)]]));
  });

  test("body over 1 MiB → 413 PAYLOAD_TOO_LARGE (declared length, and streamed without one); exactly 1 MiB passes", async () => {
    const exact = (n: number) => {
      // Padded with whitespace between tokens: still a valid body with no unknown field.
      const base = JSON.stringify({ sql: "SELECT 1" });
      return `${base.slice(0, -1)}${" ".repeat(n - base.length)}}`;
    };
    expect(new TextEncoder().encode(exact(1024 * 1024)).length).toBe(1024 * 1024);
    expect(rows(await post(SMALL, exact(1024 * 1024)))).toEqual([[int(1)]]);
    expectError(await post(SMALL, exact(1024 * 1024 + 1)), 413, "PAYLOAD_TOO_LARGE", /1048576-byte limit/);
    const bytes = new TextEncoder().encode(exact(1024 * 1024 + 1));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 65536) c.enqueue(bytes.slice(i, i + 65536));
        c.close();
      },
    });
    const r = await call(`/db/${SMALL}/query`, { method: "POST", body: stream });
    expectError(r, 413, "PAYLOAD_TOO_LARGE", /1048576-byte limit/);
  });
});

// ------------------------------------------------------- validation and routing

describe("request validation and routing", () => {
  test("malformed JSON, empty body, invalid UTF-8 → 400 INVALID_JSON", async () => {
    expectError(await post(SMALL, '{"sql":'), 400, "INVALID_JSON", /not valid JSON/);
    expectError(await post(SMALL, "{sql: 'SELECT 1'}"), 400, "INVALID_JSON");
    expectError(await post(SMALL, ""), 400, "INVALID_JSON", /empty/);
    const bad = new Uint8Array([...new TextEncoder().encode('{"sql":"SELECT \''), 0xff, 0xfe, ...new TextEncoder().encode('\'"}')]);
    expectError(await call(`/db/${SMALL}/query`, { method: "POST", body: bad }), 400, "INVALID_JSON");
  });

  test("a body that is not a JSON object → 400 BAD_REQUEST", async () => {
    for (const body of ["[1]", "null", '"SELECT 1"', "42", "true"]) {
      expectError(await post(SMALL, body), 400, "BAD_REQUEST", /must be a JSON object/);
    }
  });

  test("wrong content-type → 415; JSON and text/plain are accepted", async () => {
    const body = JSON.stringify({ sql: "SELECT 1" });
    // (application/x-www-form-urlencoded, curl -d's default, is left out: the README's curl examples send it.)
    for (const type of ["text/csv", "multipart/form-data; boundary=x", "application/xml", "application/octet-stream"]) {
      expectError(await post(SMALL, body, "query", { "content-type": type }), 415, "UNSUPPORTED_MEDIA_TYPE", /expected an application\/json body/);
    }
    for (const type of ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain;charset=UTF-8"]) {
      expect(rows(await post(SMALL, body, "query", { "content-type": type }))).toEqual([[int(1)]]);
    }
  });

  test("unknown route → 404 NOT_FOUND", async () => {
    expectError(await call("/nope"), 404, "NOT_FOUND", /no route for GET \/nope/);
    expectError(await call(`/db/${SMALL}/exec`, { method: "POST", body: "{}" }), 404, "NOT_FOUND", /no route for POST/);
    expectError(await call(`/db/${SMALL}/query/extra`, { method: "POST", body: "{}" }), 404, "NOT_FOUND");
  });

  test("GET/PUT/DELETE on /query and /batch → 405 METHOD_NOT_ALLOWED with Allow: POST", async () => {
    for (const [method, kind] of [["GET", "query"], ["PUT", "query"], ["DELETE", "query"], ["GET", "batch"], ["PATCH", "batch"]] as const) {
      const r = await call(`/db/${SMALL}/${kind}`, method === "GET" || method === "DELETE" ? { method } : { method, body: "{}" });
      expectError(r, 405, "METHOD_NOT_ALLOWED", /use POST/);
      expect(r.headers.get("allow")).toBe("POST");
    }
  });

  test("unknown database → 404 DB_NOT_FOUND (query, batch, status) and GET /db does not list it", async () => {
    const ghost = fresh("ghost");
    expectError(await post(ghost, { sql: "SELECT 1" }), 404, "DB_NOT_FOUND", new RegExp(`no replica under .*${ghost}/`));
    expectError(await post(ghost, { statements: ["SELECT 1"] }, "batch"), 404, "DB_NOT_FOUND");
    expectError(await call(`/db/${ghost}`), 404, "DB_NOT_FOUND");
    const list = await call("/db");
    expect(list.status, list.text).toBe(200);
    const names = (JSON.parse(list.text) as { databases: { name: string; source: string; prefix: string }[] }).databases.map((d) => d.name);
    expect(names).toContain(SMALL);
    expect(names).toContain(ML);
    expect(names).toContain("s3-small");
    expect(names).not.toContain(ghost);
    expect([...names].sort()).toEqual(names);
  });

  test("invalid database names → 404", async () => {
    const q = (path: string) => call(path, { method: "POST", body: JSON.stringify({ sql: "SELECT 1" }) });
    // `..` and its percent-encoded form are resolved by the URL parser before routing.
    expectError(await q("/db/../query"), 404, "NOT_FOUND");
    expectError(await q("/db/%2E%2E/query"), 404, "NOT_FOUND");
    expectError(await q("/db/a%2Fb/query"), 404, "DB_NOT_FOUND", /invalid database name "a\/b"/);
    expectError(await q("/db/.hidden/query"), 404, "DB_NOT_FOUND", /invalid database name "\.hidden"/);
    expectError(await q("/db/a..b/query"), 404, "DB_NOT_FOUND", /invalid database name "a\.\.b"/);
    expectError(await q(`/db/${"x".repeat(129)}/query`), 404, "DB_NOT_FOUND", /invalid database name/);
    expectError(await q("/db/a%00b/query"), 404, "DB_NOT_FOUND", /invalid database name/);
    expectError(await q("/db/%20/query"), 404, "DB_NOT_FOUND", /invalid database name/);
    expectError(await call("/db/.hidden"), 404, "DB_NOT_FOUND");
  });

  test("min_txid / txid: invalid values → 400 INVALID_TXID; bad timestamp → 400 INVALID_TIMESTAMP", async () => {
    for (const [field, value] of [
      ["min_txid", "zz"],
      ["min_txid", 0],
      ["min_txid", -3],
      ["txid", "0"],
      ["txid", 1.5],
      ["txid", true],
      ["txid", "0x"],
      ["txid", "ffffffffffffffff"],
      ["txid", 1e20],
      ["txid", { txid: 1 }],
      ["txid", "00000000000000015"],
    ] as const) {
      expectError(await post(SMALL, { sql: "SELECT 1", [field]: value }), 400, "INVALID_TXID", new RegExp(`${field} must be a TXID`));
    }
    expectError(await post(SMALL, { sql: "SELECT 1", timestamp: "yesterday-ish" }), 400, "INVALID_TIMESTAMP", /ISO 8601/);
    expectError(await post(SMALL, { sql: "SELECT 1", timestamp: true }), 400, "INVALID_TIMESTAMP");
  });

  test("two of min_txid, txid and timestamp → 400 BAD_REQUEST", async () => {
    const msg = /at most one of min_txid, txid and timestamp/;
    expectError(await post(SMALL, { sql: "SELECT 1", txid: 1, min_txid: 1 }), 400, "BAD_REQUEST", msg);
    expectError(await post(SMALL, { sql: "SELECT 1", txid: 1, timestamp: "2030-01-01T00:00:00Z" }), 400, "BAD_REQUEST", msg);
    expectError(await post(SMALL, { sql: "SELECT 1", min_txid: 1, timestamp: 0 }), 400, "BAD_REQUEST", msg);
  });

  test("max_staleness_ms: invalid, or combined with txid/timestamp → 400 BAD_REQUEST; a generous one is served live", async () => {
    expectError(await post(SMALL, { sql: "SELECT 1", max_staleness_ms: -1 }), 400, "BAD_REQUEST", /max_staleness_ms must be a non-negative number/);
    expectError(await post(SMALL, { sql: "SELECT 1", max_staleness_ms: "5" }), 400, "BAD_REQUEST", /max_staleness_ms/);
    expectError(await post(SMALL, { sql: "SELECT 1", max_staleness_ms: 10, txid: 1 }), 400, "BAD_REQUEST", /applies to live reads/);
    expectError(await post(SMALL, { sql: "SELECT 1", max_staleness_ms: 10, timestamp: "2030-01-01T00:00:00Z" }), 400, "BAD_REQUEST", /applies to live reads/);
    const r = await post(SMALL, { sql: "SELECT count(*) FROM users", max_staleness_ms: 3_600_000 });
    expect(rows(r)).toEqual([[int(38)]]);
    expect(meta(r).served_from).toBe("live");
  });

  test("the accepted TXID spellings all address the same state", async () => {
    for (const txid of ["0000000000000015", "0x15", "21", 21, " 0000000000000015 "]) {
      const r = await post(SMALL, { sql: "SELECT count(*) FROM users", txid });
      expect(rows(r)).toEqual([[int(38)]]);
      expect(meta(r).txid_hex).toBe("0000000000000015");
    }
  });

  test("txid newer than the replica → 409 TXID_NOT_YET_AVAILABLE", async () => {
    expectError(await post(SMALL, { sql: "SELECT 1", txid: "0000000000000016" }), 409, "TXID_NOT_YET_AVAILABLE", /newer than the replica position 0000000000000015.*min_txid/);
  });

  test("a TXID compacted away → 410 PLAN_TXID_NOT_AVAILABLE; a restorable one is served by time travel", async () => {
    const m = JSON.parse(new TextDecoder().decode(await fixtureBytes("multi-level/manifest.json"))) as FixtureManifest;
    const gone = m.all_states.filter((s) => s.restorable === false);
    const kept = m.all_states.filter((s) => s.restorable === true && s.txid !== m.final_txid);
    expect(gone.length).toBeGreaterThan(2);
    expect(kept.length).toBeGreaterThan(0);
    for (const s of [gone[0], gone[Math.floor(gone.length / 2)], gone[gone.length - 1]]) {
      if (!s) continue;
      expectError(await post(ML, { sql: "SELECT 1", txid: s.txid }), 410, "PLAN_TXID_NOT_AVAILABLE", new RegExp(`TXID ${s.txid} is not restorable`));
    }
    const k = kept[0] as FixtureManifest["all_states"][number];
    const r = await post(ML, { sql: "SELECT count(*) FROM sqlite_schema", txid: k.txid });
    const mt = meta(r);
    expect(mt.served_from).toBe("time_travel");
    expect(mt.txid_hex).toBe(k.txid);
    expect(r.headers.get("x-ltx-txid")).toBe(k.txid);
    expect(rows(await post(ML, { sql: "PRAGMA page_count", txid: k.txid }))).toEqual([[int(k.page_count)]]);
  });

  test("timestamp before the first file → 410 PLAN_TIME_NOT_AVAILABLE; after the last → the final state", async () => {
    expectError(await post(SMALL, { sql: "SELECT 1", timestamp: "2000-01-01T00:00:00Z" }), 410, "PLAN_TIME_NOT_AVAILABLE", /no restorable state at or before 2000-01-01T00:00:00.000Z/);
    expectError(await post(SMALL, { sql: "SELECT 1", timestamp: 1000 }), 410, "PLAN_TIME_NOT_AVAILABLE");
    const r = await post(SMALL, { sql: "SELECT count(*) FROM users", timestamp: "2099-01-01T00:00:00Z" });
    expect(rows(r)).toEqual([[int(38)]]);
    expect(meta(r).served_from).toBe("time_travel");
    expect(meta(r).txid_hex).toBe(smallManifest.final_txid);
  });

  test("min_txid already reached → served live at once", async () => {
    const r = await post(SMALL, { sql: "SELECT count(*) FROM users", min_txid: "0000000000000015" });
    expect(rows(r)).toEqual([[int(38)]]);
    expect(meta(r).served_from).toBe("live");
  });

  test("a min_txid that never arrives → 504 WAIT_TIMEOUT after the server's 10 s wait", async () => {
    const t0 = Date.now();
    const r = await post(SMALL, { sql: "SELECT 1", min_txid: "00000000000000ff" });
    const waited = Date.now() - t0;
    expectError(r, 504, "WAIT_TIMEOUT", /00000000000000ff did not arrive within 10000 ms/);
    // A lower bound only (it did wait): a loaded machine can only make it longer.
    expect(waited).toBeGreaterThanOrEqual(9_000);
  });
});

// ------------------------------------------------------------------------ meta

describe("response metadata", () => {
  test("a successful query reports position, timing, reads and cache figures; Server-Timing and x-ltx-txid headers", async () => {
    const d = fresh("meta");
    await seedReplica(r2, "small", d);
    const cold = await post(d, { sql: "SELECT id, name FROM users WHERE id <= 3 ORDER BY id" });
    expect(rows(cold)).toEqual([[int(1), "Linus Liskov"], [int(2), "Margaret Perlman"], [int(3), "Niklaus Turing"]]);
    const m = meta(cold);
    expect(m.txid).toBe(smallManifest.final_txid_int);
    expect(m.txid_hex).toBe(smallManifest.final_txid);
    expect(m.served_from).toBe("live");
    for (const k of ["duration_ms", "rows_read", "pages_read", "storage_requests", "bytes_fetched", "isolate_hits", "cache_hits", "cache_misses"] as const) {
      expect(Number.isInteger(m[k]) && m[k] >= 0, `${k}=${String(m[k])}`).toBe(true);
    }
    expect(m.rows_read).toBe(3);
    expect(m.rows_returned).toBe(3);
    expect(m.pages_read).toBeGreaterThan(0);
    expect(m.storage_requests).toBeGreaterThan(0);
    expect(m.bytes_fetched).toBeGreaterThan(0);
    expect(m.cache_misses).toBeGreaterThan(0);
    expect(typeof m.engine).toBe("string");
    expect(m.engine.length).toBeGreaterThan(0);
    expect(cold.headers.get("x-ltx-txid")).toBe(smallManifest.final_txid);
    const timing = cold.headers.get("server-timing") ?? "";
    expect(timing).toMatch(/(^|, )index;dur=\d+/);
    expect(timing).toMatch(/(^|, )exec;dur=\d+/);
    expect(timing).toContain(`storage;desc="requests=${m.storage_requests} bytes=${m.bytes_fetched}"`);
    expect(timing).toContain(`cache;desc="isolate=${m.isolate_hits} edge=${m.cache_hits} miss=${m.cache_misses}"`);
    // Warm: the same query reads nothing from storage.
    const warm = meta(await post(d, { sql: "SELECT id, name FROM users WHERE id <= 3 ORDER BY id" }));
    expect(warm.storage_requests).toBe(0);
    expect(warm.bytes_fetched).toBe(0);
    expect(warm.isolate_hits).toBeGreaterThan(0);
  });

  test("batch meta sums rows over statements and carries rows_read per result", async () => {
    const r = await post(SMALL, { statements: ["SELECT id FROM users LIMIT 4", "SELECT id FROM posts LIMIT 2"] }, "batch");
    expect(r.status, r.text).toBe(200);
    const body = JSON.parse(r.text) as { results: { rows_read: number; rows: unknown[] }[]; meta: Meta };
    expect(body.results.map((x) => x.rows_read)).toEqual([4, 2]);
    expect(body.meta.rows_read).toBe(6);
    expect(body.meta.txid_hex).toBe(smallManifest.final_txid);
    expect(r.headers.get("x-ltx-txid")).toBe(smallManifest.final_txid);
    expect(r.headers.get("server-timing")).toMatch(/index;dur=\d+/);
  });
});

// ----------------------------------------------------------------- concurrency

describe("concurrency", () => {
  test("100 concurrent /query requests over 2 cold databases, including failing ones, each get their own correct result", async () => {
    const [cs, cm] = [fresh("conc-small"), fresh("conc-ml")];
    await Promise.all([seedReplica(r2, "small", cs), seedReplica(r2, "multi-level", cm)]);
    // Every expected value comes from the fixtures' manifests (never from another reply of the server).
    const small = await typedManifest("small");
    const ml = await typedManifest("multi-level");
    const smallQ = (sql: string) => expectedQuery(typedQueriesAt(small.m, small.typed, small.m.final_txid), sql);
    const mlQ = (sql: string) => expectedQuery(typedQueriesAt(ml.m, ml.typed, ml.m.final_txid), sql);
    const usersCount = smallQ("SELECT count(*) FROM users").rows;
    const firstUsers = smallQ("SELECT id, name, email, age, score FROM users ORDER BY id LIMIT 5").rows as Typed[][];
    const mlSchema = mlQ("SELECT type, name, tbl_name FROM sqlite_schema ORDER BY name").rows as Typed[][];
    expect(firstUsers).toHaveLength(5);
    expect(mlSchema.length).toBeGreaterThan(1);
    type Case = { db: string; body: unknown; check: (r: Reply) => void };
    const cases: Case[] = [];
    for (let i = 0; i < 100; i++) {
      const user = firstUsers[i % firstUsers.length] as Typed[];
      switch (i % 5) {
        case 0:
          cases.push({ db: cs, body: { sql: "SELECT count(*) FROM users" }, check: (r) => expectRows(rows(r), usersCount, "count") });
          break;
        case 1:
          cases.push({
            db: cs,
            body: { sql: "SELECT id, name, email, age, score FROM users WHERE id = ?", params: [Number((user[0] as { int: string }).int)] },
            check: (r) => expectRows(rows(r), [user], "user by id"),
          });
          break;
        case 2:
          cases.push({ db: cm, body: { sql: "SELECT type, name, tbl_name FROM sqlite_schema ORDER BY name" }, check: (r) => expectRows(rows(r), mlSchema, "schema") });
          break;
        case 3:
          cases.push({ db: cm, body: { sql: "SELECT count(*) FROM sqlite_schema", integers: "string" }, check: (r) => expect(rows(r)).toEqual([[int(mlSchema.length)]]) }); // small integers stay numbers (docs/http-api.md)
          break;
        default:
          cases.push(
            i % 10 === 4
              ? { db: cs, body: { sql: "SELECT * FROM nope" }, check: (r) => expectError(r, 422, "SQL_ERROR", /no such table: nope/) }
              : { db: cm, body: { sql: "SELECT name FROM sqlite_schema", limits: { max_rows: 1 } }, check: (r) => expectError(r, 422, "SQL_TOO_MANY_ROWS") },
          );
      }
    }
    // All 100 at once in one isolate: a queue long enough for them (the default, 32, answers the rest 503 ENGINE_BUSY).
    const e = envWith({ LIMITS: { max_queued_queries: 128 } });
    const replies = await Promise.all(cases.map((c) => queryVia(e, c.db, c.body as Record<string, unknown>)));
    expect(replies).toHaveLength(100);
    replies.forEach((r, i) => {
      const c = cases[i] as Case;
      c.check(r);
      if (r.status === 200) expect(meta(r).txid_hex).toBe(c.db === cs ? small.m.final_txid : ml.m.final_txid);
    });
  });
});

/** The manifest entry of one query (throws when the manifest has no such query). */
function expectedQuery(queries: TypedQuery[], sql: string): TypedQuery {
  const q = queries.find((x) => x.sql === sql);
  if (!q) throw new Error(`the manifest has no query ${sql}`);
  return q;
}

// ------------------------------------------------------------------ corruption

describe("corrupt data", () => {
  /** Pages of the small fixture whose newest copy is in its level-9 snapshot. */
  async function snapshotOnlyFrame(): Promise<{ rel: string; good: Uint8Array; offset: number; size: number; pgno: number }> {
    const files = fixtureLtxFiles("small");
    const rel = files.find((f) => f.startsWith("ltx/9/")) as string;
    const good = await fixtureBytes(`small/${rel}`);
    const snap = decodeLtxFile(good);
    // The live plan is the snapshot (…0001-…000e) then files after TXID 0x0e.
    const later = new Set<number>();
    for (const f of files) {
      const m = /^ltx\/[0-8]\/([0-9a-f]{16})-[0-9a-f]{16}\.ltx$/.exec(f);
      if (!m || Number.parseInt(m[1] as string, 16) <= snap.header.maxTxid) continue;
      for (const p of decodeLtxFile(await fixtureBytes(`small/${f}`)).index.pgno) later.add(p);
    }
    const candidates = [...snap.index.pgno].filter((p) => p > 1 && !later.has(p));
    expect(candidates.length).toBeGreaterThan(0);
    const pgno = candidates[Math.floor(candidates.length / 2)] as number;
    const i = snap.index.pgno.indexOf(pgno);
    return { rel, good, offset: snap.index.offset[i] as number, size: snap.index.size[i] as number, pgno };
  }

  for (const how of ["pgno field of the frame header", "bytes in the middle of the compressed page"] as const) {
    test(`a corrupt snapshot frame (${how}) is caught by the file checksum before any page is served: quarantined, routed around, every answer right`, async () => {
      const d = fresh("corrupt");
      const keys = await seedReplica(r2, "small", d);
      const { rel, good, offset, size } = await snapshotOnlyFrame();
      const key = keys.find((k) => k.endsWith(rel.slice("ltx/9/".length)) && k.includes("/0009/")) as string;
      expect(key).toBeTruthy();
      const bad = good.slice();
      if (how === "pgno field of the frame header") bad[offset + 3] = (bad[offset + 3] as number) ^ 0x40;
      else for (let k = offset + 20; k < offset + size - 4; k += 7) bad[k] = (bad[k] as number) ^ 0xff;
      await r2.put(key, bad);

      // The snapshot is small enough to be verified whole when the DO reads it; the compaction
      // levels cover the same TXIDs, so the plan goes through them instead: every page is right.
      expect(rows(await post(d, { sql: "PRAGMA integrity_check" }))).toEqual([["ok"]]);
      expect(await counts(d)).toEqual([[int(38), int(52), int(SCHEMA_OBJECTS)]]);
      const { m, typed } = await typedManifest("small");
      const queries = typedQueriesAt(m, typed, m.final_txid);
      expect(queries.length).toBeGreaterThan(0);
      for (const q of queries) {
        const r = await post(d, { sql: q.sql });
        expect(r.status, `${q.sql}: ${r.text}`).toBe(200);
        expect((JSON.parse(r.text) as { columns: string[] }).columns).toEqual(q.columns);
        expectRows(rows(r), q.rows, q.sql);
      }
      // The status says which file is kept out of service, and why.
      const st = await env.DB_INDEX.getByName(d).status(d);
      if (!st.ok) throw new Error(st.error.message);
      const q = st.value.quarantined.find((f) => f.key === key);
      expect(q?.code).toMatch(/^LTX_/);
      expect(st.value.state).toBe("ok");
      expect(st.value.position?.txid).toBe(m.final_txid_int);
    });
  }
});
