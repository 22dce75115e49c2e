/**
 * `ltx-edge query`: manifest queries of the fixtures through the Worker's
 * engine under Node (restore plan → page index → IndexPageSource →
 * SqlEngine with the Node wasm provider), compared with exact SQLite types
 * via `--json`; storage economy; errors; the real bin once.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import type { FixtureManifest, FixtureQuery } from "../support/fixtures.ts";

const REPO = join(import.meta.dirname, "..", "..");
const BIN = join(REPO, "bin", "ltx-edge.mjs");
const FIX = join(REPO, "test", "fixtures");
const FREEZE_CLOCK = pathToFileURL(join(REPO, "test", "support", "freeze-clock.mjs")).href;

/** JSON with SQLite types kept: INTEGER literals become {int}, REAL literals (with . or e) {real} (Node 20's JSON.parse has no source access). */
type Typed = null | boolean | string | { int: string } | { real: number } | Typed[] | { [k: string]: Typed };
function parseTyped(text: string): Typed {
  const tagged = text.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (tok) => {
    if (tok.startsWith('"')) return tok;
    return /[.eE]/.test(tok) ? `{"real":${tok}}` : `{"int":"${BigInt(tok).toString()}"}`;
  });
  return JSON.parse(tagged) as Typed;
}

/** INTEGER, TEXT, NULL identical; REAL within 1e-12 relative (manifests come from SQLite 3.40, whose sums differ in the last digit). */
function sameTyped(actual: Typed, expected: Typed): boolean {
  if (expected !== null && typeof expected === "object" && "real" in expected && typeof expected.real === "number") {
    if (actual === null || typeof actual !== "object" || !("real" in actual) || typeof actual.real !== "number") return false;
    return Math.abs(actual.real - expected.real) <= 1e-12 * Math.max(1, Math.abs(expected.real));
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((x, i) => sameTyped(actual[i] as Typed, x));
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real bin as a child process, with extra Node flags. */
function runBin(nodeFlags: string[], argv: string[]): Promise<Run> {
  return new Promise<Run>((resolve) => {
    execFile(process.execPath, [...nodeFlags, BIN, ...argv], { cwd: REPO }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function run(...argv: string[]): Promise<Run> {
  const io = bufferIo();
  const code = await main(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

interface JsonOut {
  columns: string[];
  rows: unknown[][];
  meta: { txid: number; txid_hex: string; pages_read: number; storage_requests: number; bytes_fetched: number };
}

async function queryJson(replica: string, sql: string, ...flags: string[]): Promise<{ out: JsonOut; typed: Typed }> {
  const r = await run("query", replica, sql, "--json", ...flags);
  expect(r.code, `${sql}: ${r.stderr}`).toBe(0);
  return { out: JSON.parse(r.stdout) as JsonOut, typed: parseTyped(r.stdout) };
}

function typedManifest(fixture: string): { m: FixtureManifest; typed: Typed } {
  const text = readFileSync(join(FIX, fixture, "manifest.json"), "utf8");
  return { m: JSON.parse(text) as FixtureManifest, typed: parseTyped(text) };
}

const CASES: { fixture: string; dir: string; txid: (m: FixtureManifest) => string; flag: boolean }[] = [
  { fixture: "small", dir: "small", txid: (m) => m.final_txid, flag: false },
  { fixture: "legacy-frame", dir: "legacy-frame", txid: (m) => m.final_txid, flag: false },
  { fixture: "poll", dir: "poll/after", txid: (m) => m.after_final_txid ?? "", flag: false },
  // Time travel: an earlier restorable state, selected with --txid.
  {
    fixture: "multi-level",
    dir: "multi-level",
    txid: (m) => m.checked_states.filter((s) => s.txid !== m.final_txid && m.all_states.some((a) => a.txid === s.txid && a.restorable === true)).at(-1)?.txid ?? "",
    flag: true,
  },
];

describe.each(CASES)("query $dir", ({ fixture, dir, txid, flag }) => {
  test("every manifest query returns the manifest's columns and typed rows", async () => {
    const { m, typed } = typedManifest(fixture);
    const want = txid(m);
    expect(want).toMatch(/^[0-9a-f]{16}$/);
    const i = m.checked_states.findIndex((s) => s.txid === want);
    const queries = (m.checked_states[i]?.queries ?? []) as FixtureQuery[];
    const typedQueries = (typed as { checked_states: { queries: { rows: Typed }[] }[] }).checked_states[i]?.queries ?? [];
    expect(queries.length).toBeGreaterThan(5);
    for (const [k, q] of queries.entries()) {
      const { out, typed: got } = await queryJson(join(FIX, dir), q.sql, ...(flag ? ["--txid", want] : []));
      expect(out.columns, q.sql).toEqual(q.columns);
      const rows = (got as { rows: Typed }).rows;
      const expected = typedQueries[k]?.rows ?? null;
      if (!sameTyped(rows, expected)) expect(rows, q.sql).toEqual(expected);
      expect(out.meta.txid_hex).toBe(want);
    }
  });
});

describe("query", () => {
  test("a full scan reads many pages with few range requests", async () => {
    const { out } = await queryJson(join(FIX, "multi-level"), "SELECT count(*), sum(length(body)) FROM posts");
    expect(out.meta.pages_read).toBeGreaterThan(100);
    expect(out.meta.storage_requests).toBeGreaterThan(0);
    expect(out.meta.storage_requests * 10).toBeLessThan(out.meta.pages_read);
    expect(out.meta.bytes_fetched).toBeGreaterThan(0);
  });

  test("--params binds like the HTTP API; BLOBs are base64 in --json", async () => {
    const { out } = await queryJson(join(FIX, "small"), "SELECT ?1 + 1, :s, typeof(?3), hex(?4)", "--params", '{"1": 41, "s": "x", "3": {"real": 2}, "4": {"base64": "AP8="}}');
    expect(out.rows).toEqual([[42, "x", "real", "00FF"]]);
    const blob = await queryJson(join(FIX, "small"), "SELECT x'00ff'");
    expect(blob.out.rows).toEqual([[{ base64: "AP8=" }]]);
  });

  test("the table shows headers, NULL, REALs with a point and truncated blobs", async () => {
    const r = await run("query", join(FIX, "small"), "SELECT 1 AS a, NULL AS b, 2.0 AS c, zeroblob(40) AS d, x'0102' AS e, 'x\ny' AS f");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^a \| b +\| c +\| d +\| e +\| f$/);
    expect(lines[2]).toContain("NULL");
    expect(lines[2]).toContain("2.0");
    expect(lines[2]).toContain(`x'${"00".repeat(16)}…' (40 bytes)`);
    expect(lines[2]).toContain("x'0102'");
    expect(lines[2]).toContain("x\\ny");
    expect(lines.at(-1)).toBe("(1 row)");
    expect(r.stderr).toMatch(/^TXID 0000000000000015 .*pages read/);
  });

  test("writes are refused with SQL_READONLY", async () => {
    for (const sql of ["DELETE FROM users", "CREATE TABLE t(x)", "PRAGMA user_version = 3"]) {
      const r = await run("query", join(FIX, "small"), sql);
      expect(r.code, sql).toBe(1);
      expect(r.stderr, sql).toMatch(/^ltx-edge: error: SQL_READONLY: /);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
  });

  test("errors are one line with a stable code", async () => {
    const cases: [string[], RegExp][] = [
      [["query", join(FIX, "does-not-exist"), "SELECT 1"], /CLI_NOT_FOUND: replica directory .*does-not-exist does not exist/],
      [["query", "ftp://x/y", "SELECT 1"], /CLI_BAD_ARGS: unsupported replica URL scheme/],
      [["query", join(FIX, "small"), "SELEC 1"], /SQL_SYNTAX/],
      [["query", join(FIX, "small"), "SELECT * FROM nope"], /SQL_ERROR: no such table: nope/],
      [["query", join(FIX, "small"), "SELECT 1", "--params", "[1,"], /CLI_BAD_ARGS: --params is not valid JSON/],
      [["query", join(FIX, "small"), "SELECT ?", "--params", '[{"x":1}]'], /SQL_BAD_PARAMS: --params\[0\]/],
      [["query", join(FIX, "small"), "SELECT 1", "--txid", "2", "--timestamp", "2026-01-01T00:00:00Z"], /not both/],
      [["query", join(FIX, "multi-level"), "SELECT 1", "--txid", "2"], /PLAN_TXID_NOT_AVAILABLE/],
      [["query", join(FIX, "small"), "SELECT id FROM users", "--max-rows", "10"], /SQL_TOO_MANY_ROWS/],
      [["query", join(FIX, "small"), "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", "--timeout", "200"], /SQL_TIMEOUT/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.stderr, argv.join(" ")).toMatch(re);
      expect(r.stderr).not.toMatch(/internal error/);
      expect(r.stdout).toBe("");
    }
  });

  test("--timestamp selects the newest state at or before the time", async () => {
    const { out } = await queryJson(join(FIX, "small"), "SELECT count(*) FROM users", "--timestamp", "2100-01-01T00:00:00Z");
    expect(out.meta.txid_hex).toBe("0000000000000015");
  });

  test("help lists the command", async () => {
    expect((await run("--help")).stdout).toMatch(/\n {2}query +run read-only SQL/);
    const h = await run("query", "--help");
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: ltx-edge query <replica> <sql> \[flags\]/);
    expect(h.stdout).toContain("--max-rows N");
  });

  test("--params: 1.0, -0.0, 1e2 and 2.5E-3 bind as REAL, 1 and -0 as INTEGER, big integers exactly", async () => {
    const { typed } = await queryJson(
      join(FIX, "small"),
      "SELECT typeof(?1), typeof(?2), typeof(?3), typeof(?4), typeof(?5), typeof(?6), ?7, ?3 / 8, ?5 / 2",
      "--params",
      "[1.0, -0.0, 1e2, 2.5E-3, 1, -0, 9223372036854775807]",
    );
    expect((typed as { rows: Typed }).rows).toEqual([
      ["real", "real", "real", "real", "integer", "integer", { int: "9223372036854775807" }, { real: 12.5 }, { int: "0" }],
    ]);
  });

  test("with the clock frozen (as Workers run CPU work), an endless CTE stops on its VM-step budget with SQL_CPU_LIMIT", async () => {
    const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    const explicit = await runBin(["--import", FREEZE_CLOCK], ["query", join(FIX, "small"), endless, "--max-vm-steps", "3000000"]);
    expect(explicit.code, explicit.stderr).toBe(1);
    expect(explicit.stderr).toMatch(/^ltx-edge: error: SQL_CPU_LIMIT: query exceeded its CPU budget of 3000000 SQLite VM steps/);
    expect(explicit.stdout).toBe("");
    // Derived from --timeout: the clock never moves, the step budget still ends it.
    const derived = await runBin(["--import", FREEZE_CLOCK], ["query", join(FIX, "small"), endless, "--timeout", "50", "--json"]);
    expect(derived.code, derived.stderr).toBe(1);
    expect(derived.stderr).toMatch(/SQL_CPU_LIMIT: query exceeded its CPU budget of \d+ SQLite VM steps/);
  });

  test("the SQL text guard applies: a 15,000-term OR is SQL_TOO_COMPLEX before SQLite sees it", async () => {
    const r = await run("query", join(FIX, "small"), "SELECT " + "1 OR ".repeat(15_000) + "1");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ltx-edge: error: CLI_BAD_ARGS: SQL_TOO_COMPLEX: /);
  });

  test("the real bin runs a query", async () => {
    const r = await runBin([], ["query", join(FIX, "small"), "SELECT count(*) AS n FROM users", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as JsonOut;
    expect(out.columns).toEqual(["n"]);
    expect(out.meta.txid).toBe(21);
    expect(r.stderr).toBe("");
  });
});
