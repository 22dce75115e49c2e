/**
 * "If a query hits a file that was deleted after its index was taken, the
 * Worker tells the Durable Object, which heals, and the query runs once more
 * on the new index (`meta.retried`)" (docs/consistency.md). Real local R2: the
 * replica holds compactions, the DO's index points into an L1 file, retention
 * deletes that file (its L0 files remain), and a query over HTTP still answers
 * every manifest query correctly.
 */
import { env, exports } from "cloudflare:workers";
import { afterEach, expect, test } from "vitest";
import { syncIndex } from "../support/do-index.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { type DoStub, statusOf } from "../support/durable.ts";
import { seedReplica } from "../support/seed.ts";
import { parseTyped, type Typed } from "../support/typed-json.ts";
import { expectRows, typedManifest, typedQueriesAt } from "../support/typed-rows.ts";

const r2 = new R2Store(env.BUCKET);

const stubs: DoStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

interface BatchReply {
  results: { columns: Typed; rows: Typed }[];
  meta: { txid_hex: string; retried: boolean };
}

async function batch(db: string, statements: { sql: string }[]): Promise<{ status: number; text: string; body: BatchReply }> {
  const res = await exports.default.fetch(`http://localhost/db/${db}/batch`, { method: "POST", body: JSON.stringify({ statements }) });
  const text = await res.text();
  return { status: res.status, text, body: parseTyped(text) as unknown as BatchReply };
}

test("a compacted file deleted under the index: the query heals, is retried once (meta.retried) and answers correctly", async () => {
  const name = `vanished-${Date.now().toString(36)}`;
  const keys = await seedReplica(r2, "small", name);
  const { m, typed } = await typedManifest("small");
  const queries = typedQueriesAt(m, typed, m.final_txid);
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);

  // The DO builds its index now, while every file is there.
  const before = await statusOf(stub, name);
  expect(before.position?.txid).toBe(m.final_txid_int);
  const held = await syncIndex(stub, name, null);
  // The compaction (level 1-8) file the index reads pages from; its TXIDs are also in L0 files that stay.
  const victim = held.index.files.find((f) => f.level >= 1 && f.level <= 8);
  if (!victim) throw new Error(`the index of ${name} references no compacted file: ${held.index.files.map((f) => f.key).join(", ")}`);
  for (let t = victim.minTxid; t <= victim.maxTxid; t++) {
    expect(keys.some((k) => k.includes("/0000/") && k.endsWith(`${t.toString(16).padStart(16, "0")}-${t.toString(16).padStart(16, "0")}.ltx`)), `L0 file of TXID ${t}`).toBe(true);
  }
  let pagesInVictim = 0;
  for (let p = 1; p <= held.index.commit; p++) if (held.index.lookup(p)?.file.key === victim.key) pagesInVictim++;
  expect(pagesInVictim).toBeGreaterThan(0);

  // Retention deletes it for real.
  await r2.delete(victim.key);
  expect(await r2.head(victim.key)).toBeNull();

  // This isolate has no copy of the index yet: it gets the DO's, which still names the deleted file.
  const r = await batch(name, queries.map((q) => ({ sql: q.sql })));
  expect(r.status, r.text.slice(0, 500)).toBe(200);
  expect(r.body.meta.retried).toBe(true);
  expect(r.body.meta.txid_hex).toBe(m.final_txid);
  expect(r.body.results).toHaveLength(queries.length);
  queries.forEach((q, i) => {
    expect(r.body.results[i]?.columns, q.sql).toEqual(q.columns);
    expectRows(r.body.results[i]?.rows, q.rows, q.sql);
  });

  // The DO healed: one rebuild, recorded with its reason; its index no longer names the file.
  const after = await statusOf(stub, name);
  expect(after.rebuilds).toBe(before.rebuilds + 1);
  expect(after.heals.at(-1)?.reason).toBe("files removed by compaction or retention");
  expect(after.position?.txid).toBe(m.final_txid_int);
  expect(after.state).toBe("ok");
  expect((await syncIndex(stub, name, null)).index.files.map((f) => f.key)).not.toContain(victim.key);

  // Healed once: the next query needs no retry.
  const again = await batch(name, queries.map((q) => ({ sql: q.sql })));
  expect(again.status).toBe(200);
  expect(again.body.meta.retried).toBe(false);
  queries.forEach((q, i) => expectRows(again.body.results[i]?.rows, q.rows, q.sql));
});
