/**
 * Every query of every fixture manifest over HTTP, with exact types: at the
 * final TXID (live, one /query per statement) and at every other checked
 * state (time travel with `txid`, one /batch per state).
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest, FixtureState } from "../support/fixtures.ts";
import { fixtureBytes, seedReplica } from "../support/seed.ts";
import { parseTyped, type Typed } from "../support/typed-json.ts";

const r2 = new R2Store(env.BUCKET);

/**
 * Compares typed results. INTEGER, TEXT and NULL must be identical; a REAL
 * must be a REAL within 1e-12 relative: the manifests were computed by SQLite
 * 3.40.1, while wa-sqlite ships 3.5x, whose sum()/total()/avg() use
 * Kahan-Babuska-Neumaier summation (since 3.43), which changes the last digit
 * of some floating-point sums (e.g. 1674.3899999999999 vs 1674.39).
 */
function sameTyped(actual: Typed, expected: Typed): boolean {
  if (expected !== null && typeof expected === "object" && "real" in expected && typeof expected.real === "number") {
    if (actual === null || typeof actual !== "object" || !("real" in actual) || typeof actual.real !== "number") return false;
    const e = expected.real;
    return Math.abs(actual.real - e) <= 1e-12 * Math.max(1, Math.abs(e));
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((x, i) => sameTyped(actual[i] as Typed, x));
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

function expectRows(actual: Typed | undefined, expected: Typed, what: string): void {
  if (!sameTyped(actual ?? null, expected)) expect(actual, what).toEqual(expected);
}

async function typedManifest(name: string): Promise<{ m: FixtureManifest; typed: Typed }> {
  const text = new TextDecoder().decode(await fixtureBytes(`${name}/manifest.json`));
  return { m: JSON.parse(text) as FixtureManifest, typed: parseTyped(text) };
}

function typedQueries(typed: Typed, stateIndex: number): { sql: string; columns: Typed; rows: Typed }[] {
  const states = (typed as { checked_states: { queries: { sql: string; columns: Typed; rows: Typed }[] }[] }).checked_states;
  return states[stateIndex]?.queries ?? [];
}

async function post(path: string, body: unknown): Promise<{ status: number; json: Typed; text: string }> {
  const res = await exports.default.fetch(`http://localhost${path}`, { method: "POST", body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: parseTyped(text), text };
}

const CASES: { fixture: string; dir: string; restorable: (s: FixtureState) => boolean; finalTxid: (m: FixtureManifest) => string }[] = [
  ...["small", "multi-level", "pagesize-1024", "pagesize-65536", "legacy-frame", "mixed-upgrade"].map((f) => ({
    fixture: f,
    dir: f,
    restorable: (s: FixtureState) => s.restorable === true,
    finalTxid: (m: FixtureManifest) => m.final_txid,
  })),
  { fixture: "poll", dir: "poll/before", restorable: (s) => s.restorable_before === true, finalTxid: (m) => m.before_final_txid ?? "" },
  { fixture: "poll", dir: "poll/after", restorable: (s) => s.restorable_after === true, finalTxid: (m) => m.after_final_txid ?? "" },
];

describe.each(CASES)("$dir", ({ fixture, dir, restorable, finalTxid }) => {
  test("every manifest query returns the expected columns and typed rows", async () => {
    const { m, typed } = await typedManifest(fixture);
    const db = `q-${dir.replace("/", "-")}`;
    await seedReplica(r2, dir, db);
    const final = finalTxid(m);
    let checked = 0;
    for (const [i, state] of m.checked_states.entries()) {
      const all = m.all_states.find((s) => s.txid === state.txid);
      if (!all || !restorable(all)) continue;
      const queries = typedQueries(typed, i);
      if (state.txid === final) {
        for (const q of queries) {
          const r = await post(`/db/${db}/query`, { sql: q.sql });
          expect(r.status, `${q.sql}: ${r.text}`).toBe(200);
          const body = r.json as { columns: Typed; rows: Typed; meta: { txid_hex: string } };
          expect(body.columns, q.sql).toEqual(q.columns);
          expectRows(body.rows, q.rows, q.sql);
          expect(body.meta.txid_hex).toBe(final);
          checked++;
        }
      } else {
        const r = await post(`/db/${db}/batch`, { txid: state.txid, statements: queries.map((q) => ({ sql: q.sql })) });
        expect(r.status, r.text.slice(0, 500)).toBe(200);
        const body = r.json as { results: { columns: Typed; rows: Typed }[]; meta: { txid_hex: string; served_from: string } };
        expect(body.meta.txid_hex).toBe(state.txid);
        expect(body.meta.served_from).toBe("time_travel");
        queries.forEach((q, k) => {
          expect(body.results[k]?.columns, `${state.txid} ${q.sql}`).toEqual(q.columns);
          expectRows(body.results[k]?.rows, q.rows, `${state.txid} ${q.sql}`);
          checked++;
        });
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});
