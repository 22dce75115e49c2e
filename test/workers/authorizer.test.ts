/**
 * The read-only authorizer on its own (docs/limits.md: "an authorizer allows
 * only reads (no writes, DDL, ATTACH, load_extension, or PRAGMAs that set
 * anything)"). The engine has two more read-only layers (SQLITE_OPEN_READONLY
 * and sqlite3_stmt_readonly()), which can hide a hole in the authorizer, so:
 * 1. `readOnlyDenial` is called directly for every authorizer action code of
 *    sqlite3.h, temp objects included;
 * 2. through SqlEngine on a real database, each refused statement must be
 *    refused by the authorizer itself — SQL_READONLY with the authorizer's
 *    reason for that very action, not a later layer's message.
 */
import * as SQLite from "@journeyapps/wa-sqlite";
import { beforeAll, describe, expect, test } from "vitest";
import { readOnlyDenial } from "../../src/sql/authorizer.ts";
import { SqlEngine, SqlError } from "../../src/sql/engine.ts";
import { buildStandardDb, TestPageSource } from "../support/sqlite-db.ts";

/** Authorizer action codes, as sqlite3.h defines them (https://sqlite.org/c3ref/c_alter_table.html). */
const ACTIONS: Record<string, number> = {
  SQLITE_COPY: 0,
  SQLITE_CREATE_INDEX: 1,
  SQLITE_CREATE_TABLE: 2,
  SQLITE_CREATE_TEMP_INDEX: 3,
  SQLITE_CREATE_TEMP_TABLE: 4,
  SQLITE_CREATE_TEMP_TRIGGER: 5,
  SQLITE_CREATE_TEMP_VIEW: 6,
  SQLITE_CREATE_TRIGGER: 7,
  SQLITE_CREATE_VIEW: 8,
  SQLITE_DELETE: 9,
  SQLITE_DROP_INDEX: 10,
  SQLITE_DROP_TABLE: 11,
  SQLITE_DROP_TEMP_INDEX: 12,
  SQLITE_DROP_TEMP_TABLE: 13,
  SQLITE_DROP_TEMP_TRIGGER: 14,
  SQLITE_DROP_TEMP_VIEW: 15,
  SQLITE_DROP_TRIGGER: 16,
  SQLITE_DROP_VIEW: 17,
  SQLITE_INSERT: 18,
  SQLITE_PRAGMA: 19,
  SQLITE_READ: 20,
  SQLITE_SELECT: 21,
  SQLITE_TRANSACTION: 22,
  SQLITE_UPDATE: 23,
  SQLITE_ATTACH: 24,
  SQLITE_DETACH: 25,
  SQLITE_ALTER_TABLE: 26,
  SQLITE_REINDEX: 27,
  SQLITE_ANALYZE: 28,
  SQLITE_CREATE_VTABLE: 29,
  SQLITE_DROP_VTABLE: 30,
  SQLITE_FUNCTION: 31,
  SQLITE_SAVEPOINT: 32,
  SQLITE_RECURSIVE: 33,
};
/** The only actions a read may need (PRAGMA and FUNCTION are decided by name, below). */
const READS = new Set(["SQLITE_READ", "SQLITE_SELECT", "SQLITE_RECURSIVE", "SQLITE_FUNCTION", "SQLITE_PRAGMA"]);

