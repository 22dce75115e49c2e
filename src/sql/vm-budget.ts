/**
 * @module
 * The VM-step budget: the CPU guard that needs no clock. Production Workers
 * freeze `Date.now()` during CPU work, so a time limit alone never stops a
 * runaway query there; counting SQLite's progress-handler calls does.
 */

/** VM instructions between two progress-handler calls (the budget's resolution). */
export const PROGRESS_OPS = 1000;

/**
 * VM steps per millisecond used to turn a time limit into a step budget.
 *
 * Measured with bench/vm-steps.ts: progress-handler calls × PROGRESS_OPS over
 * wall time (the local clock does advance), fastest of 3 runs per query, 11
 * queries (scans, LIKE, GROUP BY, ORDER BY, DISTINCT, JSON, arithmetic and
 * string functions over recursive CTEs), on the shared 2-core dev machine:
 * workerd JSPI 8,300–79,900 steps/ms (max: a counting CTE), workerd Asyncify
 * 6,100–32,100, Node Asyncify (the CLI) 5,700–13,200. The constant is the
 * fastest rate seen, doubled for faster production CPUs, so a query that
 * finishes within its time limit never meets its step budget first; a
 * runaway query still stops — at 10 s, after 1.6 billion steps, about 20 s
 * of CPU here — where the clock, frozen during CPU work, would never stop it.
 */
export const VM_STEPS_PER_MS = 160_000;

/** The steps one execute() may take: `maxVmSteps` when positive, else derived from `timeoutMs`. */
export function vmStepBudget(limits: { maxVmSteps?: number | undefined; timeoutMs: number }): number {
  const explicit = limits.maxVmSteps ?? 0;
  if (explicit > 0) return explicit;
  return Math.max(PROGRESS_OPS, Math.ceil(limits.timeoutMs * VM_STEPS_PER_MS));
}
