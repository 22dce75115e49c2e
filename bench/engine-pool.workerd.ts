/**
 * Does a pool of 2 wasm instances pay? Several concurrent queries on
 * different databases whose pages arrive with artificial latency (a cold
 * read from R2/S3), run on an engine with 1 instance and with 2; plus a
 * CPU-bound mix with no I/O wait, where a second instance cannot help in a
 * single-threaded isolate. Wall times of one run each, next to each other,
 * and the engines' wasm memory. Run: `npx vitest run --config
 * bench/vitest.workerd.config.ts bench/engine-pool.workerd.ts`.
 */
import { beforeAll, test } from "vitest";
import { SqlEngine, type ExecLimits } from "../src/sql/engine.ts";
import { buildStandardDb, TestPageSource } from "../test/support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 600_000, maxQueued: 1000 };
const DATABASES = 4;
const QUERIES_PER_DB = 3;
let bytes: Uint8Array;

beforeAll(async () => {
  const db = await buildStandardDb(4096, 4000);
  bytes = db.bytes();
  await db.close();
});

async function round(instances: number, latencyMs: number, sql: string): Promise<{ ms: number; memory: number }> {
  const engine = await SqlEngine.create({ instances });
  // Warm every instance (each loads on first use) outside the measurement.
  await Promise.all(Array.from({ length: instances }, (_, i) => engine.execute(`warm${i}`, new TestPageSource(bytes, 1), [{ sql: "SELECT 1" }], LIMITS)));
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: DATABASES * QUERIES_PER_DB }, (_, k) => {
      // A fresh source per query: every page is a cold read with latency.
      const source = new TestPageSource(bytes, 100 + k);
      source.delayMs = latencyMs;
      return engine.execute(`db${k % DATABASES}`, source, [{ sql }], LIMITS);
    }),
  );
  return { ms: performance.now() - t0, memory: engine.memoryBytes };
}

test("engine pool: 1 vs 2 instances", async () => {
  const cases: [string, number, string][] = [
    ["I/O-bound (5 ms a page, ~60 pages a query)", 5, "SELECT count(*), sum(length(payload)) FROM items WHERE id % 7 = 0"],
    ["I/O-bound (1 ms a page)", 1, "SELECT count(*), sum(length(payload)) FROM items WHERE id % 7 = 0"],
    ["CPU-bound (no latency)", 0, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) SELECT count(*) FROM c"],
  ];
  const lines = ["| workload | 1 instance | 2 instances | speed-up | wasm memory 1 / 2 |", "|---|---|---|---|---|"];
  for (const [name, latency, sql] of cases) {
    const one = await round(1, latency, sql);
    const two = await round(2, latency, sql);
    lines.push(
      `| ${name} | ${one.ms.toFixed(0)} ms | ${two.ms.toFixed(0)} ms | ${(one.ms / two.ms).toFixed(2)}× | ${(one.memory / 2 ** 20).toFixed(1)} / ${(two.memory / 2 ** 20).toFixed(1)} MiB |`,
    );
  }
  console.log(`POOL\n${lines.join("\n")}`);
});
