import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, test } from "vitest";
import { type Loaded as HeldIndex, loadIndexAt, syncIndex } from "../support/do-index.ts";
import { type DatabaseIndex, FULL_LIST_EVERY } from "../../src/durable/database-index.ts";
import type { RootRequest, TimeTravelTarget } from "../../src/durable/protocol.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { decodeHeader } from "../../src/ltx/header.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { chunkIdOf } from "../../src/page-index/root.ts";
import { S3Store } from "../../src/replica/s3.ts";
import { StorageError, type ObjectStore } from "../../src/replica/types.ts";
import { inject } from "vitest";
import { withFaults } from "../support/fault-store.ts";
import { advancePoll, expectedSha, fixtureBytes, fixtureLtxFiles, keyFor, manifest, readDatabase, seedReplica, sha256Hex, wipe } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const stubs: DurableObjectStub<DatabaseIndex>[] = [];
let seq = 0;
const uniq = (base: string) => `${base}-${Date.now().toString(36)}-${seq++}`;

function stubFor(name: string): DurableObjectStub<DatabaseIndex> {
  const s = env.DB_INDEX.getByName(name);
  stubs.push(s);
  return s;
}

afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

async function held(stub: DurableObjectStub<DatabaseIndex>, name: string, prev: HeldIndex | null = null): Promise<HeldIndex> {
  return syncIndex(stub, name, prev);
}

