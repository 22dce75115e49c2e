/**
 * @module
 * The checks every entry point (JSON API, Hrana, CLI) makes on SQL text
 * before SQLite sees it.
 *
 * SQLite parses and compiles expressions recursively, and these wa-sqlite
 * builds have no expression-depth limit (SQLITE_MAX_EXPR_DEPTH=0 compiles the
 * check out; SQLITE_LIMIT_EXPR_DEPTH cannot turn it back on). A statement
 * that nests deeply enough overflows the wasm stack, and the engine only
 * recovers by throwing its instance away. So the shape of a statement is
 * measured with the project's SQL lexer and refused (SQL_TOO_COMPLEX) when it
 * could come near the stack's limit:
 * - operators: symbols (`+`, `||`, `<=` …) and keyword operators (AND, OR,
 *   NOT, IS, IN, BETWEEN, LIKE, GLOB, REGEXP, MATCH, ESCAPE, COLLATE, CASE,
 *   WHEN …): a chain of N binary operators is an expression tree N deep;
 * - nesting: parentheses and CASE … END, the depth of the deepest one;
 * - compound terms (UNION, INTERSECT, EXCEPT) and SELECTs, which SQLite
 *   compiles recursively with far larger stack frames than an operator.
 * `complexityCost` adds the parts up (one statement may combine every
 * shape) and a statement may cost MAX_COMPLEXITY.
 *
 * Measured in local workerd (vitest-pool-workers, a fresh instance per try,
 * binary search on the repeat count; "clean" = SQLite's own error, no trap),
 * largest count that still ran, JSPI / Asyncify:
 * - `NOT NOT … 1`: 2481 clean / 2251 then stack overflow — the costliest
 *   operator; `1+1+…`: 4141 then a "null function" trap (the shadow stack in
 *   linear memory overflowed: silent corruption is possible before a trap) /
 *   3376; `'a'||'a'||…`: 3258 / 3024; `1 BETWEEN 0 AND …`: 1430 (two operators
 *   each) on Asyncify, and compiling it is quadratic (3001 took 3.9 s);
 *   `1 OR 1 OR …`, `1 AND …`: over 19,800 / over 5,950.
 * - nesting always hit SQLite's parser limit ("Recursion limit") first:
 *   `(SELECT (SELECT …))` 498, `EXISTS (SELECT …)` and `FROM (SELECT …)` 413,
 *   nested CASE 621, nested functions 826, parentheses 2481.
 * - compounds: SQLite's own 500-term limit first (clean); a chain of CTEs
 *   each reading the previous one: 2110 / 1910 then stack overflow.
 * So an operator is the unit (NOT: the stack holds ~2250 of them), a level
 * of nesting or a SELECT/compound term costs at most 2250 / 413 ≈ 5.4 units
 * — call it 5, since 413 levels ran with stack to spare — and a statement may
 * cost 1000 units: under half the stack for the worst shape measured, a
 * quarter of it for `+` chains. Node's default stack (the CLI) is smaller
 * (scalar subqueries overflow at ~56 levels, UNION ALL at ~61 terms); there a
 * statement the guard lets through can still overflow, which resets the
 * instance and fails with SQL_TOO_COMPLEX, never with a wrong answer.
 */

import { SqlError } from "./errors.ts";
import { tokenize, upperWord } from "./lexer.ts";

/** Words that build an expression node (a level of the tree, when chained). */
const KEYWORD_OPERATORS = new Set([
  "AND", "OR", "NOT", "IS", "IN", "BETWEEN", "LIKE", "GLOB", "REGEXP", "MATCH", "ESCAPE",
  "COLLATE", "CASE", "WHEN", "ISNULL", "NOTNULL", "EXISTS", "CAST",
]);
const COMPOUND_OPERATORS = new Set(["UNION", "INTERSECT", "EXCEPT"]);
/** Punctuation lexed as "op" that builds no expression node. */
const NOT_OPERATORS = new Set(["(", ")", ",", ".", ";"]);
/** After these, `*` means "all columns" (`SELECT *`, `t.*`, `count(*)`), not a product. */
const STAR_AS_COLUMNS = new Set(["(", ",", ".", "SELECT", "DISTINCT", "ALL"]);

export interface SqlShape {
  /** Symbol and keyword operators. */
  operators: number;
  /** Deepest nesting of parentheses and CASE … END. */
  depth: number;
  /** UNION / INTERSECT / EXCEPT. */
  compounds: number;
  /** SELECT keywords (each one a query SQLite compiles, possibly inside another). */
  selects: number;
}

/** Measures a statement's shape; strings, quoted names and comments never count. */
export function sqlShape(sql: string): SqlShape {
  const shape: SqlShape = { operators: 0, depth: 0, compounds: 0, selects: 0 };
  let depth = 0;
  let prev = "";
  for (const t of tokenize(sql)) {
    if (t.kind === "comment") continue;
    const text = t.kind === "op" ? sql.slice(t.start, t.end) : (upperWord(sql, t) ?? t.kind);
    const before = prev;
    prev = text;
    if (t.kind === "op") {
      if (text === "(") shape.depth = Math.max(shape.depth, ++depth);
      else if (text === ")") depth = Math.max(0, depth - 1);
      else if (!NOT_OPERATORS.has(text) && !(text === "*" && STAR_AS_COLUMNS.has(before))) shape.operators++;
      continue;
    }
    const word = upperWord(sql, t);
    if (word === null) continue;
    if (KEYWORD_OPERATORS.has(word)) shape.operators++;
    if (word === "CASE") shape.depth = Math.max(shape.depth, ++depth);
    else if (word === "END") depth = Math.max(0, depth - 1);
    else if (COMPOUND_OPERATORS.has(word)) shape.compounds++;
    else if (word === "SELECT") shape.selects++;
  }
  return shape;
}

/** The most any one statement may cost (see {@link complexityCost} and the measurements above). */
export const MAX_COMPLEXITY = 1000;
/** Cost of one operator: the unit. */
const OPERATOR_COST = 1;
/** Cost of one level of nesting. */
const DEPTH_COST = 5;
/** Cost of one compound term or SELECT. */
const QUERY_COST = 5;

/**
 * Stack a statement may need, in units of one chained operator: the worst
 * path through its tree is at most every operator, every level of nesting
 * and every query at once, so the sum bounds it.
 */
export function complexityCost(shape: SqlShape): number {
  return shape.operators * OPERATOR_COST + shape.depth * DEPTH_COST + (shape.compounds + shape.selects) * QUERY_COST;
}

/** The checks on one statement's text; `label` names it in the message. */
export function sqlTextProblem(sql: string, limits: { maxSqlBytes: number }, label: string): SqlError | null {
  if (new TextEncoder().encode(sql).length > limits.maxSqlBytes) {
    return new SqlError("SQL_TOO_LONG", `${label} exceeds the ${limits.maxSqlBytes}-byte limit`);
  }
  const shape = sqlShape(sql);
  if (complexityCost(shape) > MAX_COMPLEXITY) {
    return new SqlError(
      "SQL_TOO_COMPLEX",
      `${label} is too complex for the SQLite engine (${shape.operators} operators, nesting ${shape.depth} deep, ` +
        `${shape.selects} SELECTs, ${shape.compounds} compound terms); split it or use IN (…) lists and parameters`,
    );
  }
  return null;
}
