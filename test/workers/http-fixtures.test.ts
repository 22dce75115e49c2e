/**
 * Every query of every fixture manifest over HTTP, with exact types: at the
 * final TXID (live, one /query per statement) and at every other checked
 * state (time travel with `txid`, one /batch per state).
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest, FixtureState } from "../support/fixtures.ts";
import { seedReplica } from "../support/seed.ts";
import { parseTyped, type Typed } from "../support/typed-json.ts";
import { expectRows, typedManifest, typedQueries } from "../support/typed-rows.ts";

const r2 = new R2Store(env.BUCKET);

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
    // Which states this replica can serve, from the manifest alone; the final state is always one.
    const servable = m.checked_states.flatMap((state, i) => {
      const all = m.all_states.find((s) => s.txid === state.txid);
      return all && restorable(all) ? [{ state, i }] : [];
    });
    expect(servable.map((x) => x.state.txid)).toContain(final);
    const expectedChecks = servable.reduce((n, { i }) => n + typedQueries(typed, i).length, 0);
    let checked = 0;
    for (const { state, i } of servable) {
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
        expect(body.results).toHaveLength(queries.length);
        queries.forEach((q, k) => {
          expect(body.results[k]?.columns, `${state.txid} ${q.sql}`).toEqual(q.columns);
          expectRows(body.results[k]?.rows, q.rows, `${state.txid} ${q.sql}`);
          checked++;
        });
      }
    }
    // Every query of every servable state was compared (no state or query was skipped).
    expect(checked).toBe(expectedChecks);
  });
});