async function status(stub: DurableObjectStub<DatabaseIndex>, name: string) {
  const r = await stub.status(name);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe("every fixture through the Durable Object", () => {
  for (const fixture of ["small", "multi-level", "pagesize-1024", "pagesize-65536", "legacy-frame", "mixed-upgrade"]) {
    test(`${fixture}: the index it hands out restores the final sha256`, async () => {
      const name = uniq(fixture);
      await seedReplica(r2, fixture, name, fixture === "small" ? "file" : "s3");
      const stub = stubFor(name);
      const h = await held(stub, name);
      const m = await manifest(fixture);
      expect(h.index.txid).toBe(m.final_txid_int);
      expect(await sha256Hex(await readDatabase(r2, h.index))).toBe(expectedSha(m, m.final_txid));
    });
  }

  test("S3 source (s3rver): the same index and sha256", async () => {
    const s3 = inject("s3");
    const store = new S3Store({ ...s3, forcePathStyle: true });
    await wipe(store, "small/");
    await seedReplica(store, "small", "small", "s3");
    const stub = stubFor("s3-small");
    const h = await held(stub, "s3-small");
    const m = await manifest("small");
    expect(await sha256Hex(await readDatabase(store, h.index))).toBe(expectedSha(m, m.final_txid));
    expect((await status(stub, "s3-small")).source).toBe("s3://replicas/small");
  });
});

const pollForward = (prefix: string) => advancePoll(r2, prefix);

describe("polling on alarms", () => {
  test("poll fixture: before → after via the alarm; the delta restores the after sha256", async () => {
    const name = uniq("poll");
    const m = await manifest("poll");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    expect(h1.index.txid).toBe(Number.parseInt(m.before_final_txid ?? "", 16));
    expect(await sha256Hex(await readDatabase(r2, h1.index))).toBe(expectedSha(m, m.before_final_txid ?? ""));

    await pollForward(name);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const h2 = await held(stub, name, h1);
    expect(h2.index.txid).toBe(Number.parseInt(m.after_final_txid ?? "", 16));
    expect(h2.generation).toBe(h1.generation);
    expect(await sha256Hex(await readDatabase(r2, h2.index))).toBe(expectedSha(m, m.after_final_txid ?? ""));
    // The old snapshot is untouched and still reads the before state where its files remain.
    expect(h1.index.txid).toBe(Number.parseInt(m.before_final_txid ?? "", 16));
    const s = await status(stub, name);
    expect(s.lastError).toBeNull();
    expect(s.state).toBe("ok");
  });

  test("a file deleted between listing and reading leads to a heal, not a wedge", async () => {
    const name = uniq("vanish");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    await pollForward(name);
    // Delete the first new L0 file right after the DO lists it (a real race, on real R2).
    const victim = fixtureLtxFiles("poll/after").filter((r) => r.startsWith("ltx/0/") && !fixtureLtxFiles("poll/before").includes(r))[0] as string;
    const victimKey = keyFor(name, "s3", victim);
    await runInDurableObject(stub, (instance: DatabaseIndex) => {
      instance.setStoreWrapper((inner: ObjectStore) =>
        withFaults(inner, {
          list: async (prefix, opts) => {
            const r = await inner.list(prefix, opts);
            if (r.some((o) => o.key === victimKey)) await r2.delete(victimKey);
            return r;
          },
        }),
      );
    });
    await runDurableObjectAlarm(stub);
    let s = await status(stub, name);
    if (s.position?.txid !== Number.parseInt((await manifest("poll")).after_final_txid ?? "", 16)) {
      // The heal may need one more poll once the listing no longer shows the file.
      await runDurableObjectAlarm(stub);
      s = await status(stub, name);
    }
    const m = await manifest("poll");
    expect(s.position?.txid).toBe(Number.parseInt(m.after_final_txid ?? "", 16));
    const h2 = await held(stub, name, h1);
    expect(await sha256Hex(await readDatabase(r2, h2.index))).toBe(expectedSha(m, m.after_final_txid ?? ""));
    expect(s.rebuilds + (s.lastError ? 1 : 0)).toBeGreaterThan(0);
  });

  test("a wiped and re-seeded replica (same keys, new ETags) is rebuilt under a new generation", async () => {
    const name = uniq("wipe");
    await seedReplica(r2, "multi-level", name);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    await wipe(r2, `${name}/`);
    await seedReplica(r2, "small", name); // restarts at TXID 1, far below multi-level's position
    await runInDurableObject(stub, async (instance: DatabaseIndex) => {
      // Make the next alarm a full listing.
      await instance.reportMissing(name, "nothing");
    });
    // reportMissing for an unknown key does nothing; the periodic full listing finds the change.
    for (let i = 0; i < FULL_LIST_EVERY; i++) await runDurableObjectAlarm(stub);
    const h2 = await held(stub, name, h1);
    const m = await manifest("small");
    expect(h2.generation).toBeGreaterThan(h1.generation);
    expect(h2.index.txid).toBe(m.final_txid_int);
    expect(await sha256Hex(await readDatabase(r2, h2.index))).toBe(expectedSha(m, m.final_txid));
    const s = await status(stub, name);
    expect(s.rebuilds).toBeGreaterThan(0);
    expect(s.heals.at(-1)?.reason).toMatch(/replaced|restarted/);
  });

  test("injected storage errors (5xx, timeout): back-off, status says what happened, then recovery", async () => {
    const name = uniq("faults");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    const faults: StorageError[] = [
      new StorageError("STORAGE_ERROR", "HTTP 503 Service Unavailable from the store"),
      new StorageError("STORAGE_TIMEOUT", "request timed out after 10000 ms"),
    ];
    await runInDurableObject(stub, (instance: DatabaseIndex) => {
      instance.setStoreWrapper((inner: ObjectStore) =>
        withFaults(inner, {
          list: async (p, o) => {
            const f = faults.shift();
            if (f) throw f;
            return inner.list(p, o);
          },
        }),
      );
    });
    await pollForward(name);
    await runDurableObjectAlarm(stub);
    let s = await status(stub, name);
    expect(s.state).toBe("error");
    expect(s.lastError?.code).toBe("STORAGE_ERROR");
    expect(s.consecutiveFailures).toBe(1);
    expect(s.currentIntervalMs).toBe(2 * s.pollIntervalMs > 60_000 ? Math.max(60_000, s.pollIntervalMs) : 2 * s.pollIntervalMs);
    await runDurableObjectAlarm(stub);
    s = await status(stub, name);
    expect(s.lastError?.code).toBe("STORAGE_TIMEOUT");
    expect(s.consecutiveFailures).toBe(2);
    // The old index is still served while the store fails.
    expect((await held(stub, name, h1)).index.txid).toBe(h1.index.txid);
    await runDurableObjectAlarm(stub);
    s = await status(stub, name);
    expect(s.state).toBe("ok");
    expect(s.consecutiveFailures).toBe(0);
    expect(s.position?.txid).toBe(Number.parseInt((await manifest("poll")).after_final_txid ?? "", 16));
  });
});

describe("persistence and deltas", () => {
  test("after eviction a new instance serves the index without reading the replica", async () => {
    const name = uniq("evict");
    await seedReplica(r2, "multi-level", name);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    const s1 = await status(stub, name);
    expect(s1.storage.lists).toBeGreaterThan(0);
    // Evict: abort the instance; storage survives, memory does not.
    await runInDurableObject(stub, (_instance: DatabaseIndex, state: DurableObjectState) => {
      state.abort("evict for test");
    }).catch(() => undefined);
    stubs.splice(stubs.indexOf(stub), 1); // that stub is broken now
    const stub2 = stubFor(name);
    const h2 = await held(stub2, name);
    const s2 = await status(stub2, name);
    expect(s2.storage).toEqual({ lists: 0, gets: 0, heads: 0, bytes: 0 });
    expect(h2.index.txid).toBe(h1.index.txid);
    const m = await manifest("multi-level");
    expect(await sha256Hex(await readDatabase(r2, h2.index))).toBe(expectedSha(m, m.final_txid));
  });

  test("the delta after one new L0 file names only the chunks it touched, not the database's", async () => {
    const name = uniq("delta");
    const pageSize = 4096;
    const pages = 5000;
    const snap = new LtxWriter({ pageSize, commit: pages, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000 });
    for (let p = 1; p <= pages; p++) snap.addPage(p, new Uint8Array(pageSize).fill(p % 251));
    await r2.put(`${name}/0009/${formatLtxFilename(1, 1)}`, snap.finish());
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    // The root: 16 bytes per chunk of 4096 pages, and chunk 0 riding along (every query reads page 1 first).
    expect(h1.held.firstChunk?.id).toBe(chunkIdOf(h1.held.root, 0));
    expect(h1.lastSyncBytes).toBe(2 * 16 + (h1.held.firstChunk?.bytes.length ?? Number.NaN));
    const l0 = new LtxWriter({ pageSize, commit: pages, minTxid: 2, maxTxid: 2, timestamp: 1_700_000_001_000 });
    for (const p of [1, 2500, 5000]) l0.addPage(p, new Uint8Array(pageSize).fill(7));
    await r2.put(`${name}/0000/${formatLtxFilename(2, 2)}`, l0.finish());
    await runDurableObjectAlarm(stub);
    const h2 = await held(stub, name, h1);
    expect(h2.index.txid).toBe(2);
    // Pages 1 and 2500 are in chunk 0, 5000 in chunk 1: two chunk ids and their numbers.
    expect(h2.lastSyncBytes).toBe(2 * (16 + 4));
    expect(h2.index.lookup(2500)?.file.key).toBe(`${name}/0000/${formatLtxFilename(2, 2)}`);
    expect(h2.index.lookup(2499)?.file.key).toBe(`${name}/0009/${formatLtxFilename(1, 1)}`);
  });
});

describe("read-your-writes and time travel", () => {
  test("waitFor resolves once the position reaches the TXID, and times out clearly", async () => {
    const name = uniq("wait");
    const m = await manifest("poll");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    await held(stub, name);
    const after = Number.parseInt(m.after_final_txid ?? "", 16);
    const timeout = await stub.waitFor(name, after, 300);
    expect(timeout).toMatchObject({ ok: false, error: { code: "WAIT_TIMEOUT" } });
    const waiting = stub.waitFor(name, after, 10_000);
    await pollForward(name);
    const r = await waiting;
    expect(r.ok && r.value.txid).toBe(after);
  });

  test("indexAt builds an earlier TXID and an earlier time without moving the live index", async () => {
    const name = uniq("tt");
    const m = await manifest("multi-level");
    await seedReplica(r2, "multi-level", name);
    const stub = stubFor(name);
    const live = await held(stub, name);
    const older = m.checked_states.filter((s) => s.txid !== m.final_txid);
    for (const s of older.slice(0, 3)) {
      const h = await loadIndexAt(stub, name, { txid: s.txid_int });
      expect(h.index.txid).toBe(s.txid_int);
      expect(await sha256Hex(await readDatabase(r2, h.index))).toBe(s.sha256);
    }
    const now = await loadIndexAt(stub, name, { timestamp: Date.now() });
    expect(now.index.txid).toBe(live.index.txid);
    expect(await stub.rootAt(name, { txid: live.index.txid + 5 })).toMatchObject({ ok: false, error: { code: "TXID_NOT_YET_AVAILABLE" } });
    expect(await stub.rootAt(name, { timestamp: 0 })).toMatchObject({ ok: false, error: { code: "PLAN_TIME_NOT_AVAILABLE" } });
    expect((await held(stub, name, live)).index.txid).toBe(live.index.txid);
  });

  test("time travel by timestamp reads timestamps from R2 listing metadata instead of one header per file", async () => {
    const files = fixtureLtxFiles("small");
    const stamps = new Map<string, number>();
    const seedWith = async (prefix: string, withMeta: boolean) => {
      for (const rel of files) {
        const bytes = await fixtureBytes(`small/${rel}`);
        const ts = decodeHeader(bytes).timestamp;
        stamps.set(rel, ts);
        // Litestream's S3 client writes RFC 3339 with nanoseconds.
        const iso = new Date(ts).toISOString().replace(/Z$/, "000000Z");
        await env.BUCKET.put(keyFor(prefix, "s3", rel), bytes, withMeta ? { customMetadata: { "litestream-timestamp": iso } } : {});
      }
    };
    const plain = uniq("ts-plain");
    const meta = uniq("ts-meta");
    await seedWith(plain, false);
    await seedWith(meta, true);
    const l0 = files.filter((r) => r.startsWith("ltx/0/")).sort();
    const target = stamps.get(l0[Math.floor(l0.length / 2)] as string) as number;
    const results: { txid: number; gets: number }[] = [];
    for (const name of [plain, meta]) {
      const stub = stubFor(name);
      await held(stub, name);
      const before = (await status(stub, name)).storage.gets;
      const h = await loadIndexAt(stub, name, { timestamp: target });
      results.push({ txid: h.index.txid, gets: (await status(stub, name)).storage.gets - before });
    }
    expect(results[1]?.txid).toBe(results[0]?.txid);
    // Without metadata: a 100-byte header read for every file not seen before.
    expect(results[0]?.gets).toBeGreaterThan(files.length / 2);
    // With it: only the page indexes of the plan's files.
    expect(results[1]?.gets).toBeLessThan((results[0]?.gets ?? 0) / 2);
  });

  test("an empty or unknown replica is a clear error", async () => {
    const stub = stubFor("no-such-replica");
    expect(await stub.root("no-such-replica", {})).toMatchObject({ ok: false, error: { code: "REPLICA_EMPTY" } });
    const bad = stubFor("../etc");
    expect(await bad.root("../etc", {})).toMatchObject({ ok: false, error: { code: "DB_NOT_FOUND" } });
  });
});

describe("idle, stalls and paging", () => {
  test("goes idle when nobody asks, monitoring does not wake it, the next request does", async () => {
    const name = "idle-db";
    await seedReplica(r2, "small", name);
    const stub = stubFor(name);
    await held(stub, name);
    expect((await status(stub, name)).nextPollAt).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1100)); // idle_after_ms is 1000 for this database
    await runDurableObjectAlarm(stub);
    const idle = await status(stub, name);
    expect(idle.state).toBe("idle");
    expect(idle.nextPollAt).toBeNull();
    expect(await runDurableObjectAlarm(stub)).toBe(false); // no alarm left
    await held(stub, name);
    const awake = await status(stub, name);
    expect(awake.nextPollAt).not.toBeNull();
    expect(awake.state).toBe("ok");
  });

  test("a gap no level can bridge: stalled, says which TXIDs are missing, keeps serving, recovers when they arrive", async () => {
    const name = uniq("gap");
    const pageSize = 1024;
    const page = (fill: number) => new Uint8Array(pageSize).fill(fill);
    const ltx = (min: number, max: number, pages: [number, number][], commit = 8) => {
      const w = new LtxWriter({ pageSize, commit, minTxid: min, maxTxid: max, timestamp: 1_700_000_000_000 + max });
      for (const [p, f] of pages) w.addPage(p, page(f));
      return w.finish();
    };
    await r2.put(`${name}/0009/${formatLtxFilename(1, 1)}`, ltx(1, 1, [1, 2, 3, 4, 5, 6, 7, 8].map((p) => [p, 1])));
    await r2.put(`${name}/0000/${formatLtxFilename(2, 2)}`, ltx(2, 2, [[2, 2]]));
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    expect(h1.index.txid).toBe(2);
    await r2.put(`${name}/0000/${formatLtxFilename(4, 4)}`, ltx(4, 4, [[4, 4]])); // TXID 3 is missing
    await runDurableObjectAlarm(stub);
    let s = await status(stub, name);
    if (s.state !== "stalled") {
      for (let i = 0; i < FULL_LIST_EVERY && s.state !== "stalled"; i++) {
        await runDurableObjectAlarm(stub);
        s = await status(stub, name);
      }
    }
    expect(s.state).toBe("stalled");
    expect(s.lastError?.code).toBe("PLAN_GAP");
    expect(s.lastError?.message).toContain("0000000000000003-0000000000000003");
    expect(s.position?.txid).toBe(2);
    expect((await held(stub, name, h1)).index.txid).toBe(2); // still served, and status says why
    await r2.put(`${name}/0000/${formatLtxFilename(3, 3)}`, ltx(3, 3, [[3, 3]]));
    for (let i = 0; i < 3 && s.position?.txid !== 4; i++) {
      await runDurableObjectAlarm(stub);
      s = await status(stub, name);
    }
    expect(s.position?.txid).toBe(4);
    expect(s.state).toBe("ok");
    const h2 = await held(stub, name, h1);
    expect(h2.index.lookup(3)?.file.key).toBe(`${name}/0000/${formatLtxFilename(3, 3)}`);
    expect(h2.index.lookup(4)?.file.key).toBe(`${name}/0000/${formatLtxFilename(4, 4)}`);
  });

  test("a root held while the replica moves on stays readable: its chunks still load, and one delta brings it up to date", async () => {
    const name = uniq("moving");
    const m = await manifest("poll");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    let calls = 0;
    // The real stub, with the replica advanced right after the root was served and before any chunk is loaded.
    const rpc = {
      root: async (n: string, req?: RootRequest) => {
        const r = await stub.root(n, req);
        if (calls++ === 0) {
          await advancePoll(r2, name);
          await runDurableObjectAlarm(stub);
        }
        return r;
      },
      rootAt: (n: string, t: TimeTravelTarget) => stub.rootAt(n, t),
      chunks: (n: string, ids: string[]) => stub.chunks(n, ids),
    };
    const before = await syncIndex(rpc, name, null);
    // Every chunk of the older root still loads (kept for isolates holding it), though the DO moved on:
    // its pages may point at files retention removed since, which a query reports and heals.
    expect(before.index.txid).toBe(Number.parseInt(m.before_final_txid ?? "", 16));
    expect(before.index.pageCount).toBe(before.index.commit);
    const after = await syncIndex(rpc, name, before);
    expect(after.index.txid).toBe(Number.parseInt(m.after_final_txid ?? "", 16));
    expect(await sha256Hex(await readDatabase(r2, after.index))).toBe(expectedSha(m, m.after_final_txid ?? ""));
    const tt = await loadIndexAt(stub, name, { txid: Number.parseInt(m.after_final_txid ?? "", 16) });
    for (let p = 1; p <= after.index.commit; p++) expect(tt.index.lookup(p), `page ${p}`).toEqual(after.index.lookup(p));
  });
});

