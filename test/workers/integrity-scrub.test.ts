/**
 * The background scrub of large LTX files (over the small-file threshold,
 * written with the project's writer) in the Durable Object, over real local
 * R2: bounded range reads per step and per alarm, progress that survives
 * eviction, and a flipped byte (same ETag, injected on the DO's reads)
 * found, quarantined, refused, then re-admitted under a new epoch once the
 * file is repaired.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, test } from "vitest";
import { syncIndex } from "../support/do-index.ts";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import { SMALL_FILE_BYTES } from "../../src/durable/index-builder.ts";
import type { ScrubStepReport } from "../../src/durable/protocol.ts";
import { SCRUB_BYTES_PER_ALARM, SCRUB_CHUNK_BYTES, SCRUB_DECODE_BYTES } from "../../src/durable/scrub.ts";
import { decodeLtxFile } from "../../src/ltx/decoder.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { type Flip, flipping, ltx, range, statusOf, trackStubs, uniq } from "./integrity-support.ts";

const r2 = new R2Store(env.BUCKET);
const { stubFor, evict } = trackStubs();
/** A frame of an incompressible 4 KiB page, with headers: a step may read one more than its chunk. */
const FRAME = 4096 + 64;

let big: Uint8Array; // ~2.5 MiB snapshot of random pages
let bigger: Uint8Array; // ~6 MiB
const PAGES = 600;

beforeAll(() => {
  big = ltx({ commit: PAGES, minTxid: 1, maxTxid: 1 }, range(1, PAGES), null);
  bigger = ltx({ commit: 1500, minTxid: 1, maxTxid: 1 }, range(1, 1500), null);
}, 120_000);

const snapKey = (db: string) => `${db}/0009/${formatLtxFilename(1, 1)}`;
const l0Key = (db: string, t: number) => `${db}/0000/${formatLtxFilename(t, t)}`;
const l1Key = (db: string, a: number, b: number) => `${db}/0001/${formatLtxFilename(a, b)}`;

async function scrub(s: DurableObjectStub<DatabaseIndex>, db: string, steps = 1): Promise<ScrubStepReport[]> {
  const r = await s.scrub(db, steps);
  if (!r.ok) throw new Error(r.error.message);
  return r.value.steps;
}

/** Scrub steps until one has `outcome` (bounded). */
async function scrubUntil(s: DurableObjectStub<DatabaseIndex>, db: string, outcome: ScrubStepReport["outcome"]): Promise<ScrubStepReport[]> {
  const all: ScrubStepReport[] = [];
  for (let i = 0; i < 40 && !all.some((x) => x.outcome === outcome); i++) {
    const steps = await scrub(s, db, 1);
    if (steps.length === 0) break;
    all.push(...steps);
  }
  return all;
}

type Log = { key: string; offset: number; length: number }[];

async function logReads(s: DurableObjectStub<DatabaseIndex>, flips: Flip[], log: Log): Promise<void> {
  await runInDurableObject(s, (i: DatabaseIndex) => i.setStoreWrapper((inner) => flipping(inner, flips, log)));
}

