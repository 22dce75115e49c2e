/**
 * Time travel with a relative `timestamp` (`-30s`, `-5m`, `-2h`, `-1d`):
 * counted back from the time the request arrived, over a replica whose three
 * transactions were written 3 h, 30 min and 1 min ago.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { relativeSpanMs, timestampMs } from "../../src/api/time.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import { expectError } from "../support/http.ts";
import { FixtureDb, asWalPrimary } from "../support/sqlite-db.ts";

const DB = uniqueName("strict-relative");
const e = envWith({ ALLOW_UNAUTHENTICATED: "true" });
const MIN = 60_000;

/** How long ago each TXID was written; wide gaps, so the time a request takes never matters. */
const AGES = [180 * MIN, 30 * MIN, 1 * MIN];

beforeAll(async () => {
  const db = await FixtureDb.create(4096);
  await db.exec("CREATE TABLE t(v INTEGER)");
  const now = Date.now();
  for (const [i, age] of AGES.entries()) {
    const txid = i + 1;
    await db.exec(`DELETE FROM t; INSERT INTO t VALUES (${txid})`);
    const bytes = asWalPrimary(db.bytes());
    const pages = bytes.length / 4096;
    // Each file carries every page: a self-contained state, stamped with the time it was "written".
    const w = new LtxWriter({ pageSize: 4096, commit: pages, minTxid: txid, maxTxid: txid, timestamp: now - age });
    for (let p = 1; p <= pages; p++) w.addPage(p, bytes.subarray((p - 1) * 4096, p * 4096));
    await env.BUCKET.put(`${DB}/0000/${formatLtxFilename(txid, txid)}`, w.finish());
  }
  await db.close();
});

afterAll(async () => {
  await env.DB_INDEX.getByName(DB).stop();
});

async function valueAt(timestamp: string | number): Promise<{ v: number; txid: number; servedFrom: string }> {
  const r = await queryVia(e, DB, { sql: "SELECT v FROM t", timestamp });
  expect(r.status, r.text).toBe(200);
  const body = JSON.parse(r.text) as { rows: number[][]; meta: { txid: number; served_from: string } };
  return { v: body.rows[0]?.[0] ?? -1, txid: body.meta.txid, servedFrom: body.meta.served_from };
}

describe("relative timestamps", () => {
  test("parse: s, m, h, d, ms, fractions and compounds; only backwards", () => {
    expect(relativeSpanMs("-30s")).toBe(30_000);
    expect(relativeSpanMs("-5m")).toBe(5 * MIN);
    expect(relativeSpanMs("-2h")).toBe(120 * MIN);
    expect(relativeSpanMs("-1d")).toBe(24 * 60 * MIN);
    expect(relativeSpanMs("-250ms")).toBe(250);
    expect(relativeSpanMs("-1.5h")).toBe(90 * MIN);
    expect(relativeSpanMs("-1h30m")).toBe(90 * MIN);
    expect(relativeSpanMs(" -5m ")).toBe(5 * MIN);
    for (const bad of ["5m", "+5m", "-5", "-m", "-5 m", "-5M", "-5min", "-1w", "--5m", "-"]) expect(relativeSpanMs(bad), bad).toBeNull();
    expect(timestampMs("-5m", 1_000_000_000_000)).toBe(1_000_000_000_000 - 5 * MIN);
    expect(timestampMs("2026-01-02T03:04:05Z", 0)).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(timestampMs(12345, 0)).toBe(12345);
  });

  test.each([
    ["-2h", 1],
    ["-90m", 1],
    ["-10m", 2],
    ["-1800s", 2], // 30 min before the request, which arrives after TXID 2 was stamped "30 min ago": just after it
    ["-30s", 3],
    ["-0s", 3],
  ] as const)("%s reads the state of TXID %i", async (timestamp, txid) => {
    const r = await valueAt(timestamp);
    expect(r).toEqual({ v: txid, txid, servedFrom: "time_travel" });
  });

  test("the same instants in RFC 3339 read the same states", async () => {
    expect((await valueAt(new Date(Date.now() - 10 * MIN).toISOString())).txid).toBe(2);
    expect((await valueAt(new Date(Date.now() - 2 * 60 * MIN).toISOString())).txid).toBe(1);
  });

  test("before the first transaction → 410 PLAN_TIME_NOT_AVAILABLE naming the instant it resolved to", async () => {
    const before = Date.now() - 24 * 60 * MIN;
    const r = await queryVia(e, DB, { sql: "SELECT v FROM t", timestamp: "-1d" });
    const message = expectError(r, 410, "PLAN_TIME_NOT_AVAILABLE");
    const shown = /(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(message)?.[1];
    expect(shown, message).toBeDefined();
    const at = Date.parse(shown ?? "");
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() - 24 * 60 * MIN + 1000);
  });

  test("a duration without its minus, or an unknown unit → 400 INVALID_TIMESTAMP", async () => {
    for (const timestamp of ["5m", "-5 minutes", "-1w"]) {
      expectError(await queryVia(e, DB, { sql: "SELECT 1", timestamp }), 400, "INVALID_TIMESTAMP", /relative to now such as -30s, -5m, -2h or -1d/);
    }
  });
});
