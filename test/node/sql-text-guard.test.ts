/**
 * The SQL lexer and the text guard shared by the JSON API, Hrana and the CLI:
 * what counts as an operator or a level of nesting, and which shapes are
 * refused before SQLite sees them (the engine-side proof that refused shapes
 * would overflow the wasm stack, and accepted ones do not, is in
 * test/workers/engine-guards.test.ts).
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_LIMITS } from "../../src/api/limits.ts";
import { tokenize } from "../../src/sql/lexer.ts";
import { complexityCost, MAX_COMPLEXITY, sqlShape, sqlTextProblem } from "../../src/sql/text-guard.ts";

const texts = (sql: string) => tokenize(sql).map((t) => sql.slice(t.start, t.end));
const problem = (sql: string) => sqlTextProblem(sql, DEFAULT_LIMITS, "sql")?.code ?? "OK";

describe("lexer", () => {
  test("multi-character operators are one token; strings, names and comments are opaque", () => {
    expect(texts("a||b <= c->>'$.x' <> d != e == f << 2 >> 1 -> g")).toEqual([
      "a", "||", "b", "<=", "c", "->>", "'$.x'", "<>", "d", "!=", "e", "==", "f", "<<", "2", ">>", "1", "->", "g",
    ]);
    expect(tokenize("SELECT 'a OR b', \"x AND y\", [NOT], `IN` -- OR OR\n/* AND */").map((t) => t.kind)).toEqual([
      "word", "string", "op", "quoted", "op", "quoted", "op", "quoted", "comment", "comment",
    ]);
  });

  test("numbers, parameters and escapes", () => {
    expect(texts("1e-5+.5 ?12 :a @b $c::d 'it''s'")).toEqual(["1e-5", "+", ".5", "?12", ":a", "@b", "$c::d", "'it''s'"]);
  });
});

describe("sqlShape", () => {
  test("symbols and keyword operators count; punctuation does not", () => {
    expect(sqlShape("SELECT a, b.c FROM t WHERE a = 1 AND b <> 2 OR c LIKE 'x' ESCAPE '\\' OR d IS NOT NULL").operators).toBe(9);
    expect(sqlShape("SELECT x COLLATE nocase BETWEEN 1 AND 2 GLOB 'a' IN (1) MATCH y REGEXP z").operators).toBe(7);
    expect(sqlShape("SELECT CASE WHEN a THEN 1 ELSE 2 END, EXISTS (SELECT 1), CAST(x AS INT), a ISNULL, b NOTNULL").operators).toBe(6);
  });

  test("`*` for all columns is no operator; a product is", () => {
    expect(sqlShape("SELECT *, t.*, count(*), DISTINCT * FROM t").operators).toBe(0);
    expect(sqlShape("SELECT a * b, (2) * 3, ? * :x").operators).toBe(3);
  });

  test("nothing inside strings, quoted names or comments counts", () => {
    expect(sqlShape("SELECT 'OR OR ((( +' AS \"AND AND\", [NOT (] -- OR ( OR\n /* AND ( */").operators).toBe(0);
    expect(sqlShape("SELECT ')' || '('").depth).toBe(0);
  });

  test("depth is the deepest parenthesis or CASE … END", () => {
    expect(sqlShape("SELECT ((1)), (2)").depth).toBe(2);
    expect(sqlShape("SELECT CASE WHEN (a) THEN CASE b WHEN 1 THEN (2) END END").depth).toBe(3);
    expect(sqlShape("SELECT 1)))").depth).toBe(0);
  });

  test("SELECTs and compound terms", () => {
    const s = sqlShape("SELECT 1 UNION ALL SELECT 2 INTERSECT SELECT (SELECT 3) EXCEPT VALUES (4)");
    expect(s.selects).toBe(4);
    expect(s.compounds).toBe(3);
  });
});