describe("persistence across a shrink", () => {
  test("after a VACUUM shrinks the database below a stored chunk, a new instance loads the index", async () => {
    const name = uniq("shrink");
    const pageSize = 512;
    const page = (fill: number) => new Uint8Array(pageSize).fill(fill);
    const put = async (level: number, min: number, max: number, commit: number, pgnos: number[], fill: number) => {
      const w = new LtxWriter({ pageSize, commit, minTxid: min, maxTxid: max, timestamp: 1_700_000_000_000 + max });
      for (const p of pgnos) w.addPage(p, page(fill));
      const dir = level === 9 ? "0009" : "0000";
      await r2.put(`${name}/${dir}/${formatLtxFilename(min, max)}`, w.finish());
    };
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
    await put(9, 1, 1, 6000, range(1, 6000), 1);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    await put(0, 2, 2, 6000, range(5001, 6000), 2); // the only file of pages 5001–6000
    await put(0, 3, 3, 6000, [1], 3);
    await put(0, 4, 4, 5000, [1, 2], 4); // VACUUM: Commit 6000 → 5000
    await put(0, 5, 5, 5000, [], 5); // no pages: its file id (5) is dropped at once
    await runDurableObjectAlarm(stub);
    const before = await held(stub, name, h1);
    expect(before.index.commit).toBe(5000);
    await runInDurableObject(stub, (_i: DatabaseIndex, state: DurableObjectState) => {
      state.abort("evict for test");
    }).catch(() => undefined);
    stubs.splice(stubs.indexOf(stub), 1);
    const stub2 = stubFor(name);
    const after = await held(stub2, name);
    expect(after.index.txid).toBe(5);
    expect(after.index.commit).toBe(5000);
    expect((await status(stub2, name)).storage.lists).toBe(0); // loaded from storage, not rebuilt
    for (const p of [1, 2, 3, 4096, 4097, 5000]) expect(after.index.lookup(p)).toEqual(before.index.lookup(p));
    // The reloaded index keeps following: the next file is a delta on it.
    await put(0, 6, 6, 5000, [3], 6);
    await runDurableObjectAlarm(stub2);
    const next = await held(stub2, name, after);
    expect(next.lastSyncBytes).toBeLessThan(1024);
    expect(next.index.lookup(3)?.file.key).toBe(`${name}/0000/${formatLtxFilename(6, 6)}`);
    for (const p of [1, 2, 4096, 4097, 5000]) expect(next.index.lookup(p)).toEqual(before.index.lookup(p));
  });
});

