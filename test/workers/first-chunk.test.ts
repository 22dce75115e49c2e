/**
 * Chunk 0 rides along with a full root: the first query on a database the
 * isolate has never seen makes no separate chunk request for pages 1–4096,
 * and bytes that do not match the chunk's id are never kept.
 */
import { env } from "cloudflare:workers";
import { expect, test } from "vitest";
import { ChunkCache } from "../../src/query/chunk-cache.ts";
import { chunkIdOf } from "../../src/page-index/root.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import { manifest, seedReplica } from "../support/seed.ts";
import { putSnapshot } from "../support/page-source.ts";
import { asWalPrimary, buildStandardDb } from "../support/sqlite-db.ts";

interface Meta {
  index_requests: number;
  index_cache_hits: number;
  index_sync_bytes: number;
  txid_hex: string;
}

test("the first query on a fresh database loads no chunk separately (it came with the root)", async () => {
  const r2 = new R2Store(env.BUCKET);
  const db = uniqueName("first-chunk");
  await seedReplica(r2, "small", db);
  const r = await queryVia(envWith({}), db, { sql: "SELECT count(*) FROM users" });
  expect(r.status, r.text).toBe(200);
  const meta = (JSON.parse(r.text) as { meta: Meta }).meta;
  expect(meta.txid_hex).toBe((await manifest("small")).final_txid);
  expect(meta.index_requests).toBe(0);
  expect(meta.index_cache_hits).toBe(0);
  // Root ids (16 bytes) plus chunk 0's bytes.
  expect(meta.index_sync_bytes).toBeGreaterThan(16);
});

test("offered chunk bytes are kept only when they hash to the id", async () => {
  const db = uniqueName("offer");
  await seedReplica(new R2Store(env.BUCKET), "small", db);
  const stub = env.DB_INDEX.getByName(db);
  const p = await stub.root(db, {});
  if (!p.ok || p.value.kind !== "full" || !p.value.first) throw new Error(`expected a full root with chunk 0: ${JSON.stringify(p)}`);
  const id = chunkIdOf(p.value.root, 0) as string;
  const cache = new ChunkCache(1024 * 1024);
  const forged = p.value.first.slice();
  forged[0] = (forged[0] ?? 0) ^ 1;
  expect(await cache.offer(id, forged)).toBe(false);
  expect(cache.get(id)).toBeUndefined();
  expect(await cache.offer(id, p.value.first)).toBe(true);
  expect(cache.get(id)).toBeDefined();
});

test("a chunk that is not at hand is loaded once per query, however SQLite's reads probe it", async () => {
  // 1024-byte pages: ~9,000 pages, so the table spans chunks 0, 1 and 2 (4,096 pages each).
  const fixture = await buildStandardDb(1024, 36_000);
  const file = asWalPrimary(fixture.bytes());
  await fixture.close();
  const pages = Array.from({ length: file.length / 1024 }, (_, i) => file.subarray(i * 1024, (i + 1) * 1024));
  expect(pages.length).toBeGreaterThan(2 * 4096);
  const db = uniqueName("chunk-once");
  await putSnapshot(new R2Store(env.BUCKET), db, 1024, pages);
  const r = await queryVia(envWith({}), db, { sql: "SELECT count(*), sum(price) FROM items" });
  expect(r.status, r.text).toBe(200);
  const meta = (JSON.parse(r.text) as { meta: Meta }).meta;
  // Chunk 0 came with the root; chunks 1 and 2 were each fetched once (from the DO; no colo had them).
  expect(meta.index_requests + meta.index_cache_hits).toBe(2);
});
