/**
 * `info` lists the restorable TXID ranges — exactly the TXIDs the restore
 * planner accepts (against the fixtures' manifests, and against
 * computeRestorePlan itself on random replicas) — and a TXID that cannot be
 * restored says why: past the end of the replica, or which restorable TXIDs
 * are nearest.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ReplicaInfo } from "../../src/cli/info.ts";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { formatTxid } from "../../src/ltx/txid.ts";
import { PlanError } from "../../src/plan/errors.ts";
import { type PlanFile, computeRestorePlan } from "../../src/plan/plan.ts";
import { restorableTxids, txidRanges } from "../../src/restore/restorable.ts";
import { FIXTURES, type FixtureManifest } from "../support/fixtures.ts";
import { REPO } from "./dist.ts";

const FIX = join(REPO, "test", "fixtures");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(FIX, name, "manifest.json"), "utf8")) as FixtureManifest;

let TMP = "";
beforeAll(() => {
  TMP = mkdtempSync(join(tmpdir(), "ltx-edge-restorable-"));
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = bufferIo();
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

async function info(dir: string): Promise<ReplicaInfo> {
  const r = await run(["info", dir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ReplicaInfo;
}

/** The TXIDs the ranges cover. */
function expand(ranges: ReplicaInfo["restorable"]["ranges"]): number[] {
  const out: number[] = [];
  for (const r of ranges) for (let t = Number.parseInt(r.min, 16); t <= Number.parseInt(r.max, 16); t++) out.push(t);
  return out;
}

const cases = [
  ...FIXTURES.map((name) => ({ label: name, dir: join(FIX, name), m: manifest(name), key: "restorable" as const })),
  { label: "poll/before", dir: join(FIX, "poll", "before"), m: manifest("poll"), key: "restorable_before" as const },
  { label: "poll/after", dir: join(FIX, "poll", "after"), m: manifest("poll"), key: "restorable_after" as const },
];

describe.each(cases)("info of $label", ({ dir, m, key }) => {
  test("the restorable ranges are exactly the manifest's restorable states", async () => {
    const i = await info(dir);
    const want = m.all_states.filter((s) => s[key] === true).map((s) => s.txid_int);
    expect(want.length).toBeGreaterThan(0);
    expect(expand(i.restorable.ranges)).toEqual(want.sort((a, b) => a - b));
    expect(i.restorable.count).toBe(want.length);
    expect(i.restorable.of).toBe(Number.parseInt(i.maxTxid, 16));
    expect(i.oldestTxid).toBe(i.restorable.ranges[0]?.min);
  });
});

describe("the text output", () => {
  test("multi-level: count of all TXIDs, ranges one per line, the middle elided", async () => {
    const r = await run(["info", join(FIX, "multi-level")]);
    expect(r.code).toBe(0);
    const i = await info(join(FIX, "multi-level"));
    const n = i.restorable.ranges.length;
    expect(n).toBeGreaterThan(20);
    expect(r.stdout).toContain(`restorable:  ${i.restorable.count} of ${i.restorable.of} TXIDs, in ${n} ranges:\n`);
    const listed = r.stdout.split("restorable:")[1]?.split("\n").slice(1, -1) ?? [];
    const show = (x: { min: string; max: string }) => `  ${x.min === x.max ? x.min : `${x.min}-${x.max}`}`;
    expect(listed).toEqual([
      ...i.restorable.ranges.slice(0, 10).map(show),
      `  … ${n - 20} more ranges (info --json lists them all)`,
      ...i.restorable.ranges.slice(-10).map(show),
    ]);
  });

  test("a gap: the TXIDs after it are not restorable", async () => {
    const dir = join(TMP, "gap");
    cpSync(join(FIX, "small"), dir, { recursive: true });
    rmSync(join(dir, "ltx/0/0000000000000014-0000000000000014.ltx"));
    const i = await info(dir);
    expect(i.restorable.ranges).toEqual([{ min: formatTxid(1), max: formatTxid(0x13) }]);
    expect(i.restorable.of).toBe(0x15);
  });
});

describe("an unrestorable TXID", () => {
  test("past the end of the replica says so, for restore and query", async () => {
    const m = manifest("multi-level");
    const past = formatTxid(m.final_txid_int + 1);
    const restore = await run(["restore", "-o", join(TMP, "past.db"), "-txid", past, join(FIX, "multi-level")]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toBe(
      `ltx-edge: error: PLAN_TXID_NOT_AVAILABLE: TXID ${past} is not restorable: past the end of the replica, which ends at TXID ${m.final_txid}\n`,
    );
    const query = await run(["query", join(FIX, "multi-level"), "SELECT 1", "-txid", past]);
    expect(query.code).toBe(1);
    expect(query.stderr).toContain(`past the end of the replica, which ends at TXID ${m.final_txid}`);
  });

  test("inside the replica names the nearest restorable TXIDs", async () => {
    const i = await info(join(FIX, "multi-level"));
    const ok = expand(i.restorable.ranges);
    const oldest = ok[0] as number;
    // A TXID between two restorable ones, and one below the oldest.
    const between = ok.findIndex((t, k) => k > 0 && t - (ok[k - 1] as number) > 2);
    const target = (ok[between - 1] as number) + 1;
    const r = await run(["restore", "-o", join(TMP, "mid.db"), "-txid", formatTxid(target), join(FIX, "multi-level")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`nearest restorable: ${formatTxid(ok[between - 1] as number)} below, ${formatTxid(ok[between] as number)} above`);
    const early = await run(["restore", "-o", join(TMP, "early.db"), "-txid", formatTxid(oldest - 1), join(FIX, "multi-level")]);
    expect(early.stderr).toContain(`nearest restorable: ${formatTxid(oldest)} above ('ltx-edge info' lists them all)`);
  });
});

describe("restorableTxids agrees with the planner", () => {
  /** TXIDs the planner restores exactly, by trying every candidate. */
  function byPlanner(files: PlanFile[]): number[] {
    const max = files.reduce((n, f) => Math.max(n, f.maxTxid), 0);
    const out: number[] = [];
    for (let t = 1; t <= max + 1; t++) {
      try {
        computeRestorePlan(files, { kind: "txid", txid: t });
        out.push(t);
      } catch (e) {
        if (!(e instanceof PlanError)) throw e;
      }
    }
    return out;
  }

  const file = fc
    .record({ level: fc.constantFrom(0, 0, 1, 2, 3, 9), minTxid: fc.integer({ min: 1, max: 40 }), span: fc.integer({ min: 0, max: 12 }), snapshot: fc.boolean() })
    .map(({ level, minTxid, span, snapshot }): PlanFile => {
      // Level-9 files are mostly proper snapshots (from TXID 1); a few stray ones test that they are ignored.
      const min = level === 9 && snapshot ? 1 : minTxid;
      return { level, minTxid: min, maxTxid: min + span + (level === 9 && snapshot ? minTxid : 0) };
    });

  test("on random replicas: overlapping levels, snapshots, gaps", () => {
    fc.assert(
      fc.property(fc.array(file, { minLength: 1, maxLength: 40 }), (files) => {
        expect(restorableTxids(files)).toEqual(byPlanner(files));
      }),
      { numRuns: 400 },
    );
  });

  test("ranges join consecutive TXIDs", () => {
    expect(txidRanges([1, 2, 3, 5, 7, 8])).toEqual([
      { min: 1, max: 3 },
      { min: 5, max: 5 },
      { min: 7, max: 8 },
    ]);
    expect(txidRanges([])).toEqual([]);
  });
});
