/**
 * @module
 * JSON numbers bind as the docs say (docs/http-api.md): a number written with
 * a `.` or an exponent binds as REAL, an integer literal as INTEGER (exactly,
 * beyond 2^53 too), through the JSON API's request parsing and Hrana's value
 * decoding alike — inside workerd, whose JSON.parse exposes the source text.
 * Also: a request's `max_vm_steps` lowers the step budget in force.
 */

import { beforeAll, describe, expect, test } from "vitest";
import { paramFromHrana } from "../../src/hrana/values.ts";
import { DEFAULT_LIMITS } from "../../src/api/limits.ts";
import { parseJsonText, parseQueryRequest, readJsonBody } from "../../src/api/query-request.ts";
import { SqlEngine, type ExecLimits, type StatementInput } from "../../src/sql/engine.ts";
import { vmStepBudget } from "../../src/sql/vm-budget.ts";
import { buildStandardDb, TestPageSource } from "../support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 1000, maxResultBytes: 1_000_000, timeoutMs: 10_000 };
const TYPES = "SELECT typeof(?1), typeof(?2), typeof(?3), typeof(?4), typeof(?5), typeof(?6), ?7, ?3 / 8, ?5 / 2";

let engine: SqlEngine;
let source: TestPageSource;

beforeAll(async () => {
  const db = await buildStandardDb(4096, 10);
  source = new TestPageSource(db.bytes(), 1);
  await db.close();
  engine = await SqlEngine.create();
});

const rows = async (statement: StatementInput) => (await engine.execute("params", source, [statement], LIMITS)).results[0]?.rows;

describe("JSON API parameters", () => {
  test("1.0, -0.0, 1e2, 2.5E-3 bind as REAL; 1 and -0 as INTEGER; 2^63-1 exactly", async () => {
    const body = parseJsonText(`{"sql": "${TYPES}", "params": [1.0, -0.0, 1e2, 2.5E-3, 1, -0, 9223372036854775807]}`);
    const req = parseQueryRequest(body, "query", DEFAULT_LIMITS);
    expect(await rows(req.statements[0] as StatementInput)).toEqual([
      ["real", "real", "real", "real", "integer", "integer", 9223372036854775807n, 12.5, 0n],
    ]);
  });

  test("named parameters and batches too; other numeric fields stay plain numbers", async () => {
    const req = await new Request("http://x/", {
      method: "POST",
      body: `{"statements": [{"sql": "SELECT typeof(:a), typeof(:b), :a / 2", "params": {"a": 7.0, "b": 7}}], "max_staleness_ms": 1000.0, "limits": {"max_rows": 5.0}}`,
    });
    const parsed = parseQueryRequest(await readJsonBody(req, 10_000), "batch", DEFAULT_LIMITS);
    expect(parsed.limits.maxRows).toBe(5);
    expect(parsed.target).toMatchObject({ kind: "live", maxStalenessMs: 1000 });
    expect(await rows(parsed.statements[0] as StatementInput)).toEqual([["real", "integer", 3.5]]);
  });

  test('{"real": 7} and {"integer": "…"} still force a type', async () => {
    const req = parseQueryRequest(parseJsonText(`{"sql": "SELECT typeof(?), typeof(?)", "params": [{"real": 7}, {"integer": "7"}]}`), "query", DEFAULT_LIMITS);
    expect(await rows(req.statements[0] as StatementInput)).toEqual([["real", "integer"]]);
  });
});

describe("Hrana values agree", () => {
  test("a float binds as REAL even when integral; an integer as INTEGER", async () => {
    const args = parseJsonText(`[{"type": "float", "value": 1.0}, {"type": "float", "value": 1}, {"type": "integer", "value": "1"}, {"type": "float", "value": -0.0}]`) as unknown[];
    const params = args.map((a, i) => paramFromHrana(a, `args[${i}]`));
    expect(await rows({ sql: "SELECT typeof(?), typeof(?), typeof(?), typeof(?)", params })).toEqual([["real", "real", "integer", "real"]]);
  });
});

describe("limits.max_vm_steps", () => {
  test("lowers the budget in force (derived from the time limit when LIMITS says 0), never raises it", () => {
    const derived = vmStepBudget({ timeoutMs: DEFAULT_LIMITS.queryTimeoutMs });
    const lower = parseQueryRequest({ sql: "SELECT 1", limits: { max_vm_steps: 5000 } }, "query", DEFAULT_LIMITS);
    expect(lower.limits.maxVmSteps).toBe(5000);
    const higher = parseQueryRequest({ sql: "SELECT 1", limits: { max_vm_steps: derived * 10 } }, "query", DEFAULT_LIMITS);
    expect(higher.limits.maxVmSteps).toBe(derived);
    const configured = parseQueryRequest({ sql: "SELECT 1", limits: { max_vm_steps: 9e9 } }, "query", { ...DEFAULT_LIMITS, maxVmSteps: 1e6 });
    expect(configured.limits.maxVmSteps).toBe(1e6);
    const untouched = parseQueryRequest({ sql: "SELECT 1" }, "query", DEFAULT_LIMITS);
    expect(untouched.limits.maxVmSteps).toBe(0);
  });
});