describe("readOnlyDenial, called directly", () => {
  test("the action codes are sqlite3.h's (the library agrees)", () => {
    const lib = SQLite as unknown as Record<string, unknown>;
    for (const [name, code] of Object.entries(ACTIONS)) expect(lib[name], name).toBe(code);
  });

  test("every action that writes, creates, drops, attaches or controls transactions is denied, temp objects included", () => {
    const denied = Object.entries(ACTIONS).filter(([name]) => !READS.has(name));
    expect(denied).toHaveLength(29);
    for (const [name, code] of denied) {
      // p3/p4 as SQLite passes them: the object (table, index, trigger, view, file) and its table or "".
      for (const [p3, p4] of [["t", ""], ["t", "t"], ["sqlite_temp_master", ""], ["", ""]] as const) {
        const reason = readOnlyDenial(code, p3, p4);
        expect(reason, `${name}(${p3}, ${p4})`).not.toBeNull();
        expect(reason, `${name}(${p3}, ${p4})`).toMatch(/not allowed/);
      }
    }
  });

  test("temp objects: each reason names the action", () => {
    expect(readOnlyDenial(ACTIONS.SQLITE_CREATE_TEMP_TABLE as number, "t", "")).toMatch(/read-only: CREATE TEMP TABLE on t is not allowed/);
    expect(readOnlyDenial(ACTIONS.SQLITE_CREATE_TEMP_VIEW as number, "v", "")).toMatch(/read-only: CREATE TEMP VIEW on v is not allowed/);
    expect(readOnlyDenial(ACTIONS.SQLITE_CREATE_TEMP_TRIGGER as number, "tr", "items")).toMatch(/read-only: CREATE TEMP TRIGGER on tr is not allowed/);
    expect(readOnlyDenial(ACTIONS.SQLITE_CREATE_TEMP_INDEX as number, "i", "t")).toMatch(/read-only: CREATE TEMP INDEX on i is not allowed/);
    expect(readOnlyDenial(ACTIONS.SQLITE_DROP_TEMP_TABLE as number, "t", "")).toMatch(/read-only: DROP TEMP TABLE on t is not allowed/);
    // A write into a temp table is an INSERT/UPDATE/DELETE like any other (the database name is not needed to refuse it).
    for (const action of ["SQLITE_INSERT", "SQLITE_UPDATE", "SQLITE_DELETE"]) {
      expect(readOnlyDenial(ACTIONS[action] as number, "t", ""), action).toMatch(/read-only: (INSERT|UPDATE|DELETE) on t is not allowed/);
    }
    expect(readOnlyDenial(ACTIONS.SQLITE_ATTACH as number, ":memory:", "")).toBe("ATTACH and DETACH are not allowed");
    expect(readOnlyDenial(ACTIONS.SQLITE_DETACH as number, "aux", "")).toBe("ATTACH and DETACH are not allowed");
  });

  test("PRAGMAs: temp_store and every setting are denied; only introspection is read", () => {
    const pragma = ACTIONS.SQLITE_PRAGMA as number;
    for (const [name, arg] of [
      ["temp_store", "MEMORY"],
      ["temp_store", "2"],
      ["temp_store", ""],
      ["temp_store_directory", "/tmp"],
      ["journal_mode", "WAL"],
      ["writable_schema", "1"],
      ["query_only", "0"],
      ["cache_size", "-2000"],
      ["user_version", "5"],
      ["schema_version", "1"],
      ["application_id", "7"],
      ["foreign_keys", "ON"],
    ] as const) {
      expect(readOnlyDenial(pragma, name, arg), `PRAGMA ${name} = ${arg}`).not.toBeNull();
    }
    for (const name of ["user_version", "page_count", "page_size", "schema_version"]) expect(readOnlyDenial(pragma, name, ""), name).toBeNull();
    expect(readOnlyDenial(pragma, "table_info", "users")).toBeNull();
    expect(readOnlyDenial(pragma, "integrity_check", "")).toBeNull();
  });

  test("reads are allowed (so the denials above are not a blanket no)", () => {
    expect(readOnlyDenial(ACTIONS.SQLITE_SELECT as number, "", "")).toBeNull();
    expect(readOnlyDenial(ACTIONS.SQLITE_READ as number, "users", "name")).toBeNull();
    expect(readOnlyDenial(ACTIONS.SQLITE_RECURSIVE as number, "", "")).toBeNull();
    expect(readOnlyDenial(ACTIONS.SQLITE_FUNCTION as number, "", "abs")).toBeNull();
    expect(readOnlyDenial(ACTIONS.SQLITE_FUNCTION as number, "", "load_extension")).toMatch(/load_extension\(\) is not allowed/);
  });
});

describe("through SqlEngine: refused by the authorizer itself", () => {
  let engine: SqlEngine;
  let source: TestPageSource;
  const LIMITS = { maxRows: 1000, maxResultBytes: 1_000_000, timeoutMs: 60_000 };

  beforeAll(async () => {
    const db = await buildStandardDb(4096, 200);
    source = new TestPageSource(db.bytes(), 1);
    await db.close();
    engine = await SqlEngine.create();
  });

  async function refusal(sql: string): Promise<SqlError> {
    try {
      await engine.execute("authorizer", source, [{ sql }], LIMITS);
    } catch (e) {
      if (e instanceof SqlError) return e;
      throw e;
    }
    throw new Error(`${sql} was not refused`);
  }

  // SQLite asks about the schema-table INSERT before the CREATE TEMP TABLE/VIEW action itself (and
  // stops at the first denial), so through the engine a temp table or view is refused as that INSERT:
  // still the authorizer, never a later layer. The CREATE TEMP … actions are checked directly above.
  const tempSchemaInsert = /^the database is read-only: INSERT on sqlite_(temp_)?master is not allowed$/;
  const CASES: [string, RegExp][] = [
    ["CREATE TEMP TABLE t(x)", tempSchemaInsert],
    ["CREATE TEMPORARY TABLE t AS SELECT 1 AS x", tempSchemaInsert],
    ["CREATE TABLE temp.t(x)", tempSchemaInsert],
    ["CREATE TEMP VIEW v AS SELECT 1", tempSchemaInsert],
    ["CREATE TEMP TRIGGER tr AFTER INSERT ON items BEGIN SELECT 1; END", /^the database is read-only: CREATE TEMP TRIGGER on tr is not allowed$/],
    ["INSERT INTO temp.sqlite_master VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(y)')", /^the database is read-only: INSERT on sqlite_(temp_)?master is not allowed$/],
    ["PRAGMA temp_store = MEMORY", /^PRAGMA temp_store is not allowed$/],
    ["PRAGMA temp_store = 2", /^PRAGMA temp_store is not allowed$/],
    ["PRAGMA temp_store", /^PRAGMA temp_store is not allowed$/],
    ["PRAGMA temp.user_version = 1", /^PRAGMA user_version may only be read, not set$/],
    ["ATTACH ':memory:' AS aux", /^ATTACH and DETACH are not allowed$/],
    ["ATTACH 'other.db' AS other", /^ATTACH and DETACH are not allowed$/],
    ["DETACH temp", /^ATTACH and DETACH are not allowed$/],
  ];

  for (const [sql, reason] of CASES) {
    test(`${sql} → SQL_READONLY, with the authorizer's reason`, async () => {
      const e = await refusal(sql);
      expect(e.code, e.message).toBe("SQL_READONLY");
      expect(e.message).toMatch(reason);
    });
  }

  test("the connection still reads afterwards", async () => {
    const r = await engine.execute("authorizer", source, [{ sql: "SELECT count(*) FROM items" }], LIMITS);
    expect(r.results[0]?.rows).toEqual([[200n]]);
  });
});