describe("scrub of large files", () => {
  test("in bounded range reads, one per step, resuming where it stopped after eviction", async () => {
    expect(big.length).toBeGreaterThan(2 * SMALL_FILE_BYTES);
    const db = uniq("scrub");
    await r2.put(snapKey(db), big);
    const s1 = stubFor(db);
    await syncIndex(s1, db, null);
    let st = await statusOf(s1, db);
    expect(st.integrity).toMatchObject({ verified: 0, pending: 1, quarantined: 0 });
    const log: Log = [];
    await logReads(s1, [], log);
    const [first] = await scrub(s1, db, 1);
    expect(first?.outcome).toBe("progress");
    expect(log).toHaveLength(1); // the index is in memory from the build: one range read
    expect(log[0]?.offset).toBe(0);
    expect(log[0]?.length).toBeLessThanOrEqual(SCRUB_CHUNK_BYTES + FRAME);
    st = await statusOf(s1, db);
    const saved = st.integrity.scrub?.offset ?? 0;
    expect(saved).toBeGreaterThan(SCRUB_CHUNK_BYTES - FRAME);

    await evict(s1);
    const s2 = stubFor(db);
    st = await statusOf(s2, db);
    expect(st.integrity.scrub).toMatchObject({ key: snapKey(db), offset: saved });
    const log2: Log = [];
    await logReads(s2, [], log2);
    const steps = await scrubUntil(s2, db, "verified");
    expect(steps.at(-1)?.outcome).toBe("verified");
    // After eviction: the index from the tail (not in memory any more: a suffix read and the
    // 100-byte header), then chunks from the saved offset on, nothing before it again.
    const resumed = log2.filter((r) => r.length > 64 * 1024);
    expect(resumed[0]?.offset).toBe(saved);
    for (const r of resumed) expect(r.length).toBeLessThanOrEqual(SCRUB_CHUNK_BYTES + FRAME);
    expect(log2.every((r) => r.offset >= saved || r.length <= 100)).toBe(true);
    expect(log2.length - resumed.length).toBeLessThanOrEqual(2);
    // Every byte read about once across both instances (a step re-reads at most the frame it could not finish).
    const scrubbed = (log[0]?.length ?? 0) + resumed.reduce((n, r) => n + r.length, 0);
    expect(scrubbed).toBeGreaterThanOrEqual(big.length);
    expect(scrubbed).toBeLessThan(big.length + (resumed.length + 1) * FRAME);
    st = await statusOf(s2, db);
    expect(st.integrity).toMatchObject({ verified: 1, pending: 0, scrub: null });
    // Verified once: nothing left to read.
    expect(await scrub(s2, db, 5)).toEqual([]);
  });

  test("an alarm reads at most SCRUB_BYTES_PER_ALARM for the scrub", async () => {
    const db = uniq("scrub-alarm");
    await r2.put(snapKey(db), bigger);
    const s = stubFor(db);
    await syncIndex(s, db, null);
    const log: Log = [];
    await logReads(s, [], log);
    await runDurableObjectAlarm(s);
    const chunks = log.filter((r) => r.length > 64 * 1024);
    const bytes = chunks.reduce((n, r) => n + r.length, 0);
    expect(chunks.length).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(SCRUB_BYTES_PER_ALARM + chunks.length * FRAME);
    expect((await statusOf(s, db)).integrity.pending).toBe(1);
    for (let i = 0; i < 5 && (await statusOf(s, db)).integrity.pending > 0; i++) await runDurableObjectAlarm(s);
    expect((await statusOf(s, db)).integrity).toMatchObject({ verified: 1, pending: 0 });
  });
});

describe("scrub of compressible files", () => {
  test("a small file holding many pages is not decoded on the poll; the scrub verifies it in steps of bounded page bytes", async () => {
    const db = uniq("scrub-compressible");
    const pages = 4096; // 16 MiB of pages in a file of a few hundred KiB
    const file = ltx({ commit: pages, minTxid: 1, maxTxid: 1 }, range(1, pages));
    expect(file.length).toBeLessThanOrEqual(SMALL_FILE_BYTES);
    await r2.put(snapKey(db), file);
    const s = stubFor(db);
    await syncIndex(s, db, null);
    expect((await statusOf(s, db)).integrity).toMatchObject({ verified: 0, pending: 1 });
    const log: Log = [];
    await logReads(s, [], log);
    const steps = await scrubUntil(s, db, "verified");
    expect(steps.at(-1)?.outcome).toBe("verified");
    const d = decodeLtxFile(file);
    // Each read holds at most SCRUB_DECODE_BYTES of pages (plus the trailer): ≥ 4 steps for 16 MiB.
    expect(log.length).toBeGreaterThanOrEqual((pages * 4096) / SCRUB_DECODE_BYTES);
    for (const r of log) {
      const frames = Array.from(d.index.offset).filter((o) => o >= r.offset && o < r.offset + r.length).length;
      expect(frames).toBeLessThanOrEqual(SCRUB_DECODE_BYTES / 4096);
    }
  });
});

