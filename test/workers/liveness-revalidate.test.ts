/**
 * Stale-while-revalidate: once an isolate's copy of the index is older than
 * `max_staleness_ms`, a query is still answered at once from it while a
 * refresh runs in the background; the next query reads the new position.
 * `min_txid` and a request's own `max_staleness_ms` are what block.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterAll, beforeAll, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { advancePoll, manifest, seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const DB = uniqueName("swr");
const COUNT = "SELECT count(*) FROM users";
let m: FixtureManifest;

interface Body {
  rows: unknown[][];
  meta: { txid_hex: string; staleness_ms: number | null };
}

const body = (text: string): Body => JSON.parse(text) as Body;

function expectedRows(txid: string): unknown[][] {
  const q = m.checked_states.find((s) => s.txid === txid)?.queries?.find((x) => x.sql === COUNT);
  if (!q) throw new Error(`no expected result for ${COUNT} at ${txid}`);
  return q.rows;
}

beforeAll(async () => {
  m = await manifest("poll");
  await seedReplica(r2, "poll/before", DB);
});

afterAll(async () => {
  await env.DB_INDEX.getByName(DB).stop();
});

test("a stale copy answers at once and is refreshed in the background", async () => {
  const before = m.before_final_txid ?? "";
  const after = m.after_final_txid ?? "";
  const e = envWith({ LIMITS: { max_staleness_ms: 0 } });
  const r1 = await queryVia(e, DB, { sql: COUNT });
  expect(r1.status, r1.text).toBe(200);
  expect(body(r1.text).meta.txid_hex).toBe(before);

  await advancePoll(r2, DB);
  const stub = env.DB_INDEX.getByName(DB);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  const status = await stub.status(DB);
  if (!status.ok) throw new Error(status.error.message);
  expect(status.value.position?.txid).toBe(Number.parseInt(after, 16));

  // The DO is ahead; this isolate still holds `before`, which it serves without waiting…
  const r2nd = await queryVia(e, DB, { sql: COUNT });
  expect(body(r2nd.text).meta.txid_hex).toBe(before);
  expect(body(r2nd.text).rows).toEqual(expectedRows(before));
  // …while the refresh it started brings the next query to `after`.
  const r3 = await queryVia(e, DB, { sql: COUNT });
  expect(body(r3.text).meta.txid_hex).toBe(after);
  expect(body(r3.text).rows).toEqual(expectedRows(after));
});

test("a request's own max_staleness_ms blocks for a confirmed position", async () => {
  const e = envWith({ LIMITS: { max_staleness_ms: 3_600_000 } });
  const r = await queryVia(e, DB, { sql: COUNT, max_staleness_ms: 60_000 });
  expect(r.status, r.text).toBe(200);
  const staleness = body(r.text).meta.staleness_ms;
  expect(staleness).not.toBeNull();
  expect(staleness as number).toBeLessThanOrEqual(60_000);
});
