/**
 * Consistency over HTTP with the poll fixture: reads at `before`, a replica
 * update, read-your-writes with `min_txid`, and a batch that keeps its snapshot
 * while the replica moves underneath it.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { advancePoll, manifest, seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);

interface QueryBody {
  rows: unknown[][];
  meta: { txid_hex: string; served_from: string; retried: boolean };
  results?: { rows: unknown[][] }[];
}

async function post(path: string, body: unknown): Promise<{ status: number; body: QueryBody }> {
  const res = await exports.default.fetch(`http://localhost${path}`, { method: "POST", body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as QueryBody };
}

function expectedRows(m: FixtureManifest, txid: string, sql: string): unknown[][] {
  const q = m.checked_states.find((s) => s.txid === txid)?.queries?.find((x) => x.sql === sql);
  if (!q) throw new Error(`no expected result for ${sql} at ${txid}`);
  return q.rows;
}

const COUNT = "SELECT count(*) FROM users";
const POSTS = "SELECT count(*), sum(length(body)), max(id) FROM posts";

describe("poll fixture over HTTP", () => {
  test("min_txid waits for the update and returns the new data", async () => {
    const m = await manifest("poll");
    const before = m.before_final_txid ?? "";
    const after = m.after_final_txid ?? "";
    await seedReplica(r2, "poll/before", "ryw");
    const r1 = await post("/db/ryw/query", { sql: COUNT });
    expect(r1.status).toBe(200);
    expect(r1.body.meta.txid_hex).toBe(before);
    expect(r1.body.rows).toEqual(expectedRows(m, before, COUNT));

    await advancePoll(r2, "ryw");
    // Without a bookmark the isolate may still answer from `before` (staleness ≤ max_staleness).
    const r2nd = await post("/db/ryw/query", { sql: COUNT, min_txid: after });
    expect(r2nd.status).toBe(200);
    expect(r2nd.body.meta.txid_hex).toBe(after);
    expect(r2nd.body.rows).toEqual(expectedRows(m, after, COUNT));
    // The bookmark is accepted in every TXID notation.
    for (const t of [Number.parseInt(after, 16), `0x${Number.parseInt(after, 16).toString(16)}`, String(Number.parseInt(after, 16))]) {
      expect((await post("/db/ryw/query", { sql: COUNT, min_txid: t })).body.meta.txid_hex).toBe(after);
    }
  });

  test("a batch that started before the update answers entirely from its snapshot", async () => {
    const m = await manifest("poll");
    const before = m.before_final_txid ?? "";
    const after = m.after_final_txid ?? "";
    await seedReplica(r2, "poll/before", "batchiso2");
    // Warm the index and pages at `before`.
    await post("/db/batchiso2/query", { sql: POSTS });
    const slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000) SELECT count(*) FROM c";
    const batch = post("/db/batchiso2/batch", { statements: [{ sql: POSTS }, { sql: slow }, { sql: POSTS }, { sql: COUNT }] });
    // While it runs: the replica moves on and another request reads the new state.
    await advancePoll(r2, "batchiso2");
    const fresh = await post("/db/batchiso2/query", { sql: POSTS, min_txid: after });
    const old = await batch;
    expect(old.status).toBe(200);
    const txid = old.body.meta.txid_hex;
    // One snapshot for the whole batch: every statement matches the state the batch reports.
    expect(old.body.results?.[0]?.rows).toEqual(expectedRows(m, txid, POSTS));
    expect(old.body.results?.[2]?.rows).toEqual(expectedRows(m, txid, POSTS));
    expect(old.body.results?.[3]?.rows).toEqual(expectedRows(m, txid, COUNT));
    expect(txid).toBe(before);
    expect(fresh.body.meta.txid_hex).toBe(after);
    expect(fresh.body.rows).toEqual(expectedRows(m, after, POSTS));
  });
});
