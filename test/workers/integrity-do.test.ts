/**
 * The Durable Object's integrity guards over real local R2, with a flipped
 * byte (same ETag) injected on the DO's store reads: small files verified as
 * they are applied, quarantine and the plan routed around it, stalled with
 * the file named when nothing covers it, re-admission after repair, and
 * foreign files with fitting names refused.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, test } from "vitest";
import { syncIndex } from "../support/do-index.ts";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import { decodeLtxFile } from "../../src/ltx/decoder.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { type Flip, flipping, ltx, range, statusOf, trackStubs, uniq } from "./integrity-support.ts";

const r2 = new R2Store(env.BUCKET);
const { stubFor } = trackStubs();
const FLAG = 1n << 63n;

const l0Key = (db: string, min: number, max = min) => `${db}/0000/${formatLtxFilename(min, max)}`;
const l1Key = (db: string, min: number, max: number) => `${db}/0001/${formatLtxFilename(min, max)}`;
const snapKey = (db: string, max = 1) => `${db}/0009/${formatLtxFilename(1, max)}`;

/** Offset of a byte inside page `pgno`'s compressed payload (the frame's middle). */
function insidePage(bytes: Uint8Array, pgno: number): number {
  const d = decodeLtxFile(bytes);
  const i = d.index.pgno.indexOf(pgno);
  return (d.index.offset[i] as number) + Math.floor((d.index.size[i] as number) / 2);
}

async function withStore(s: DurableObjectStub<DatabaseIndex>, wrap: ((inner: ObjectStore) => ObjectStore) | null): Promise<void> {
  await runInDurableObject(s, (instance: DatabaseIndex) => instance.setStoreWrapper(wrap));
}

/** A poll with a full listing now (what every 10th alarm does). */
async function pollFull(s: DurableObjectStub<DatabaseIndex>): Promise<void> {
  await runInDurableObject(s, async (i: DatabaseIndex) => {
    const inner = i as unknown as { serialized<T>(fn: () => Promise<T>): Promise<T>; follower: { poll(full: boolean): Promise<void> } };
    await inner.serialized(() => inner.follower.poll(true));
  });
}

describe("small files are verified as they are applied", () => {
  test("a flipped byte in a new L0 file: quarantined, not applied, stalled naming it; repaired: re-admitted and applied", async () => {
    const db = uniq("small-flip");
    await r2.put(snapKey(db), ltx({ commit: 8, minTxid: 1, maxTxid: 1 }, range(1, 8)));
    await r2.put(l0Key(db, 2), ltx({ commit: 8, minTxid: 2, maxTxid: 2 }, [2]));
    const s = stubFor(db);
    const h1 = await syncIndex(s, db, null);
    expect(h1.index.txid).toBe(2);
    const bad = ltx({ commit: 8, minTxid: 3, maxTxid: 3 }, [3, 4], null);
    await r2.put(l0Key(db, 3), bad);
    const flips: Flip[] = [{ key: l0Key(db, 3), at: insidePage(bad, 4), on: true }];
    await withStore(s, (inner) => flipping(inner, flips));
    await runDurableObjectAlarm(s);
    let st = await statusOf(s, db);
    expect(st.position?.txid).toBe(2);
    expect(st.state).toBe("stalled");
    expect(st.lastError?.code).toBe("LTX_QUARANTINED");
    expect(st.lastError?.message).toContain(l0Key(db, 3));
    expect(st.quarantined.map((q) => [q.key, q.code])).toEqual([[l0Key(db, 3), "LTX_CHECKSUM_MISMATCH"]]);
    // The last good state does not use it: still served.
    const h2 = await syncIndex(s, db, h1);
    expect(h2.index.txid).toBe(2);
    expect(h2.index.files.some((f) => f.key === l0Key(db, 3))).toBe(false);
    // Repaired in place (same ETag): a re-check verifies it, and it is applied.
    flips[0] = { ...(flips[0] as Flip), on: false };
    const after = await s.recheck(db);
    if (!after.ok) throw new Error(after.error.message);
    expect(after.value.quarantined).toEqual([]);
    expect(after.value.position?.txid).toBe(3);
    expect(after.value.state).toBe("ok");
    const h3 = await syncIndex(s, db, h2);
    expect(h3.index.lookup(4)?.file.key).toBe(l0Key(db, 3));
  });

  test("a quarantined L0 file with an L1 covering it: the plan routes around it", async () => {
    const db = uniq("route");
    const bad = ltx({ commit: 8, minTxid: 2, maxTxid: 2 }, [2, 3], null);
    await r2.put(snapKey(db), ltx({ commit: 8, minTxid: 1, maxTxid: 1 }, range(1, 8)));
    await r2.put(l0Key(db, 2), bad);
    await r2.put(l0Key(db, 3), ltx({ commit: 8, minTxid: 3, maxTxid: 3 }, [5]));
    const s = stubFor(db);
    await withStore(s, (inner) => flipping(inner, [{ key: l0Key(db, 2), at: insidePage(bad, 3), on: true }]));
    // The first build finds L0 2 bad: it serves TXID 1 (a state without it), stalled, naming it.
    const h1 = await syncIndex(s, db, null);
    expect(h1.index.txid).toBe(1);
    let st = await statusOf(s, db);
    expect(st.state).toBe("stalled");
    expect(st.lastError?.message).toContain(l0Key(db, 2));
    expect(st.quarantined.map((q) => q.key)).toEqual([l0Key(db, 2)]);
    // Compaction writes L1 2-3 (from the primary's own copy): the chain goes around the bad L0 file.
    await r2.put(l1Key(db, 2, 3), ltx({ commit: 8, minTxid: 2, maxTxid: 3 }, [2, 3, 5], 9));
    await pollFull(s);
    st = await statusOf(s, db);
    expect(st.state).toBe("ok");
    expect(st.position?.txid).toBe(3);
    const h2 = await syncIndex(s, db, h1);
    expect(h2.generation).toBe(h1.generation); // the bad file was never served: a plain delta
    expect(h2.index.lookup(2)?.file.key).toBe(l1Key(db, 2, 3));
    expect(h2.index.files.some((f) => f.key === l0Key(db, 2))).toBe(false);
    expect(st.quarantined.map((q) => q.key)).toEqual([l0Key(db, 2)]); // still listed, never used
  });
});

