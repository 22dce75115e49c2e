/**
 * Summaries of repeated timings, shared by the Node and workerd benchmarks
 * (plain TypeScript, no runtime APIs). Every figure carries its sample count:
 * a p95 of five runs is their maximum, and the tables say so.
 */

/** Median and 95th percentile of a set of samples (ms), with their count. */
export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

/** The nearest-rank percentile `p` (0..1] of sorted samples. */
function rank(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** Summarises samples; an empty set gives NaN figures (reported as "—"). */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  if (s.length === 0) return { n: 0, median: Number.NaN, p95: Number.NaN, min: Number.NaN, max: Number.NaN };
  // The median of an even count is the mean of the middle two.
  const mid = s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  return { n: s.length, median: mid, p95: rank(s, 0.95), min: s[0] as number, max: s[s.length - 1] as number };
}

/** "12.3 / 15.0" (median / p95, ms), or "—". */
export function fmtSummary(x: Summary | undefined, digits = 1): string {
  if (!x || x.n === 0) return "—";
  return `${x.median.toFixed(digits)} / ${x.p95.toFixed(digits)}`;
}

/** "2.4×", or "—" when either side is missing. */
export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return "—";
  return `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}×`;
}

/** One run that measured itself (so background work after it stays out of its time). */
export interface TimedRun {
  ms: number;
}

/**
 * `n` samples of `run`, after untimed warm-up runs: at least `warmup` (and
 * one), and for at least `warmupMs` (the JIT has compiled the JS glue by
 * then, whichever engine ran first). workerd's clock moves in whole
 * milliseconds, so a sample of a fast query is the wall time of a batch of
 * runs long enough (≥ `minSampleMs`) for that not to matter, divided by the
 * batch; the batch doubles until one takes that long. A sample of a slow
 * query (batch 1) is the run's own time (`ms`: background work after it left out).
 */
export async function sampleRuns<T extends TimedRun>(
  n: number,
  warmup: number,
  run: () => Promise<T>,
  o: { warmupMs?: number; minSampleMs?: number } = {},
): Promise<{ samples: number[]; runs: T[]; batch: number }> {
  const minSampleMs = o.minSampleMs ?? 20;
  const warmEnd = performance.now() + (o.warmupMs ?? 0);
  for (let i = 0; i < Math.max(1, warmup) || performance.now() < warmEnd; i++) await run();
  const timeBatch = async (b: number): Promise<{ ms: number; first: T }> => {
    const t0 = performance.now();
    const first = await run();
    for (let i = 1; i < b; i++) await run();
    return { ms: b === 1 ? first.ms : performance.now() - t0, first };
  };
  let batch = 1;
  while (batch < 4096 && (await timeBatch(batch)).ms < minSampleMs) batch *= 2;
  const samples: number[] = [];
  const runs: T[] = [];
  for (let i = 0; i < n; i++) {
    const b = await timeBatch(batch);
    samples.push(b.ms / batch);
    runs.push(b.first);
  }
  return { samples, runs, batch };
}

export const held = (ok: boolean): string => (ok ? "**held**" : "**NOT held**");