describe("time-travel cache", () => {
  test("a time after the newest file is not frozen: it follows the replica", async () => {
    const name = uniq("tt-future");
    const m = await manifest("poll");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    const h1 = await held(stub, name);
    const future = Date.now() + 86_400_000;
    expect((await loadIndexAt(stub, name, { timestamp: future })).index.txid).toBe(h1.index.txid);
    await advancePoll(r2, name);
    await runDurableObjectAlarm(stub);
    const h2 = await held(stub, name, h1);
    expect(h2.index.txid).toBe(Number.parseInt(m.after_final_txid ?? "", 16));
    expect((await loadIndexAt(stub, name, { timestamp: future })).index.txid).toBe(h2.index.txid);
  });

  test("a file reported missing voids the time-travel indexes that use it", async () => {
    const name = uniq("tt-missing");
    const m = await manifest("poll");
    await seedReplica(r2, "poll/before", name);
    const stub = stubFor(name);
    await held(stub, name);
    // An earlier TXID whose plan uses L0 files.
    const earlier = m.all_states.filter((s) => s.restorable_before === true).map((s) => s.txid_int).sort((a, b) => a - b);
    const target = earlier[earlier.length - 2] as number;
    const tt = await loadIndexAt(stub, name, { txid: target });
    const victim = tt.index.files.find((f) => f.level === 0);
    if (!victim) throw new Error("expected an L0 file in the plan");
    await r2.delete(victim.key);
    expect(await stub.reportMissing(name, victim.key)).toMatchObject({ ok: true });
    // Rebuilt from what exists now: the same TXID through other files, or a clear 410.
    const again = await loadIndexAt(stub, name, { txid: target }).catch((e: unknown) => e as { code: string });
    if ("index" in again) expect(again.index.files.some((f) => f.key === victim.key)).toBe(false);
    else expect(again.code).toBe("PLAN_TXID_NOT_AVAILABLE");
  });
});