describe("foreign files with fitting names are not applied", () => {
  test("header TXIDs that differ from the name: LTX_NAME_MISMATCH, not applied, status lists it", async () => {
    const db = uniq("foreign-name");
    await r2.put(snapKey(db), ltx({ commit: 4, minTxid: 1, maxTxid: 1 }, range(1, 4)));
    const s = stubFor(db);
    expect((await syncIndex(s, db, null)).index.txid).toBe(1);
    await r2.put(l0Key(db, 2), ltx({ commit: 4, minTxid: 7, maxTxid: 7 }, [2])); // valid LTX, named 2-2, header says 7-7
    await runDurableObjectAlarm(s);
    const st = await statusOf(s, db);
    expect(st.position?.txid).toBe(1);
    expect(st.state).toBe("stalled");
    expect(st.quarantined.map((q) => q.code)).toEqual(["LTX_NAME_MISMATCH"]);
  });

  test("a checksummed file whose pre-apply checksum is not the chain's post-apply checksum: LTX_DISCONTINUOUS", async () => {
    const db = uniq("foreign-sum");
    await r2.put(snapKey(db), ltx({ commit: 4, minTxid: 1, maxTxid: 1, checksums: { preApply: 0n, postApply: FLAG | 0xaaan } }, range(1, 4)));
    const s = stubFor(db);
    expect((await syncIndex(s, db, null)).index.txid).toBe(1);
    await r2.put(l0Key(db, 2), ltx({ commit: 4, minTxid: 2, maxTxid: 2, checksums: { preApply: FLAG | 0xbbbn, postApply: FLAG | 0xcccn } }, [2]));
    await runDurableObjectAlarm(s);
    let st = await statusOf(s, db);
    expect(st.position?.txid).toBe(1);
    expect(st.quarantined.map((q) => q.code)).toEqual(["LTX_DISCONTINUOUS"]);
    expect(st.quarantined[0]?.message).toMatch(/pre-apply checksum/);
    // The file that does continue it (pre-apply = the snapshot's post-apply) is applied.
    await r2.delete(l0Key(db, 2));
    await r2.put(l0Key(db, 2), ltx({ commit: 4, minTxid: 2, maxTxid: 2, checksums: { preApply: FLAG | 0xaaan, postApply: FLAG | 0xcccn } }, [2]));
    await pollFull(s);
    st = await statusOf(s, db);
    expect(st.position?.txid).toBe(2);
    expect(st.state).toBe("ok");
  });

  test("a file of another page size: LTX_PAGE_SIZE_MISMATCH (not INTERNAL), on a poll and on a first build", async () => {
    const db = uniq("foreign-pagesize");
    await r2.put(snapKey(db), ltx({ commit: 4, minTxid: 1, maxTxid: 1 }, range(1, 4)));
    const s = stubFor(db);
    expect((await syncIndex(s, db, null)).index.txid).toBe(1);
    await r2.put(l0Key(db, 2), ltx({ pageSize: 1024, commit: 4, minTxid: 2, maxTxid: 2 }, [2]));
    await runDurableObjectAlarm(s);
    const st = await statusOf(s, db);
    expect(st.position?.txid).toBe(1);
    expect(st.quarantined.map((q) => q.code)).toEqual(["LTX_PAGE_SIZE_MISMATCH"]);
    expect(st.lastError?.code).toBe("LTX_QUARANTINED");
    // A fresh object building from the same replica.
    const db2 = uniq("foreign-pagesize-first");
    await r2.put(snapKey(db2), ltx({ commit: 4, minTxid: 1, maxTxid: 1 }, range(1, 4)));
    await r2.put(l0Key(db2, 2), ltx({ pageSize: 1024, commit: 4, minTxid: 2, maxTxid: 2 }, [2]));
    const s2 = stubFor(db2);
    expect((await syncIndex(s2, db2, null)).index.txid).toBe(1);
    const st2 = await statusOf(s2, db2);
    expect(st2.quarantined.map((q) => q.code)).toEqual(["LTX_PAGE_SIZE_MISMATCH"]);
    expect(st2.lastError?.code).not.toBe("INTERNAL");
  });
});