describe("a flipped byte in a large file (same ETag)", () => {
  test("found by the scrub: quarantined, never handed out, status names it; repaired: re-admitted under a new epoch", async () => {
    const db = uniq("scrub-flip");
    await r2.put(snapKey(db), big);
    await r2.put(l0Key(db, 2), ltx({ commit: PAGES, minTxid: 2, maxTxid: 2 }, [3]));
    const d = decodeLtxFile(big);
    const at = (d.index.offset[99] as number) + 1000; // inside page 100: an early chunk, far from the tail
    const flips: Flip[] = [{ key: snapKey(db), at, on: true }];
    const s = stubFor(db);
    await runInDurableObject(s, (i: DatabaseIndex) => i.setStoreWrapper((inner) => flipping(inner, flips)));
    const h1 = await syncIndex(s, db, null);
    expect(h1.index.txid).toBe(2);
    const epoch1 = h1.index.lookup(100)?.file.epoch;

    const steps = await scrubUntil(s, db, "quarantined");
    expect(steps.at(-1)).toMatchObject({ key: snapKey(db), outcome: "quarantined", code: "LTX_CHECKSUM_MISMATCH" });
    expect(await s.root(db, {})).toMatchObject({ ok: false, error: { code: "LTX_QUARANTINED", message: expect.stringContaining(snapKey(db)) } });
    expect(await s.root(db, { lineage: h1.held.root.lineage, version: h1.index.version, generation: h1.generation })).toMatchObject({ ok: false, error: { code: "LTX_QUARANTINED" } });
    const tt = await s.rootAt(db, { txid: 1 });
    expect(tt.ok).toBe(false);
    if (!tt.ok) expect(tt.error.message).toContain(snapKey(db));
    let st = await statusOf(s, db);
    expect(st.state).toBe("stalled");
    expect(st.lastError?.code).toBe("LTX_QUARANTINED");
    expect(st.quarantined).toMatchObject([{ key: snapKey(db), code: "LTX_CHECKSUM_MISMATCH", rechecking: false }]);

    // The quarantine survives eviction.
    await evict(s);
    const s2 = stubFor(db);
    expect(await s2.root(db, {})).toMatchObject({ ok: false, error: { code: "LTX_QUARANTINED" } });

    // Repaired in place (same key, same ETag): a re-check re-verifies it in the scrub, then it is back.
    flips[0] = { ...(flips[0] as Flip), on: false };
    await runInDurableObject(s2, (i: DatabaseIndex) => i.setStoreWrapper((inner) => flipping(inner, flips)));
    const re = await s2.recheck(db);
    expect(re.ok && re.value.quarantined[0]?.rechecking).toBe(true);
    const again = await scrubUntil(s2, db, "readmitted");
    expect(again.at(-1)?.outcome).toBe("readmitted");
    const h2 = await syncIndex(s2, db, h1);
    expect(h2.index.txid).toBe(2);
    // Its pages were served before (SQLite page caches of reused connections may hold them at this
    // very TXID): a new generation makes every isolate drop them instead of merging a delta.
    expect(h2.generation).toBeGreaterThan(h1.generation);
    const epoch2 = h2.index.lookup(100)?.file.epoch;
    expect(epoch2).toBeDefined();
    expect(epoch2).not.toBe(epoch1);
    expect(epoch2 as number).toBeGreaterThan(epoch1 as number);
    // Every page of the re-admitted file moved to the new epoch: none is left under the old one.
    for (let p = 1; p <= PAGES; p++) if (p !== 3) expect(h2.index.lookup(p)?.file.epoch).toBe(epoch2);
    st = await statusOf(s2, db);
    expect(st.state).toBe("ok");
    expect(st.quarantined).toEqual([]);
    expect(st.integrity.verified).toBeGreaterThanOrEqual(2);
  });

  test("found by the scrub while an L1 file covers it: the plan routes around it and serving goes on", async () => {
    const db = uniq("scrub-route");
    await r2.put(snapKey(db), ltx({ commit: PAGES, minTxid: 1, maxTxid: 1 }, range(1, PAGES)));
    const l0 = ltx({ commit: PAGES, minTxid: 2, maxTxid: 2 }, range(1, PAGES), null); // a full-image L0 file, large
    await r2.put(l0Key(db, 2), l0);
    const d = decodeLtxFile(l0);
    const flips: Flip[] = [{ key: l0Key(db, 2), at: (d.index.offset[10] as number) + 500, on: true }];
    const s = stubFor(db);
    await runInDurableObject(s, (i: DatabaseIndex) => i.setStoreWrapper((inner) => flipping(inner, flips)));
    const h1 = await syncIndex(s, db, null);
    expect(h1.index.lookup(11)?.file.key).toBe(l0Key(db, 2));
    // Compaction wrote L1 2-2 from the primary's own copy.
    await r2.put(l1Key(db, 2, 2), ltx({ commit: PAGES, minTxid: 2, maxTxid: 2 }, range(1, PAGES), 7));
    const steps = await scrubUntil(s, db, "quarantined");
    expect(steps.at(-1)).toMatchObject({ key: l0Key(db, 2), outcome: "quarantined" });
    const st = await statusOf(s, db);
    expect(st.state).toBe("ok");
    expect(st.position?.txid).toBe(2);
    expect(st.quarantined.map((q) => q.key)).toEqual([l0Key(db, 2)]);
    const h2 = await syncIndex(s, db, h1);
    expect(h2.index.files.map((f) => f.key)).toEqual([l1Key(db, 2, 2)]);
    expect(h2.generation).toBeGreaterThan(h1.generation); // pages of the bad file were served: isolates start over
  });
});
