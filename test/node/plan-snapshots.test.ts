/**
 * Restore planning with two snapshots (replica-layout §4, plan.ts: "the newest
 * eligible snapshot, then the longest contiguous chain"): the plan starts from
 * the newest level-9 snapshot at or below the target, never from an older one.
 * Exact plan file lists on synthetic listings, on a replica written with the
 * project's LtxWriter (whose older snapshot cannot be continued: retention
 * removed the L0 files after it), and on the multi-level fixture's two
 * snapshots (checked against its manifest).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { formatLtxFilename, formatTxid } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { type PlanFile, computeRestorePlan } from "../../src/plan/plan.ts";
import { DirStore } from "../../src/replica/dir.ts";
import { Replica, levelDir } from "../../src/replica/replica.ts";
import { resolvePlan, restoreToBytes } from "../../src/restore/restore.ts";
import type { FixtureManifest } from "../support/fixtures.ts";

const f = (level: number, minTxid: number, maxTxid: number): PlanFile & { ts: number } => ({ level, minTxid, maxTxid, ts: maxTxid * 1000 });
const names = (p: PlanFile[]) => p.map((x) => `${x.level}:${x.minTxid}-${x.maxTxid}`);

describe("computeRestorePlan with two snapshots", () => {
  // Snapshots at 10 and 20; L1 compactions and L0 files around both.
  const files = [
    f(9, 1, 10),
    f(9, 1, 20),
    f(1, 1, 8),
    f(1, 9, 16),
    f(1, 17, 24),
    ...[9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25].map((t) => f(0, t, t)),
  ];

  test("latest: the newest snapshot, whatever the listing order", () => {
    const want = ["9:1-20", "1:17-24", "0:25-25"];
    expect(names(computeRestorePlan(files))).toEqual(want);
    expect(names(computeRestorePlan([...files].reverse()))).toEqual(want);
  });

  test("TXID targets: the newest snapshot at or below the target", () => {
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 20 }))).toEqual(["9:1-20"]);
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 21 }))).toEqual(["9:1-20", "0:21-21"]);
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 24 }))).toEqual(["9:1-20", "1:17-24"]);
    // Below the newer snapshot only the older one is eligible.
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 10 }))).toEqual(["9:1-10"]);
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 16 }))).toEqual(["9:1-10", "1:9-16"]);
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 13 }))).toEqual(["9:1-10", "0:11-11", "0:12-12", "0:13-13"]);
  });

  test("time targets: the newest snapshot written at or before the time", () => {
    const ts = (x: (typeof files)[number]) => x.ts;
    expect(names(computeRestorePlan(files, { kind: "timestamp", timestamp: 99_000 }, ts))).toEqual(["9:1-20", "1:17-24", "0:25-25"]);
    expect(names(computeRestorePlan(files, { kind: "timestamp", timestamp: 20_500 }, ts))).toEqual(["9:1-20"]);
    expect(names(computeRestorePlan(files, { kind: "timestamp", timestamp: 19_000 }, ts))).toEqual(["9:1-10", "1:9-16", "0:17-17", "0:18-18", "0:19-19"]);
  });
});

describe("a replica written with LtxWriter: the older snapshot cannot be continued", () => {
  const PAGE = 512;
  const dir = mkdtempSync(join(tmpdir(), "ltx-edge-plan-snapshots-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const store = new DirStore(dir);
  const fill = (b: number) => new Uint8Array(PAGE).fill(b);
  const key = (level: number, min: number, max: number) => `${levelDir("", "file", level)}${formatLtxFilename(min, max)}`;

  async function write(level: number, min: number, max: number, pages: [number, number][]): Promise<string> {
    const w = new LtxWriter({ pageSize: PAGE, commit: 4, minTxid: min, maxTxid: max, timestamp: 1_700_000_000_000 + max * 1000 });
    for (const [pgno, b] of pages) w.addPage(pgno, fill(b));
    const k = key(level, min, max);
    await store.put(k, w.finish());
    return k;
  }

  test("latest and TXID targets give the exact plan; the bytes are the newest snapshot's chain", async () => {
    // Snapshots at 4 and 8; retention removed the L0 files 5..8, so only the newer snapshot continues.
    const older = await write(9, 1, 4, [[1, 0xa1], [2, 0xa2], [3, 0xa3], [4, 0xa4]]);
    const newer = await write(9, 1, 8, [[1, 0xb1], [2, 0xb2], [3, 0xb3], [4, 0xb4]]);
    const l0a = await write(0, 9, 9, [[2, 0x09]]);
    const l0b = await write(0, 10, 10, [[3, 0x0a]]);
    const replica = new Replica(store, { prefix: "" });

    const latest = await resolvePlan(replica);
    expect(latest.plan.map((x) => x.key)).toEqual([newer, l0a, l0b]);
    const r = await restoreToBytes(replica);
    expect(r.txid).toBe(10);
    expect(r.plan.map((x) => x.key)).toEqual([newer, l0a, l0b]);
    const want = new Uint8Array([...fill(0xb1), ...fill(0x09), ...fill(0x0a), ...fill(0xb4)]);
    expect(Buffer.compare(Buffer.from(r.bytes), Buffer.from(want))).toBe(0);

    expect((await resolvePlan(replica, { kind: "txid", txid: 9 })).plan.map((x) => x.key)).toEqual([newer, l0a]);
    expect((await resolvePlan(replica, { kind: "txid", txid: 8 })).plan.map((x) => x.key)).toEqual([newer]);
    expect((await resolvePlan(replica, { kind: "txid", txid: 4 })).plan.map((x) => x.key)).toEqual([older]);
    await expect(resolvePlan(replica, { kind: "txid", txid: 6 })).rejects.toMatchObject({ code: "PLAN_TXID_NOT_AVAILABLE" });
  });
});

describe("the multi-level fixture's two snapshots", () => {
  const ROOT = join(import.meta.dirname, "..", "fixtures", "multi-level");
  const m = JSON.parse(readFileSync(join(ROOT, "manifest.json"), "utf8")) as FixtureManifest;
  const replica = new Replica(new DirStore(ROOT), { prefix: "" });
  const snapshots = (m.files ?? []).filter((x) => x.level === 9).sort((a, b) => Number.parseInt(a.max_txid, 16) - Number.parseInt(b.max_txid, 16));
  const maxOf = (s: { max_txid: string }) => Number.parseInt(s.max_txid, 16);

  test("the manifest lists two snapshots", () => {
    expect(snapshots).toHaveLength(2);
  });

  test("every restorable TXID starts from the newest snapshot at or below it, and restores to its sha256", async () => {
    const files = await replica.listFiles();
    const [older, newer] = snapshots;
    if (!older || !newer) throw new Error("multi-level has two snapshots");
    const states = m.all_states.filter((s) => s.restorable === true);
    const below = states.filter((s) => s.txid_int >= maxOf(older) && s.txid_int < maxOf(newer));
    const above = states.filter((s) => s.txid_int >= maxOf(newer));
    // Both snapshots are exercised: states between them and states after the newer one.
    expect(below.length).toBeGreaterThan(0);
    expect(above.length).toBeGreaterThan(0);
    for (const s of [...below, ...above]) {
      const want = [...snapshots].reverse().find((x) => maxOf(x) <= s.txid_int);
      const { plan } = await resolvePlan(replica, { kind: "txid", txid: s.txid_int }, files);
      expect(plan[0]?.key, `TXID ${s.txid}`).toBe(want?.path);
      expect(plan[0]?.level).toBe(9);
      // A contiguous chain from that snapshot to the target.
      let reached = 0;
      for (const p of plan) {
        expect(p.minTxid, `TXID ${s.txid}`).toBeLessThanOrEqual(reached + 1);
        reached = Math.max(reached, p.maxTxid);
      }
      expect(reached).toBe(s.txid_int);
    }
    const latest = await restoreToBytes(replica, { files });
    expect(latest.plan[0]?.key).toBe(snapshots[1]?.path);
    expect(formatTxid(latest.txid)).toBe(m.final_txid);
    expect(createHash("sha256").update(latest.bytes).digest("hex")).toBe(m.all_states.find((x) => x.txid === m.final_txid)?.sha256);
  });
});
