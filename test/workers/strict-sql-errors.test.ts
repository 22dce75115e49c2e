/**
 * SQL_SYNTAX means the text is not SQL (SQLite's tokenizer or parser refused
 * it); well-formed SQL that does not fit the database — no such table,
 * column or function, wrong argument counts — is SQL_ERROR. Both front doors
 * (the JSON API and Hrana) use the one classifier.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { prepareErrorCode } from "../../src/sql/errors.ts";
import { envWith, queryVia, uniqueName, viaApp } from "../support/app.ts";
import { expectError } from "../support/http.ts";
import { seedReplica } from "../support/seed.ts";

const DB = uniqueName("strict-sql");
const e = envWith({ ALLOW_UNAUTHENTICATED: "true" });

beforeAll(async () => {
  await seedReplica(new R2Store(env.BUCKET), "small", DB);
});

afterAll(async () => {
  await env.DB_INDEX.getByName(DB).stop();
});

const SYNTAX: [string, RegExp][] = [
  ["SELEC 1", /near "SELEC": syntax error/],
  ["SELECT FROM users WHERE", /syntax error/],
  ["SELECT (1", /incomplete input/],
  ["SELECT 'unterminated", /unrecognized token/],
  ["SELECT ?0", /variable number must be between/],
  ["-- only a comment", /no SQL statement/],
];

const NOT_IN_THIS_DATABASE: [string, RegExp][] = [
  ["SELECT * FROM nope", /no such table: nope/],
  ["SELECT nope FROM users", /no such column: nope/],
  ["SELECT nope(1)", /no such function: nope/],
  ["SELECT writefile('x', 'y')", /no such function: writefile/],
  ["SELECT abs(1, 2)", /wrong number of arguments to function abs\(\)/],
  ["SELECT id FROM users, posts", /ambiguous column name: id/],
  ["SELECT count(*) FROM users WHERE count(*) > 1", /misuse of aggregate/],
];

describe("the JSON API", () => {
  test.each(SYNTAX)("%j → 400 SQL_SYNTAX", async (sql, message) => {
    expectError(await queryVia(e, DB, { sql }), 400, "SQL_SYNTAX", message);
  });

  test.each(NOT_IN_THIS_DATABASE)("%j → 422 SQL_ERROR", async (sql, message) => {
    expectError(await queryVia(e, DB, { sql }), 422, "SQL_ERROR", message);
  });

  test("a batch names the failing statement, with the same code", async () => {
    const r = await viaApp(e, `/db/${DB}/batch`, { method: "POST", body: JSON.stringify({ statements: ["SELECT 1", "SELECT * FROM nope"] }) });
    expectError(r, 422, "SQL_ERROR", /^statements\[1\]: no such table: nope/);
  });
});

describe("Hrana", () => {
  async function stepError(sql: string): Promise<{ code: string; message: string }> {
    const body = { requests: [{ type: "execute", stmt: { sql } }, { type: "close" }] };
    const r = await viaApp(e, `/db/${DB}/v2/pipeline`, { method: "POST", body: JSON.stringify(body) });
    expect(r.status, r.text).toBe(200);
    const result = (JSON.parse(r.text) as { results: { type: string; error?: { code: string; message: string } }[] }).results[0];
    expect(result?.type).toBe("error");
    return result?.error ?? { code: "", message: "" };
  }

  test("the same codes in a step's error", async () => {
    expect(await stepError("SELEC 1")).toMatchObject({ code: "SQL_SYNTAX", message: expect.stringMatching(/syntax error/) });
    expect(await stepError("SELECT * FROM nope")).toMatchObject({ code: "SQL_ERROR", message: expect.stringMatching(/no such table: nope/) });
    expect(await stepError("SELECT nope FROM users")).toMatchObject({ code: "SQL_ERROR" });
  });
});

describe("the classifier", () => {
  test("messages of SQLite's parser are syntax; depth limits are SQL_TOO_COMPLEX; the rest SQL_ERROR", () => {
    expect(prepareErrorCode('near "FROM": syntax error')).toBe("SQL_SYNTAX");
    expect(prepareErrorCode("incomplete input")).toBe("SQL_SYNTAX");
    expect(prepareErrorCode('unrecognized token: "#"')).toBe("SQL_SYNTAX");
    expect(prepareErrorCode("parser stack overflow")).toBe("SQL_TOO_COMPLEX");
    expect(prepareErrorCode("Expression tree is too large (maximum depth 1000)")).toBe("SQL_TOO_COMPLEX");
    expect(prepareErrorCode("no such table: syntax error")).toBe("SQL_ERROR");
    expect(prepareErrorCode("no such column: x")).toBe("SQL_ERROR");
  });
});
