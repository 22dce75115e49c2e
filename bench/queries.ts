/**
 * Query benchmark: the real Worker under `wrangler dev` (workerd, local R2,
 * Cache API, Durable Objects, wa-sqlite) serving the `medium` replica.
 * Counts are exact; times are reported next to each other from one run
 * (cold vs warm, and against a full restore of the same database).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "bin", "ltx-edge.mjs");

interface Meta {
  storage_requests: number;
  bytes_fetched: number;
  cache_hits: number;
  isolate_hits: number;
  cache_misses: number;
  pages_read: number;
  exec_ms: number;
  index_ms: number;
  index_sync_bytes: number;
  index_bytes: number;
  index_requests: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ltx-edge ${args[0]} exited ${code}`))));
  });
}

/** Stops a wrangler dev started in its own process group, and removes its local state. */
export async function stopDev(dev: ChildProcess, state: string): Promise<void> {
  if (dev.pid) {
    try {
      process.kill(-dev.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await new Promise((r) => setTimeout(r, 1500));
  await rm(state, { recursive: true, force: true });
}

export async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up`);
}

export interface QueryBenchResult {
  lines: string[];
}

/** Runs the query benchmark; `medium` is the replica directory. */
export async function benchQueries(medium: string, restoreMs: number | null): Promise<string[]> {
  const out: string[] = [];
  const state = await mkdtemp(join(tmpdir(), "ltx-edge-bench-state-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // One database per case, so every "cold" run starts with empty caches.
  for (const db of ["point", "ref", "scan", "group", "first"]) await run(["seed", medium, "--db", db, "--persist-to", state]);
  const dev = spawn(process.execPath, [CLI, "dev", "--no-seed", "--port", String(port), "--persist-to", state], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "ignore"],
    detached: true,
  });
  try {
    await waitFor(`${base}/health`, 60_000);
    const q = async (db: string, sql: string): Promise<{ rows: unknown[][]; meta: Meta; ms: number }> => {
      const t0 = performance.now();
      const res = await fetch(`${base}/db/${db}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql }) });
      const body = (await res.json()) as { rows: unknown[][]; meta: Meta; error?: { code: string; message: string } };
      if (!res.ok) throw new Error(`${sql}: ${body.error?.code} ${body.error?.message}`);
      return { ...body, ms: performance.now() - t0 };
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const cases: { name: string; db: string; sql: string }[] = [
      { name: "point lookup by primary key", db: "point", sql: "SELECT id, kind, amount FROM events WHERE id = 123457" },
      { name: "lookup through the secondary index", db: "ref", sql: "SELECT id, amount, substr(payload, 1, 30) FROM events WHERE ref = 'ref-000123456'" },
      { name: "full scan (count, sum, min, max)", db: "scan", sql: "SELECT count(*), sum(amount), min(id), max(id) FROM events" },
      { name: "GROUP BY over the table", db: "group", sql: "SELECT kind, count(*), sum(amount) FROM events GROUP BY kind ORDER BY kind LIMIT 5" },
    ];
    // The first request to each database also loads its index from the DO (see below).
    out.push("| query | cold: storage requests / bytes | cold ms (exec) | warm: storage requests / edge+isolate hits | warm ms, median of 5 (exec) | cold / warm |");
    out.push("|---|---|---|---|---|---|");
    for (const c of cases) {
      const cold = await q(c.db, c.sql);
      const warm: { meta: Meta; ms: number }[] = [];
      for (let i = 0; i < 5; i++) warm.push(await q(c.db, c.sql));
      const w = warm[warm.length - 1] as { meta: Meta; ms: number };
      const wms = median(warm.map((x) => x.ms));
      out.push(
        `| ${c.name} | ${cold.meta.storage_requests} / ${(cold.meta.bytes_fetched / 1e6).toFixed(2)} MB | ${cold.ms.toFixed(0)} (${cold.meta.exec_ms}) | ${w.meta.storage_requests} / ${w.meta.cache_hits}+${w.meta.isolate_hits} | ${wms.toFixed(1)} (${median(warm.map((x) => x.meta.exec_ms))}) | ${(cold.ms / wms).toFixed(1)}× |`,
      );
    }
    out.push("");
    out.push("The first row's cold time also includes instantiating wa-sqlite in the isolate.");
    const first = await q("first", "SELECT id, kind, amount FROM events WHERE id = 7");
    out.push("");
    out.push(
      `First request to a fresh database, a point lookup: ${first.ms.toFixed(0)} ms in all — the DO builds the index from the replica and ships its root (${first.meta.index_sync_bytes} bytes) in ${first.meta.index_ms} ms, the query loads the index chunks it touches (${first.meta.index_bytes} bytes in ${first.meta.index_requests} loads) and makes ${first.meta.storage_requests} storage requests for the pages.`,
    );
    if (restoreMs !== null) {
      out.push(`Restoring the whole database instead (every byte of the replica, decoded and verified, in Node): ${restoreMs.toFixed(0)} ms, ${(restoreMs / first.ms).toFixed(1)}× the time of that first lookup, before any query.`);
    }
  } finally {
    await stopDev(dev, state);
  }
  return out;
}
