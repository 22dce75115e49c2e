/**
 * Issue 9's benchmark, side by side in one run on the `medium` replica:
 * wa-sqlite in memory and ltx-edge's engine over its page fetcher inside
 * workerd (bench/side.ts), the naive one-request-per-page VFS, better-sqlite3
 * on the restored file, ltx-edge over HTTP and through `ltx-edge query`, then
 * isolate memory, replication lag and a soak with a changing replica.
 * Returns the RESULTS.md lines; reports only, never fails on a time.
 *
 * Sizes (env): LTX_EDGE_BENCH_SOAK_S (soak seconds, default 180),
 * LTX_EDGE_BENCH_SOAK_CLIENTS (default 4); LTX_EDGE_BENCH_SMOKE=1 shrinks
 * every repetition count to check the harness.
 */
import { benchCli } from "./cli-bench.ts";
import { benchLive } from "./live.ts";
import { benchNative, ensureBetterSqlite3, type NativeResult } from "./native.ts";
import { benchHttp } from "./queries.ts";
import { KINDS } from "./query-kinds.ts";
import { lagSection, memorySection, soakSection } from "./report-live.ts";
import { sideSections } from "./report-side.ts";
import { benchSide } from "./side.ts";

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

export async function benchIssue9(medium: string, restored: { path: string; txid: number }, log: (s: string) => void): Promise<string[]> {
  const smoke = process.env.LTX_EDGE_BENCH_SMOKE === "1";
  const t0 = Date.now();
  const took: string[] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    log(`issue 9: ${name}`);
    try {
      return await fn();
    } finally {
      took.push(`${name} ${((Date.now() - s) / 1000).toFixed(0)} s`);
    }
  };

  const side = await step("workerd: in memory, engine, naive VFS", () =>
    benchSide(medium, restored.path, {
      reps: smoke ? { memory: 3, warm: 3, cold: 2, cacheWarm: 2 } : { memory: 15, warm: 15, cold: 5, cacheWarm: 5 },
      naiveReps: smoke ? { point: 1, range: 1, scan: 1, group: 0, join: 0, scatter: 0 } : { point: 3, range: 3, scan: 1, group: 1, join: 1, scatter: 1 },
      builds: ["jspi", "asyncify"],
      naiveBuilds: ["jspi"],
    }),
  );
  let native: NativeResult | null = null;
  let nativeError: string | null = null;
  await step("better-sqlite3", async () => {
    const lib = await ensureBetterSqlite3(log);
    if ("error" in lib) nativeError = `better-sqlite3: ${lib.error}`;
    else native = benchNative(lib, restored.path, KINDS, smoke ? 3 : 10, smoke ? 5 : 30);
  });
  const cli = await step("ltx-edge query (CLI)", () => benchCli(medium, KINDS, smoke ? 2 : 5));
  const http = await step("HTTP under wrangler dev", () => benchHttp(medium, KINDS, smoke ? { cold: 2, warm: 3, restarts: 1, queued: 20 } : { cold: 5, warm: 15, restarts: 5, queued: 20 }, log));
  const live = await step("replication lag and soak", async () => {
    const lib = await ensureBetterSqlite3(log);
    if ("error" in lib) return null;
    return benchLive(
      lib,
      medium,
      restored.path,
      restored.txid,
      {
        lagSamples: smoke ? 3 : 8,
        controlSeconds: smoke ? 15 : 60,
        soak: { seconds: smoke ? 30 : envInt("LTX_EDGE_BENCH_SOAK_S", 180), clients: envInt("LTX_EDGE_BENCH_SOAK_CLIENTS", 4), writeEveryMs: 500, compactEvery: 10, retentionMs: 60_000, sampleEveryMs: 5_000 },
      },
      log,
    );
  });

  const lines: string[] = [];
  const out = (x = "") => lines.push(x);
  const summary: string[] = [];
  const sum = (row: string) => summary.push(row);
  const body: string[] = [];
  const bodyOut = (x = "") => body.push(x);
  if (side.exitCode !== 0) bodyOut(`**The workerd benchmark exited with code ${side.exitCode}; the tables show what it reported.**\n`);
  sideSections({ kinds: KINDS, native, nativeError, side: side.results, http, cli }, bodyOut, sum);
  memorySection(http.memory, bodyOut, sum);
  if (live) {
    lagSection(live, bodyOut, sum);
    soakSection(live, bodyOut, sum);
    for (const e of live.errors) bodyOut(`- live: ${e}`);
  } else bodyOut("Replication lag and soak skipped: better-sqlite3 is not available.\n");

  out("## Issue 9: side by side on `medium`");
  out();
  out("Every engine on the same machine in one run, on the `medium` fixture (31 MB, 180,000 rows): better-sqlite3 on the restored");
  out("file; wa-sqlite with the database in memory in workerd (the ceiling of the wasm path); ltx-edge's engine over its real page");
  out("fetcher in workerd, JSPI and Asyncify builds (bench/side.workerd.ts); ltx-edge over HTTP under `wrangler dev` and through");
  out("`ltx-edge query`; and a naive VFS that makes one storage request per page, as the original Litestream VFS did.");
  out();
  out("### Issue 9 targets at a glance");
  out();
  out("| target | measured | |");
  out("|---|---|---|");
  for (const r of summary) out(r);
  out();
  lines.push(...body);
  out(`These sections took ${((Date.now() - t0) / 60_000).toFixed(1)} min (${took.join(", ")}).`);
  out();
  return lines;
}
