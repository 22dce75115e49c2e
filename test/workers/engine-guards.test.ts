/**
 * @module
 * The engine's CPU, memory and stack guards on both wa-sqlite builds, with
 * the clock frozen the way production Workers freeze it during CPU work:
 * runaway queries stop on their VM-step budget (SQL_CPU_LIMIT), memory bombs
 * fail with SQL_MEMORY_LIMIT and the memory comes back, statements at the
 * text guard's limit compile without overflowing the wasm stack.
 */

import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { DEFAULT_LIMITS } from "../../src/api/limits.ts";
import { SqlEngine, SqlError, type ExecLimits } from "../../src/sql/engine.ts";
import { MAX_COMPLEXITY, complexityCost, sqlShape, sqlTextProblem } from "../../src/sql/text-guard.ts";
import { freezeClock } from "../support/freeze-clock.ts";
import { buildStandardDb, TestPageSource } from "../support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 10_000 };
const ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
/** A counting CTE of n rows: about 16 VM steps a row. */
const count = (n: number) => `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT ${n}) SELECT count(*) FROM c`;
const MiB = 1024 * 1024;

async function failure(p: Promise<unknown>): Promise<SqlError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof SqlError)) throw new Error(`expected a SqlError, got ${String(e)}`);
  return e;
}

let bytes: Uint8Array;
let thaw: (() => void) | null = null;

beforeAll(async () => {
  const db = await buildStandardDb(4096, 2000);
  bytes = db.bytes();
  await db.close();
});

afterEach(() => {
  thaw?.();
  thaw = null;
});

