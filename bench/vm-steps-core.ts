/**
 * @module
 * What bench/vm-steps.ts measures, shared by its Node (Asyncify) and workerd
 * (JSPI and Asyncify) runs: SQLite VM steps per millisecond of wall time over
 * a mix of CPU-bound queries, counted with the same progress-handler interval
 * the engine uses. The queries read an `events` table (the `medium` fixture's
 * schema) or generate their rows with recursive CTEs.
 */
import { PROGRESS_OPS } from "../src/sql/vm-budget.ts";

export const EVENTS_SCHEMA = "CREATE TABLE events(id INTEGER PRIMARY KEY, ref TEXT, kind TEXT, amount INTEGER, payload TEXT, note TEXT, tag BLOB)";

/** Rows for an `events` table like the medium fixture's (used where that fixture is not at hand). */
export function eventsFill(rows: number): string {
  return `WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < ${rows})
    INSERT INTO events SELECT x, 'ref-' || (x % 5000), 'kind-' || (x % 7), x * 13 % 1000,
      hex(randomblob(60)), 'note ' || x, randomblob(16) FROM s`;
}

export const VM_STEP_QUERIES: readonly string[] = [
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 2000000) SELECT count(*) FROM c",
  "SELECT count(*), sum(amount), min(ref), max(length(payload)) FROM events",
  "SELECT count(*) FROM events WHERE payload LIKE '%ABC%'",
  "SELECT kind, count(*), sum(amount) FROM events GROUP BY kind",
  "SELECT ref FROM events ORDER BY payload LIMIT 5",
  "SELECT count(DISTINCT ref) FROM events",
  "SELECT count(*) FROM events WHERE id % 7 = 3 AND amount > 10 OR kind = 'x'",
  "SELECT json_group_array(id) IS NOT NULL FROM (SELECT id FROM events LIMIT 100000)",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) SELECT sum(length(printf('%d-%s', x, hex(x)))) FROM c",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 200000) SELECT count(*) FROM (SELECT x % 1000 AS k, count(*) FROM c GROUP BY k)",
  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 500000) SELECT max(x * 2 + 1 - x / 3) FROM c WHERE x % 3 <> 1",
];

export interface StepRate {
  sql: string;
  steps: number;
  ms: number;
  perMs: number;
}

/**
 * Runs `sql` `reps` times after one warm-up and keeps the fastest run: the
 * budget must allow for the fastest rate a query can reach.
 */
export async function measureSteps(sqlite3: SQLiteAPI, db: number, sql: string, reps = 3): Promise<StepRate> {
  let ticks = 0;
  sqlite3.progress_handler(db, PROGRESS_OPS, () => {
    ticks++;
    return 0;
  }, null);
  let best: StepRate | null = null;
  for (let i = 0; i <= reps; i++) {
    ticks = 0;
    const t0 = performance.now();
    await sqlite3.exec(db, sql);
    const ms = performance.now() - t0;
    const steps = ticks * PROGRESS_OPS;
    if (i > 0 && (best === null || steps / ms > best.perMs)) best = { sql, steps, ms, perMs: steps / ms };
  }
  return best as StepRate;
}

export function formatRates(label: string, rates: readonly StepRate[]): string {
  const lines = rates.map((r) => `| ${label} | ${Math.round(r.perMs)} | ${(r.steps / 1e6).toFixed(1)} M | ${r.ms.toFixed(0)} | \`${r.sql.slice(0, 70)}\` |`);
  const max = Math.max(...rates.map((r) => r.perMs));
  return [...lines, `| ${label} | **max ${Math.round(max)}** | | | |`].join("\n");
}
