/**
 * @module
 * Which storage reads a miss turns into: the demanded segments widened to
 * whole Cache API blocks, grown into longer runs while access is sequential,
 * or into a whole region when a query keeps coming back to one. Pure: the
 * page fetcher (page-fetcher.ts) supplies what is cached and what came before.
 *
 * - Sequential: a miss at or shortly after the end of the previous run (a
 *   scan stepping over pages of another b-tree) continues that run from where
 *   it ended, gap included, at double the length, up to {@link RunPlanInput.maxRun}.
 * - Dense: a query's second miss in one aligned region of `maxRun` segments
 *   fetches every segment of the region it lacks, in one read (cached blocks
 *   between are read again: bytes are cheaper than requests). A read scattered
 *   over a file then costs at most two storage reads per region, not one per
 *   block it touches.
 * - Otherwise: the whole block(s) holding the demanded segments.
 */

export interface RunPlanInput {
  /** Demanded segments, ascending. */
  segs: number[];
  /** Last segment of the file. */
  lastSeg: number;
  /** Segments per cache block (runs are aligned to blocks). */
  block: number;
  /** Longest run, segments (a multiple of `block`); also the region size. */
  maxRun: number;
  /** Where the previous run of this file ended and how long it was, if any. */
  seq: { seg: number; run: number } | undefined;
  /** True for a segment the isolate holds. */
  cached(seg: number): boolean;
  /** True when this query already read from the region of `segs[0]`. */
  denseRegion: boolean;
}

export interface RunPlan {
  /** Inclusive segment ranges, one storage read each. */
  runs: [number, number][];
  /** Last segment read (for the next sequential check). */
  end: number;
  /** First segment of the plan. */
  from: number;
  sequential: boolean;
  /** The rest of a region read because the query came back to it. */
  dense: boolean;
  /** The run length the sequential ramp reached. */
  runLen: number;
}

export function planRuns(p: RunPlanInput): RunPlan {
  const { segs, lastSeg, block, maxRun, seq } = p;
  const first = segs[0] as number;
  const alignDown = (x: number) => x - (x % block);
  const alignEnd = (x: number) => Math.min(lastSeg, alignDown(x) + block - 1);
  const sequential = seq !== undefined && first >= seq.seg && first <= seq.seg + seq.run;
  if (!sequential && p.denseRegion) {
    const r0 = first - (first % maxRun);
    const r1 = Math.min(lastSeg, r0 + maxRun - 1);
    let a = r0;
    while (a < first && p.cached(a)) a++;
    let b = Math.max(r1, segs[segs.length - 1] as number);
    while (b > first && p.cached(b) && !segs.includes(b)) b--;
    const runs = splitRuns([[alignDown(a), alignEnd(b)]], maxRun);
    return { runs, end: alignEnd(b), from: alignDown(a), sequential: false, dense: true, runLen: 1 };
  }
  const from = sequential ? seq.seg : first;
  const runLen = sequential ? Math.min(maxRun, seq.run * 2) : 1;
  const wanted = new Set(segs);
  let end = Math.max(segs[segs.length - 1] as number, Math.min(lastSeg, from + runLen - 1));
  for (let s = from; s <= end; s++) {
    if (wanted.has(s)) continue;
    if (s > first && p.cached(s)) {
      end = s - 1;
      break;
    }
    if (!p.cached(s)) wanted.add(s);
  }
  // Whole cache blocks: each block a read touches is read (and put) whole.
  end = alignEnd(end);
  // Group into contiguous runs of whole blocks, at most maxRun segments each (a multiple of the block).
  const all = [...wanted].filter((x) => x <= end || segs.includes(x)).sort((x, y) => x - y);
  const runs: [number, number][] = [];
  for (const s of all) {
    const r = runs[runs.length - 1];
    if (r && s <= r[1] + 1) r[1] = Math.max(r[1], alignEnd(s));
    else runs.push([alignDown(s), alignEnd(s)]);
  }
  return { runs: splitRuns(runs, maxRun), end, from, sequential, dense: false, runLen };
}

function splitRuns(runs: [number, number][], maxRun: number): [number, number][] {
  for (let i = 0; i < runs.length; i++) {
    const [a, b] = runs[i] as [number, number];
    if (b - a + 1 <= maxRun) continue;
    runs[i] = [a, a + maxRun - 1];
    runs.splice(i + 1, 0, [a + maxRun, b]);
  }
  return runs;
}
