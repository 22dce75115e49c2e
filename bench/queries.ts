/**
 * ltx-edge over HTTP: the real Worker under `wrangler dev` (workerd, local
 * R2, Durable Objects, the Cache API) serving the `medium` replica, each
 * query kind of bench/query-kinds.ts
 * - cold: the first query on a fresh database (its Durable Object builds the
 *   index; nothing cached anywhere) — one database name per run, all
 *   pointing at the same replica through DATABASES;
 * - isolate-warm: the same database queried again and again;
 * - Cache-API-warm: after a restart of wrangler dev (a new isolate; R2, the
 *   Durable Objects and the Cache API persist), one query per database, with
 *   wa-sqlite loaded first by a query on another database;
 * and the isolate's memory (GET /health, workerd RSS from /proc) during a
 * full scan and with 20 queued queries. Wall times are Node's; `exec` is the
 * Worker's meta.exec_ms.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { type DevServer, startDev, stopGroup } from "./dev-server.ts";
import { isolateHealth, mustQuery, postQuery, type QueryReply } from "./http-query.ts";
import { type MemoryReading, resetPeak, workerdMemory } from "./proc-memory.ts";
import { fingerprint, type QueryKind } from "./query-kinds.ts";
import { type Summary, summarize } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "bin", "ltx-edge.mjs");
const SAMPLE = join(ROOT, "test", "fixtures", "small");

export interface HttpSeries {
  wall: Summary;
  exec: Summary;
  index: Summary;
  storage: number;
  cacheHits: number;
  isolateHits: number;
  subrequests: number;
  fp: string;
}

export interface MemoryStep {
  label: string;
  before: MemoryReading;
  after: MemoryReading;
  /** Largest GET /health figures seen while it ran (sampled), and after it. */
  healthMax: Record<string, number>;
  healthAfter: Record<string, number>;
  ms: number;
  statuses: Record<string, number>;
}

export interface HttpResult {
  kinds: Record<string, { cold?: HttpSeries; warm?: HttpSeries; cacheWarm?: HttpSeries }>;
  memory: MemoryStep[];
  restartMs: number[];
  engine: string;
  errors: string[];
}

export interface HttpOptions {
  cold: number;
  warm: number;
  restarts: number;
  queued: number;
}

function seed(replica: string, db: string, state: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, "seed", replica, "--db", db, "--persist-to", state], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ltx-edge seed exited ${code}`))));
  });
}

function series(runs: QueryReply[]): HttpSeries {
  const med = (xs: number[]) => summarize(xs).median;
  return {
    wall: summarize(runs.map((r) => r.ms)),
    exec: summarize(runs.map((r) => r.meta.exec_ms)),
    index: summarize(runs.map((r) => r.meta.index_ms)),
    storage: med(runs.map((r) => r.meta.storage_requests)),
    cacheHits: med(runs.map((r) => r.meta.cache_hits)),
    isolateHits: med(runs.map((r) => r.meta.isolate_hits)),
    subrequests: med(runs.map((r) => r.meta.subrequests)),
    fp: fingerprint(runs[0]?.rows ?? []),
  };
}

/** Runs `work` while sampling GET /health every 50 ms; the peak RSS is reset first. */
async function measureMemory(dev: DevServer, label: string, work: () => Promise<QueryReply[]>): Promise<MemoryStep> {
  const root = dev.process.pid ?? 0;
  resetPeak(root);
  const before = workerdMemory(root);
  const healthMax: Record<string, number> = {};
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try {
        for (const [k, v] of Object.entries(await isolateHealth(dev.base))) healthMax[k] = Math.max(healthMax[k] ?? 0, v);
      } catch {
        // a sample lost under load is no result
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const t0 = Date.now();
  const replies = await work().finally(() => {
    done = true;
  });
  const ms = Date.now() - t0;
  await sampler;
  const after = workerdMemory(root);
  const healthAfter = await isolateHealth(dev.base);
  for (const [k, v] of Object.entries(healthAfter)) healthMax[k] = Math.max(healthMax[k] ?? 0, v);
  const statuses: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status === 200 ? "200" : `${r.status} ${r.error?.code ?? ""}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  return { label, before, after, healthMax, healthAfter, ms, statuses };
}

