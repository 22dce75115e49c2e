/**
 * `ltx-edge query` (the CLI, bin/ltx-edge.mjs from dist/): one process per
 * query, so every run is cold — a new Node process, wa-sqlite instantiated,
 * the index read from the replica directory, pages range-read from the LTX
 * files. Wall time from spawn to exit, and the engine's own figures (--json).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fingerprint, type QueryKind } from "./query-kinds.ts";
import { type Summary, summarize } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "bin", "ltx-edge.mjs");

interface CliReply {
  rows: unknown[][];
  meta: { exec_ms: number; index_ms: number; storage_requests: number; engine: string };
}

function queryOnce(replica: string, sql: string): Promise<{ ms: number; reply: CliReply }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [CLI, "query", replica, sql, "--json"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on("data", (b: Buffer) => out.push(b));
    p.stderr.on("data", (b: Buffer) => err.push(b));
    p.on("error", reject);
    p.on("exit", (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`ltx-edge query exited ${code}: ${Buffer.concat(err).toString("utf8").trim()}`));
      else resolve({ ms, reply: JSON.parse(Buffer.concat(out).toString("utf8")) as CliReply });
    });
  });
}

export interface CliKind {
  wall: Summary;
  exec: Summary;
  index: Summary;
  storage: number;
  engine: string;
  fp: string;
}

/** `reps` runs of every kind (one process each) against the replica directory. */
export async function benchCli(replica: string, kinds: readonly QueryKind[], reps: number): Promise<{ kinds: Record<string, CliKind>; errors: string[] }> {
  const out: Record<string, CliKind> = {};
  const errors: string[] = [];
  for (const k of kinds) {
    const runs: { ms: number; reply: CliReply }[] = [];
    try {
      for (let i = 0; i < reps; i++) runs.push(await queryOnce(replica, k.sql));
    } catch (e) {
      errors.push(`CLI ${k.id}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const first = runs[0];
    if (!first) continue;
    out[k.id] = {
      wall: summarize(runs.map((r) => r.ms)),
      exec: summarize(runs.map((r) => r.reply.meta.exec_ms)),
      index: summarize(runs.map((r) => r.reply.meta.index_ms)),
      storage: first.reply.meta.storage_requests,
      engine: first.reply.meta.engine,
      fp: fingerprint(first.reply.rows),
    };
  }
  return { kinds: out, errors };
}
