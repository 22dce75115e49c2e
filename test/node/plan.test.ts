import { describe, expect, test } from "vitest";
import { computeRestorePlan, extendChain, type PlanFile } from "../../src/plan/plan.ts";

const f = (level: number, minTxid: number, maxTxid: number): PlanFile & { ts: number } => ({ level, minTxid, maxTxid, ts: maxTxid * 1000 });
const names = (p: PlanFile[]) => p.map((x) => `${x.level}:${x.minTxid}-${x.maxTxid}`);

describe("computeRestorePlan", () => {
  test("snapshot then the furthest-reaching file at each step", () => {
    const files = [f(9, 1, 10), f(1, 1, 8), f(1, 9, 16), f(0, 11, 11), f(0, 12, 12), f(0, 17, 17), f(2, 1, 16)];
    expect(names(computeRestorePlan(files))).toEqual(["9:1-10", "2:1-16", "0:17-17"]);
  });

  test("without a snapshot the chain starts at TXID 1", () => {
    expect(names(computeRestorePlan([f(0, 1, 1), f(0, 2, 2), f(1, 1, 2), f(0, 3, 3)]))).toEqual(["1:1-2", "0:3-3"]);
  });

  test("an L1 file straddling the L0 position does not wedge the chain (Litestream #1460)", () => {
    // The follower has applied L0 up to 10; L0 11..14 were compacted into L1 9-14 and removed.
    const files = [f(9, 1, 5), f(0, 6, 6), f(0, 7, 7), f(0, 8, 8), f(1, 9, 14), f(0, 15, 15)];
    expect(names(computeRestorePlan(files))).toEqual(["9:1-5", "0:6-6", "0:7-7", "0:8-8", "1:9-14", "0:15-15"]);
    expect(names(extendChain(files, 10))).toEqual(["1:9-14", "0:15-15"]);
  });

  test("ties prefer the earlier start, then the higher level", () => {
    expect(names(computeRestorePlan([f(1, 1, 10), f(2, 1, 10)]))).toEqual(["2:1-10"]);
    expect(names(computeRestorePlan([f(1, 3, 10), f(2, 1, 10), f(0, 1, 2)]))).toEqual(["2:1-10"]);
  });

  test("a gap is an error naming the missing TXID range", () => {
    expect(() => computeRestorePlan([f(9, 1, 5), f(0, 6, 6), f(0, 9, 9)])).toThrow(
      expect.objectContaining({ code: "PLAN_GAP", message: expect.stringContaining("0000000000000007-0000000000000008") }),
    );
  });

  test("no file starting at 1 and no snapshot is a gap from TXID 1", () => {
    expect(() => computeRestorePlan([f(0, 4, 4)])).toThrow(expect.objectContaining({ code: "PLAN_GAP" }));
  });

  test("an empty replica", () => {
    expect(() => computeRestorePlan([])).toThrow(expect.objectContaining({ code: "PLAN_NO_FILES" }));
  });

  test("TXID targets: exact chains only, snapshots beyond the target are skipped", () => {
    const files = [f(9, 1, 10), f(0, 1, 1), f(0, 2, 2), f(1, 1, 8), f(0, 9, 9), f(0, 10, 10), f(0, 11, 11)];
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 10 }))).toEqual(["9:1-10"]);
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 9 }))).toEqual(["1:1-8", "0:9-9"]);
    expect(names(computeRestorePlan(files, { kind: "txid", txid: 2 }))).toEqual(["0:1-1", "0:2-2"]);
    expect(() => computeRestorePlan(files, { kind: "txid", txid: 5 })).toThrow(expect.objectContaining({ code: "PLAN_TXID_NOT_AVAILABLE" }));
    expect(() => computeRestorePlan(files, { kind: "txid", txid: 12 })).toThrow(expect.objectContaining({ code: "PLAN_TXID_NOT_AVAILABLE" }));
  });

  test("time targets use file timestamps and never include a newer transaction", () => {
    const files = [f(9, 1, 10), f(0, 11, 11), f(0, 12, 12), f(1, 11, 14), f(0, 13, 13)];
    const ts = (x: (typeof files)[number]) => x.ts;
    expect(names(computeRestorePlan(files, { kind: "timestamp", timestamp: 12_500 }, ts))).toEqual(["9:1-10", "0:11-11", "0:12-12"]);
    expect(names(computeRestorePlan(files, { kind: "timestamp", timestamp: 99_000 }, ts))).toEqual(["9:1-10", "1:11-14"]);
    expect(() => computeRestorePlan(files, { kind: "timestamp", timestamp: 5_000 }, ts)).toThrow(
      expect.objectContaining({ code: "PLAN_TIME_NOT_AVAILABLE" }),
    );
  });

  test("scales linearly: 20k L0 files", () => {
    const files = Array.from({ length: 20_000 }, (_, i) => f(0, i + 1, i + 1));
    expect(computeRestorePlan(files)).toHaveLength(20_000);
  });
});