describe("DO hygiene", () => {
  test("an advancing poll writes only the rows that changed (not the whole files table)", async () => {
    const db = uniq("rows");
    await r2.put(snapKey(db), ltx({ commit: 64, minTxid: 1, maxTxid: 1 }, range(1, 64)));
    for (let t = 2; t <= 41; t++) await r2.put(l0Key(db, t), ltx({ commit: 64, minTxid: t, maxTxid: t }, [t + 20]));
    const s = stubFor(db);
    const h = await syncIndex(s, db, null);
    expect(h.index.files.length).toBe(41);
    const before = (await statusOf(s, db)).rowsWritten;
    await r2.put(l0Key(db, 42), ltx({ commit: 64, minTxid: 42, maxTxid: 42 }, [5]));
    await runDurableObjectAlarm(s);
    const st = await statusOf(s, db);
    expect(st.position?.txid).toBe(42);
    // The new index chunk, the retired one, the root, its history entry, two file rows (the new file, the
    // page count of the one it replaced page 5 of), the ledger record (a REPLACE counts its delete too)
    // and the state: not 42 file rows, and not a row per page.
    expect(st.rowsWritten - before).toBeLessThanOrEqual(10);
  });

  test("header timestamps kept for time travel are pruned to the files still listed", async () => {
    const db = uniq("stamps");
    await r2.put(snapKey(db), ltx({ commit: 4, minTxid: 1, maxTxid: 1 }, range(1, 4)));
    for (let t = 2; t <= 9; t++) await r2.put(l0Key(db, t), ltx({ commit: 4, minTxid: t, maxTxid: t }, [2]));
    const s = stubFor(db);
    await syncIndex(s, db, null);
    expect(await s.rootAt(db, { timestamp: 1_700_000_000_000 + 5 })).toMatchObject({ ok: true });
    const count = () => runInDurableObject(s, (i: DatabaseIndex) => (i as unknown as { follower: { builder: { stampCount: number } } }).follower.builder.stampCount);
    expect(await count()).toBe(9);
    // Compaction and retention: L1 1-9 replaces everything.
    await r2.put(l1Key(db, 1, 9), ltx({ commit: 4, minTxid: 1, maxTxid: 9 }, range(1, 4)));
    for (let t = 2; t <= 9; t++) await r2.delete(l0Key(db, t));
    await r2.delete(snapKey(db));
    await pollFull(s);
    expect(await count()).toBeLessThanOrEqual(1);
    expect((await statusOf(s, db)).position?.txid).toBe(9);
  });
});
