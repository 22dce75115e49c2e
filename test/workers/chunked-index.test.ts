/**
 * The chunked page index end to end, on a real SQLite database of more
 * pages than several chunks hold (512-byte pages, ~11,000 pages: 3 chunks of
 * 4096): it restores page for page through roots and chunks; a query that
 * crosses chunks while the replica moves underneath it reads one version;
 * an index cache far smaller than the index never changes an answer; and a
 * compacted file spanning every chunk is re-pointed to without a rebuild.
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FULL_LIST_EVERY } from "../../src/durable/follower.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { CHUNK_PAGES, chunkCount } from "../../src/page-index/chunk.ts";
import { testHooks } from "../../src/query/service.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import { syncIndex } from "../support/do-index.ts";
import { statusOf } from "../support/durable.ts";
import { withFaults } from "../support/fault-store.ts";
import { readDatabase, sha256Hex } from "../support/seed.ts";
import { FixtureDb, buildStandardDb } from "../support/sqlite-db.ts";

const PAGE = 512;
const r2 = new R2Store(env.BUCKET);
const DB = uniqueName("chunked");
const SCAN = "SELECT count(*), sum(CAST(price * 2 AS INTEGER)), min(name), max(id), sum(length(payload)) FROM items";
const POINTS = "SELECT id, name, CAST(price * 2 AS INTEGER) FROM items WHERE id IN (1, 7777, 19999) ORDER BY id";

let fixture: FixtureDb;
/** Database file bytes at TXID 1, 2, 3. */
const states: Uint8Array[] = [];
/** Expected answers at each state. */
const answers: { scan: unknown[][]; points: unknown[][] }[] = [];

const pageOf = (b: Uint8Array, p: number) => b.subarray((p - 1) * PAGE, p * PAGE);

/** An LTX file of the pages of `next` that differ from `prev` (all of them when `prev` is null). */
function ltxBetween(prev: Uint8Array | null, next: Uint8Array, minTxid: number, maxTxid: number): Uint8Array {
  const commit = next.length / PAGE;
  const w = new LtxWriter({ pageSize: PAGE, commit, minTxid, maxTxid, timestamp: 1_700_000_000_000 + maxTxid });
  for (let p = 1; p <= commit; p++) {
    const a = prev && p <= prev.length / PAGE ? pageOf(prev, p) : null;
    const b = pageOf(next, p);
    if (!a || a.some((x, i) => x !== b[i])) w.addPage(p, b);
  }
  return w.finish();
}

const key = (level: number, min: number, max: number) => `${DB}/${level.toString(16).padStart(4, "0")}/${formatLtxFilename(min, max)}`;

async function state(): Promise<{ scan: unknown[][]; points: unknown[][] }> {
  return { scan: await fixture.query(SCAN), points: await fixture.query(POINTS) };
}

function rows(text: string): unknown[][] {
  return (JSON.parse(text) as { rows: unknown[][] }).rows;
}

beforeAll(async () => {
  fixture = await buildStandardDb(PAGE, 20_000);
  states.push(fixture.bytes());
  answers.push(await state());
  // TXID 2 and 3 touch rows in every chunk of the file.
  await fixture.exec("UPDATE items SET price = price + 1000 WHERE id % 997 = 0");
  states.push(fixture.bytes());
  answers.push(await state());
  await fixture.exec("UPDATE items SET name = name || '!' WHERE id % 1999 = 1");
  states.push(fixture.bytes());
  answers.push(await state());
  expect(chunkCount((states[0] as Uint8Array).length / PAGE)).toBeGreaterThanOrEqual(3);
  await r2.put(key(9, 1, 1), ltxBetween(null, states[0] as Uint8Array, 1, 1));
});

afterAll(async () => {
  testHooks.wrapStore = null;
  await env.DB_INDEX.getByName(DB).stop();
  await fixture.close();
});