for (const build of ["jspi", "asyncify"] as const) {
  describe(`CPU budget, clock frozen (${build})`, () => {
    let engine: SqlEngine;
    const source = () => new TestPageSource(bytes, 1);

    beforeAll(async () => {
      engine = await SqlEngine.create({ build });
    });

    test("an endless CTE stops with SQL_CPU_LIMIT on the budget derived from its time limit", async () => {
      thaw = freezeClock();
      const e = await failure(engine.execute("cpu", source(), [{ sql: ENDLESS }], { ...LIMITS, timeoutMs: 50 }));
      expect(e.code).toBe("SQL_CPU_LIMIT");
      expect(e.message).toMatch(/CPU budget of \d+ SQLite VM steps/);
      expect(engine.resets).toBe(0);
    });

    test("an explicit maxVmSteps is the budget, shared by every statement of the call", async () => {
      thaw = freezeClock();
      const limits = { ...LIMITS, maxVmSteps: 1_000_000 };
      // ~640k steps each: one fits, two do not.
      const one = await engine.execute("cpu", source(), [{ sql: count(40_000) }], limits);
      expect(one.results[0]?.rows).toEqual([[40_000n]]);
      expect(one.stats.vmSteps).toBeGreaterThan(400_000);
      expect(one.stats.vmSteps).toBeLessThan(1_000_000);
      const e = await failure(engine.execute("cpu", source(), [{ sql: count(40_000) }, { sql: count(40_000) }], limits));
      expect(e).toMatchObject({ code: "SQL_CPU_LIMIT", statementIndex: 1 });
      expect(e.message).toContain("1000000 SQLite VM steps");
      const endless = await failure(engine.execute("cpu", source(), [{ sql: ENDLESS }], { ...LIMITS, maxVmSteps: 5_000_000 }));
      expect(endless.code).toBe("SQL_CPU_LIMIT");
    });

    test("ordinary queries are far inside the default budget; the engine is never reset", async () => {
      thaw = freezeClock();
      const { results } = await engine.execute(
        "cpu",
        source(),
        [
          { sql: "SELECT count(*), sum(length(payload)) FROM items" },
          { sql: "SELECT category, count(*) FROM items GROUP BY category ORDER BY 2 DESC LIMIT 3" },
          { sql: count(1_000_000) },
        ],
        LIMITS,
      );
      expect(results[0]?.rows).toEqual([[2000n, 400_000n]]);
      expect(results[2]?.rows).toEqual([[1_000_000n]]);
      expect(engine.resets).toBe(0);
    });

    test("with the clock running, the deadline still interrupts (SQL_TIMEOUT) before a generous step budget", async () => {
      const e = await failure(engine.execute("cpu", source(), [{ sql: ENDLESS }], { ...LIMITS, timeoutMs: 100, maxVmSteps: 1e15 }));
      expect(e.code).toBe("SQL_TIMEOUT");
    });
  });

  describe(`memory (${build})`, () => {
    const source = () => new TestPageSource(bytes, 1);
    const bombs: [string, string][] = [
      ["DISTINCT over 300k random 400-byte blobs", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) SELECT count(*) FROM (SELECT DISTINCT x, randomblob(400) FROM c)"],
      ["DISTINCT over 150 blobs of 1 MB", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 150) SELECT count(*) FROM (SELECT DISTINCT randomblob(1000000) FROM c)"],
      ["a doubling string", "WITH RECURSIVE s(x) AS (SELECT 'a' UNION ALL SELECT x || x FROM s) SELECT max(length(x)) FROM s"],
      ["a sort holding 100 MB", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000) SELECT x FROM c ORDER BY randomblob(1000) LIMIT 1 OFFSET 99999"],
      ["one 100 MB value", "SELECT length(randomblob(100000000))"],
    ];

    test.each(bombs)("%s fails with SQL_MEMORY_LIMIT; the instance stays (no reset)", async (_name, sql) => {
      const engine = await SqlEngine.create({ build });
      const baseline = engine.memoryBytes;
      thaw = freezeClock();
      const e = await failure(engine.execute("mem", source(), [{ sql }], LIMITS));
      expect(e.code).toBe("SQL_MEMORY_LIMIT");
      expect(e.message).toMatch(/MiB/);
      expect(engine.resets).toBe(0);
      // The heap limit held: the instance grew by about the heap limit at most.
      expect(engine.memoryBytes).toBeLessThan(baseline + 24 * MiB + 8 * MiB);
      expect((await engine.execute("mem", source(), [{ sql: "SELECT count(*) FROM items" }], LIMITS)).results[0]?.rows).toEqual([[2000n]]);
    });

    test("an instance whose wasm memory grew past resetBytes is replaced after the call: memory comes back", async () => {
      const engine = await SqlEngine.create({ build, instances: 1, resetBytes: 20 * MiB });
      const baseline = engine.memoryBytes;
      expect(baseline).toBeLessThan(20 * MiB);
      const e = await failure(engine.execute("mem", source(), [{ sql: bombs[0]?.[1] ?? "" }], LIMITS));
      expect(e.code).toBe("SQL_MEMORY_LIMIT");
      expect(engine.replacements).toBe(1);
      expect(engine.memoryBytes).toBe(0);
      const { results } = await engine.execute("mem", source(), [{ sql: "SELECT count(*) FROM items" }], LIMITS);
      expect(results[0]?.rows).toEqual([[2000n]]);
      expect(engine.memoryBytes).toBeLessThanOrEqual(baseline + MiB);
      expect(engine.resets).toBe(0);
    });

    test("resetBytes is the budget of the whole pool: each of 2 instances gets half", async () => {
      const engine = await SqlEngine.create({ build, instances: 2, resetBytes: 40 * MiB });
      expect(engine.memoryBytes).toBeLessThan(20 * MiB);
      await failure(engine.execute("mem", source(), [{ sql: bombs[0]?.[1] ?? "" }], LIMITS));
      expect(engine.replacements).toBe(1);
      expect(engine.memoryBytes).toBe(0);
    });

    test("a smaller heap limit is honoured", async () => {
      const engine = await SqlEngine.create({ build, heapLimitBytes: 4 * MiB });
      const sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20000) SELECT count(*) FROM (SELECT DISTINCT x, randomblob(400) FROM c)";
      const e = await failure(engine.execute("mem", source(), [{ sql }], LIMITS));
      expect(e.code).toBe("SQL_MEMORY_LIMIT");
      expect(e.message).toContain("4 MiB");
      const big = await SqlEngine.create({ build });
      expect((await big.execute("mem", source(), [{ sql }], LIMITS)).results[0]?.rows).toEqual([[20000n]]);
    });
  });

  describe(`stack (${build})`, () => {
    let engine: SqlEngine;
    const source = () => new TestPageSource(bytes, 1);

    beforeAll(async () => {
      engine = await SqlEngine.create({ build });
    });

    /** Statements that cost exactly the text guard's limit, one per shape, and a mix of them all. */
    const atLimit: [string, string][] = [
      ["NOT chain", "SELECT " + "NOT ".repeat(MAX_COMPLEXITY - 5) + "1"],
      ["+ chain", "SELECT " + "1+".repeat(MAX_COMPLEXITY - 5) + "1"],
      ["|| chain", "SELECT " + "'a'||".repeat(MAX_COMPLEXITY - 5) + "'a'"],
      ["OR chain", "SELECT " + "1 OR ".repeat(MAX_COMPLEXITY - 5) + "1"],
      ["scalar subqueries", "SELECT " + "(SELECT ".repeat(99) + "1" + ")".repeat(99)],
      ["FROM subqueries", "SELECT * FROM " + "(SELECT * FROM ".repeat(98) + "(SELECT 1)" + ")".repeat(98)],
      ["UNION ALL", Array.from({ length: 100 }, () => "SELECT 1").join(" UNION ALL ")],
      ["CTE chain", "WITH " + Array.from({ length: 198 }, (_, i) => `c${i} AS (SELECT ${i ? `* FROM c${i - 1}` : 1})`).join(",") + " SELECT * FROM c197"],
      ["mixed", "SELECT " + "(SELECT NOT 1 + ".repeat(49) + "(" + "NOT ".repeat(300) + "1 OR 1)" + ")".repeat(49)],
    ];

    test.each(atLimit)("%s at the guard's limit compiles and runs without a reset", async (_name, sql) => {
      expect(complexityCost(sqlShape(sql))).toBeLessThanOrEqual(MAX_COMPLEXITY);
      expect(complexityCost(sqlShape(sql))).toBeGreaterThan(MAX_COMPLEXITY * 0.7);
      expect(sqlTextProblem(sql, DEFAULT_LIMITS, "sql")).toBeNull();
      const resets = engine.resets;
      const { results } = await engine.execute("stack", source(), [{ sql }], LIMITS);
      expect(results[0]?.rows.length).toBeGreaterThan(0);
      expect(engine.resets).toBe(resets);
    });

    test("a BETWEEN chain at the limit fails cleanly: compiling it copies operands, and the heap limit stops that", async () => {
      const sql = "SELECT " + "1 BETWEEN 0 AND ".repeat((MAX_COMPLEXITY - 5) / 2) + "1";
      expect(sqlTextProblem(sql, DEFAULT_LIMITS, "sql")).toBeNull();
      const resets = engine.resets;
      const e = await failure(engine.execute("stack", source(), [{ sql }], LIMITS));
      expect(e.code).toBe("SQL_MEMORY_LIMIT");
      expect(engine.resets).toBe(resets);
      const short = "SELECT " + "1 BETWEEN 0 AND ".repeat(100) + "1";
      expect((await engine.execute("stack", source(), [{ sql: short }], LIMITS)).results[0]?.rows).toEqual([[1n]]);
    });

    test.each([
      ["×15,000 OR", "SELECT " + "1 OR ".repeat(15_000) + "1"],
      ["×15,000 AND", "SELECT " + "1 AND ".repeat(15_000) + "1"],
      ["×5,000 +", "SELECT " + "1+".repeat(5_000) + "1"],
    ])("%s is refused by the text guard; if it reached the engine it would fail with SQL_TOO_COMPLEX, never a retryable reset", async (_name, sql) => {
      expect(sqlTextProblem(sql, DEFAULT_LIMITS, "sql")?.code).toBe("SQL_TOO_COMPLEX");
      const e = await engine.execute("stack", source(), [{ sql }], LIMITS).then(
        () => null,
        (x: unknown) => x,
      );
      // Either it ran (these builds have stack to spare for some shapes) or it failed with a code the service does not retry.
      if (e !== null) expect(e).toMatchObject({ code: "SQL_TOO_COMPLEX" });
      expect((await engine.execute("stack", source(), [{ sql: "SELECT count(*) FROM items" }], LIMITS)).results[0]?.rows).toEqual([[2000n]]);
    });
  });
}