/** The HTTP benchmark on the replica directory `medium`. */
export async function benchHttp(medium: string, kinds: readonly QueryKind[], o: HttpOptions, log: (s: string) => void): Promise<HttpResult> {
  const state = await mkdtemp(join(tmpdir(), "ltx-edge-bench-http-"));
  const result: HttpResult = { kinds: {}, memory: [], restartMs: [], engine: "", errors: [] };
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      result.errors.push(`HTTP ${what}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  };
  // Every database below is the same replica (prefix "medium") under its own name: its own
  // Durable Object, index and cache keys, so each name starts cold.
  const names: Record<string, { prefix: string }> = {};
  for (const k of kinds) {
    for (let i = 0; i < o.cold; i++) names[`c-${k.id}-${i}`] = { prefix: "medium" };
    names[`w-${k.id}`] = { prefix: "medium" };
  }
  names["m-scan"] = { prefix: "medium" };
  const vars = { DATABASES: { databases: names } };
  await seed(medium, "medium", state);
  await seed(SAMPLE, "warmup", state);
  let dev = await startDev(state, vars);
  try {
    // wa-sqlite is loaded by a query on another database, before anything is measured.
    result.engine = (await mustQuery(dev.base, "warmup", "SELECT count(*) FROM users")).meta.engine;
    log("  HTTP: cold and isolate-warm");
    for (const k of kinds) {
      const entry: HttpResult["kinds"][string] = {};
      result.kinds[k.id] = entry;
      const cold = await attempt(`${k.id} cold`, async () => {
        const runs: QueryReply[] = [];
        for (let i = 0; i < o.cold; i++) runs.push(await mustQuery(dev.base, `c-${k.id}-${i}`, k.sql));
        return runs;
      });
      if (cold) entry.cold = series(cold);
      const warm = await attempt(`${k.id} isolate-warm`, async () => {
        for (let i = 0; i < 2; i++) await mustQuery(dev.base, `w-${k.id}`, k.sql);
        const runs: QueryReply[] = [];
        for (let i = 0; i < o.warm; i++) runs.push(await mustQuery(dev.base, `w-${k.id}`, k.sql));
        return runs;
      });
      if (warm) entry.warm = series(warm);
    }
    log("  HTTP: memory");
    const scan = kinds.find((k) => k.id === "scan") ?? kinds[0];
    if (scan) {
      const d = dev;
      const step = (label: string, work: () => Promise<QueryReply[]>) => attempt(`memory, ${label}`, () => measureMemory(d, label, work));
      const push = (m: MemoryStep | undefined) => m && result.memory.push(m);
      push(await step("idle, before", async () => [await mustQuery(d.base, "warmup", "SELECT 1")]));
      push(await step("full scan, cold (fresh database)", async () => [await mustQuery(d.base, "m-scan", scan.sql)]));
      push(await step("full scan, isolate-warm", async () => [await mustQuery(d.base, "m-scan", scan.sql)]));
      // Full scans and GROUP BYs at once on two warm databases: one runs, the rest queue for the engine.
      const heavy = kinds.filter((k) => k.id === "scan" || k.id === "group");
      push(
        await step(`${o.queued} queries at once (full scans and GROUP BYs)`, () =>
          Promise.all(Array.from({ length: o.queued }, (_, i) => {
            const k = heavy[i % heavy.length] ?? scan;
            return postQuery(d.base, `w-${k.id}`, k.sql);
          })),
        ),
      );
    }
    // Cache-API-warm: a new isolate each time, everything else persisted.
    const cacheWarm: Record<string, QueryReply[]> = {};
    for (let r = 0; r < o.restarts; r++) {
      log(`  HTTP: Cache-API-warm, restart ${r + 1} of ${o.restarts}`);
      await stopGroup(dev.process);
      const t0 = Date.now();
      dev = await startDev(state, vars);
      result.restartMs.push(Date.now() - t0);
      await mustQuery(dev.base, "warmup", "SELECT count(*) FROM users");
      for (const k of kinds) {
        const d = dev;
        const reply = await attempt(`${k.id} Cache-API-warm`, () => mustQuery(d.base, `w-${k.id}`, k.sql));
        if (reply) (cacheWarm[k.id] ??= []).push(reply);
      }
    }
    for (const k of kinds) {
      const runs = cacheWarm[k.id];
      const entry = result.kinds[k.id];
      if (runs && entry) entry.cacheWarm = series(runs);
    }
  } finally {
    await stopGroup(dev.process);
    await rm(state, { recursive: true, force: true });
  }
  return result;
}
