/**
 * One isolate serving many databases round-robin, under `wrangler dev` (the
 * real Worker, its Durable Objects and local R2 in one workerd process):
 * every database is a copy of one small synthetic replica, each round makes
 * one point lookup on every database, and after each round the workerd
 * process's RSS (/proc) and the isolate's own figures (GET /health) are read.
 *
 * Not in vitest-pool-workers: its Durable Object class wraps its prototype in
 * one more Proxy on every construction, so a thousand objects overflow the
 * stack on a property lookup. Polling is set to hourly (a --var), so the
 * thousand objects do not poll during the rounds.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatLtxFilename } from "../src/ltx/txid.ts";
import { levelDir } from "../src/replica/replica.ts";
import { openLocalR2, putBytes } from "../src/cli/local-r2.ts";
import { locateProject, readBucketName } from "../src/cli/wrangler-config.ts";
import { type MemoryReading, workerdMemory } from "./proc-memory.ts";
import { startDev, stopDev } from "./dev-server.ts";
import type { SyntheticMeta } from "./synthetic-replica.ts";

const ROOT = join(import.meta.dirname, "..");

export interface MultiRound {
  round: number;
  ms?: number;
  storageRequests?: number;
  indexSyncBytes?: number;
  indexBytes?: number;
  memory: MemoryReading;
  health: Record<string, number>;
}

export interface MultiResult {
  databases: number;
  rounds: number;
  dbPages: number;
  ltxBytes: number;
  seedMs: number;
  rounds_: MultiRound[];
}

/** Runs `rounds` rounds over `databases` copies of the replica in `dir` (its snapshot file `meta.file`). */
export async function benchMulti(dir: string, meta: SyntheticMeta, databases: number, rounds: number, log: (s: string) => void): Promise<MultiResult> {
  const state = await mkdtemp(join(tmpdir(), "ltx-edge-bench-multi-"));
  const name = (i: number) => `multi-${String(i).padStart(4, "0")}`;
  const bytes = new Uint8Array(await readFile(join(dir, meta.file)));
  const t0 = Date.now();
  const r2 = await openLocalR2(state, readBucketName(locateProject(ROOT)));
  try {
    for (let i = 0; i < databases; i++) await putBytes(r2.bucket, `${levelDir(name(i), "s3", 9)}${formatLtxFilename(1, 1)}`, bytes);
  } finally {
    await r2.dispose();
  }
  const seedMs = Date.now() - t0;
  // Polling hourly: the thousand objects do not poll during the rounds.
  const { base, process: dev } = await startDev(state, { DATABASES: { poll_interval_ms: 3_600_000 } });
  const out: MultiRound[] = [];
  try {
    const health = async (): Promise<Record<string, number>> => ((await (await fetch(`${base}/health`)).json()) as { isolate: Record<string, number> }).isolate;
    const memory = () => workerdMemory(dev.pid ?? 0);
    out.push({ round: 0, memory: memory(), health: await health() });
    for (let round = 1; round <= rounds; round++) {
      const r0 = Date.now();
      let storage = 0;
      let sync = 0;
      let indexBytes = 0;
      for (let i = 0; i < databases; i++) {
        // Each round asks every database for another row.
        const id = 1 + ((i * 7 + round * 13) % meta.rows);
        const res = await fetch(`${base}/db/${name(i)}/query`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ sql: "SELECT id, length(b) FROM t WHERE id = ?", params: [id] }),
        });
        const body = (await res.json()) as { rows: unknown[][]; meta: Record<string, number>; error?: { code: string; message: string } };
        if (!res.ok || body.rows[0]?.[1] !== meta.blobBytes) throw new Error(`${name(i)} row ${id}: ${res.status} ${JSON.stringify(body.error ?? body.rows)}`);
        storage += body.meta.storage_requests ?? 0;
        sync += body.meta.index_sync_bytes ?? 0;
        indexBytes += body.meta.index_bytes ?? 0;
      }
      out.push({ round, ms: Date.now() - r0, storageRequests: storage, indexSyncBytes: sync, indexBytes, memory: memory(), health: await health() });
      log(`  round ${round}: ${((Date.now() - r0) / 1000).toFixed(1)} s, RSS ${(memory().rss / 2 ** 20).toFixed(0)} MiB`);
    }
  } finally {
    await stopDev(dev, state);
  }
  return { databases, rounds, dbPages: meta.pages, ltxBytes: bytes.length, seedMs, rounds_: out };
}