describe("sqlTextProblem", () => {
  test.each([
    ["OR chain", "SELECT " + "1 OR ".repeat(15_000) + "1"],
    ["AND chain", "SELECT " + "1 AND ".repeat(15_000) + "1"],
    ["+ chain", "SELECT " + "1+".repeat(5_000) + "1"],
    ["|| chain", "SELECT " + "'a'||".repeat(5_000) + "'a'"],
    ["NOT chain", "SELECT " + "NOT ".repeat(5_000) + "1"],
    ["parentheses", "SELECT " + "(".repeat(3_000) + "1" + ")".repeat(3_000)],
    ["scalar subqueries", "SELECT " + "(SELECT ".repeat(300) + "1" + ")".repeat(300)],
    ["FROM subqueries", "SELECT * FROM " + "(SELECT * FROM ".repeat(300) + "(SELECT 1)" + ")".repeat(300)],
    ["nested CASE", "SELECT " + "CASE WHEN 0 THEN 1 ELSE ".repeat(2_000) + "2" + " END".repeat(2_000)],
    ["long CASE", "SELECT CASE " + "WHEN 0 THEN 1 ".repeat(5_000) + "ELSE 2 END"],
    ["BETWEEN chain", "SELECT " + "1 BETWEEN 0 AND ".repeat(2_000) + "1"],
    ["nested functions", "SELECT " + "abs(".repeat(2_000) + "1" + ")".repeat(2_000)],
    ["UNION ALL", Array.from({ length: 600 }, () => "SELECT 1").join(" UNION ALL ")],
  ])("%s → SQL_TOO_COMPLEX", (_name, sql) => {
    expect(sql.length).toBeLessThan(DEFAULT_LIMITS.maxSqlBytes);
    expect(problem(sql)).toBe("SQL_TOO_COMPLEX");
  });

  test.each([
    ["a wide IN list", "SELECT * FROM t WHERE id IN (" + Array.from({ length: 5_000 }, (_, i) => i).join(",") + ")"],
    ["a 300-term OR of parameters", "SELECT * FROM t WHERE " + Array.from({ length: 300 }, () => "id = ?").join(" OR ")],
    ["an ORM-style query", "SELECT \"t\".\"a\", (SELECT count(*) FROM \"u\" WHERE \"u\".\"t_id\" = \"t\".\"id\") FROM \"t\" WHERE ((\"t\".\"a\" = ?) AND ((\"t\".\"b\" > ?) OR (\"t\".\"c\" IS NULL))) ORDER BY \"t\".\"a\" LIMIT ?"],
    ["ten UNION ALLs", Array.from({ length: 10 }, (_, i) => `SELECT ${i}`).join(" UNION ALL ")],
    ["a 200-WHEN CASE", "SELECT CASE x " + Array.from({ length: 200 }, (_, i) => `WHEN ${i} THEN 'v${i}'`).join(" ") + " END FROM t"],
  ])("%s is fine", (_name, sql) => {
    expect(problem(sql)).toBe("OK");
  });

  test("the cost adds every part up, and the limit sits below the measured overflow", () => {
    expect(complexityCost({ operators: 0, depth: 0, compounds: 0, selects: 0 })).toBe(0);
    expect(MAX_COMPLEXITY).toBeGreaterThan(0);
    const s = sqlShape("SELECT (1 + 2) UNION SELECT 3");
    expect(complexityCost(s)).toBeGreaterThan(complexityCost({ ...s, depth: 0 }));
  });

  test("SQL_TOO_LONG comes first and the message names the statement", () => {
    const e = sqlTextProblem("SELECT 1 -- " + "x".repeat(200), { maxSqlBytes: 100 }, "statements[3].sql");
    expect(e?.code).toBe("SQL_TOO_LONG");
    expect(e?.message).toMatch(/^statements\[3\]\.sql exceeds/);
    const c = sqlTextProblem("SELECT " + "1 OR ".repeat(15_000) + "1", DEFAULT_LIMITS, "body.sql");
    expect(c?.code).toBe("SQL_TOO_COMPLEX");
    expect(c?.message).toMatch(/^body\.sql is too complex/);
  });
});
