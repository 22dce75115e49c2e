/**
 * The storage reads a miss becomes (src/pages/run-plan.ts): whole blocks for
 * a lone miss, a doubling run while a scan goes forward, and the rest of a
 * 1 MiB region when a query comes back to it.
 */
import { describe, expect, test } from "vitest";
import { planRuns, type RunPlanInput } from "../../src/pages/run-plan.ts";

const base = (over: Partial<RunPlanInput>): RunPlanInput => ({
  segs: [9],
  lastSeg: 999,
  block: 4,
  maxRun: 16,
  seq: undefined,
  cached: () => false,
  denseRegion: false,
  ...over,
});

describe("planRuns", () => {
  test("a lone miss reads the block that holds it", () => {
    expect(planRuns(base({})).runs).toEqual([[8, 11]]);
  });

  test("a miss right after the previous run continues it at double length, up to the region size", () => {
    expect(planRuns(base({ segs: [12], seq: { seg: 12, run: 4 } })).runs).toEqual([[12, 19]]);
    const full = planRuns(base({ segs: [40], seq: { seg: 40, run: 16 } }));
    expect(full.runs).toEqual([[40, 55]]);
    expect(full.sequential && full.runLen === 16).toBe(true);
  });

  test("a second miss in a region reads all of the region it lacks in one read, cached blocks between included", () => {
    const cached = new Set([16, 17, 18, 19, 24, 25, 26, 27]);
    const p = planRuns(base({ segs: [21], denseRegion: true, cached: (s) => cached.has(s) }));
    expect(p.runs).toEqual([[20, 31]]);
    expect(p.sequential).toBe(false);
  });

  test("a dense read is cut at the end of the file", () => {
    expect(planRuns(base({ segs: [33], lastSeg: 35, denseRegion: true })).runs).toEqual([[32, 35]]);
  });

  test("a frame straddling two regions reads both demanded segments", () => {
    const p = planRuns(base({ segs: [15, 16], denseRegion: true }));
    expect(p.runs.flatMap(([a, b]) => [a, b])).toEqual([0, 15, 16, 19]);
  });
});