describe("a database of several chunks", () => {
  test("restores page for page to its bytes through the root and its chunks", async () => {
    const stub = env.DB_INDEX.getByName(DB);
    const h = await syncIndex(stub, DB, null);
    expect(h.index.commit).toBe((states[0] as Uint8Array).length / PAGE);
    expect(h.held.root.chunks.length).toBe(16 * chunkCount(h.index.commit));
    expect(h.index.chunks.length).toBeGreaterThanOrEqual(3);
    expect(await sha256Hex(await readDatabase(r2, h.index))).toBe(await sha256Hex(states[0] as Uint8Array));
  });

  test("a scan across chunks reads one version while the replica advances under it", async () => {
    const stub = env.DB_INDEX.getByName(DB);
    const e = envWith({ LIMITS: { max_staleness_ms: 0 } });
    // Warm the isolate's root (so the next query uses it and only refreshes in the background).
    expect(rows((await queryVia(e, DB, { sql: "SELECT 1" })).text)).toEqual([[1]]);
    // The first storage read of the scan moves the replica on, and the DO with it.
    let moved = false;
    testHooks.wrapStore = (s: ObjectStore) =>
      withFaults(s, {
        getRange: async (k, o, l) => {
          if (!moved) {
            moved = true;
            await r2.put(key(0, 2, 2), ltxBetween(states[0] as Uint8Array, states[1] as Uint8Array, 2, 2));
            await runDurableObjectAlarm(stub);
          }
          return s.getRange(k, o, l);
        },
      });
    try {
      const during = await queryVia(e, DB, { sql: SCAN });
      expect(moved).toBe(true);
      expect((JSON.parse(during.text) as { meta: { txid: number } }).meta.txid).toBe(1);
      expect(rows(during.text)).toEqual(answers[0]?.scan);
    } finally {
      testHooks.wrapStore = null;
    }
    expect((await statusOf(stub, DB)).position?.txid).toBe(2);
    // A query that asks for TXID 2 (a bookmark) reads it, whole.
    const after = await queryVia(e, DB, { sql: SCAN, min_txid: 2 });
    expect((JSON.parse(after.text) as { meta: { txid: number } }).meta.txid).toBe(2);
    expect(rows(after.text)).toEqual(answers[1]?.scan);
    expect(rows((await queryVia(e, DB, { sql: POINTS, min_txid: 2 })).text)).toEqual(answers[1]?.points);
  });

  test("an index cache smaller than one chunk never changes an answer", async () => {
    const e = envWith({ LIMITS: { index_cache_bytes: 1024 } });
    for (const sql of [SCAN, POINTS, SCAN]) {
      const r = await queryVia(e, DB, { sql });
      expect(r.status, r.text).toBe(200);
      const body = JSON.parse(r.text) as { rows: unknown[][]; meta: { index_requests: number; index_cache_hits: number } };
      expect(body.rows).toEqual(sql === SCAN ? answers[1]?.scan : answers[1]?.points);
      // Nothing stays in the isolate: every chunk a query touches is loaded again (from the Cache API or the DO).
      expect(body.meta.index_requests + body.meta.index_cache_hits).toBeGreaterThan(0);
    }
  });

  test("a compacted file spanning every chunk is re-pointed to without a rebuild, and the originals can go", async () => {
    const stub = env.DB_INDEX.getByName(DB);
    await r2.put(key(0, 3, 3), ltxBetween(states[1] as Uint8Array, states[2] as Uint8Array, 3, 3));
    await runDurableObjectAlarm(stub);
    expect((await statusOf(stub, DB)).position?.txid).toBe(3);
    const rebuilds = (await statusOf(stub, DB)).rebuilds;
    // Litestream compacts L0 2–3 into L1 2–3; the next full listing re-points pages to it.
    await r2.put(key(1, 2, 3), ltxBetween(states[0] as Uint8Array, states[2] as Uint8Array, 2, 3));
    for (let i = 0; i < FULL_LIST_EVERY; i++) await runDurableObjectAlarm(stub);
    const h = await syncIndex(stub, DB, null);
    const l1 = h.index.files.filter((f) => f.level === 1);
    expect(l1.map((f) => f.key)).toEqual([key(1, 2, 3)]);
    expect(h.index.files.some((f) => f.level === 0)).toBe(false);
    // Pages of every chunk moved: the L1 file is the newest copy of pages in each of them.
    const chunksWithL1 = new Set<number>();
    for (let p = 1; p <= h.index.commit; p++) if (h.index.lookup(p)?.file.level === 1) chunksWithL1.add(Math.floor((p - 1) / CHUNK_PAGES));
    expect(chunksWithL1.size).toBe(chunkCount(h.index.commit));
    const s = await statusOf(stub, DB);
    expect(s.rebuilds).toBe(rebuilds);
    // Retention deletes the L0 files: nothing points at them, so nothing heals and nothing breaks.
    await r2.delete(key(0, 2, 2));
    await r2.delete(key(0, 3, 3));
    for (let i = 0; i < FULL_LIST_EVERY; i++) await runDurableObjectAlarm(stub);
    expect((await statusOf(stub, DB)).rebuilds).toBe(rebuilds);
    expect(await sha256Hex(await readDatabase(r2, (await syncIndex(stub, DB, null)).index))).toBe(await sha256Hex(states[2] as Uint8Array));
    const r = await exports.default.fetch(`http://localhost/db/${DB}/query`, { method: "POST", body: JSON.stringify({ sql: POINTS, min_txid: 3 }) });
    expect(rows(await r.text())).toEqual(answers[2]?.points);
  });
});
