/**
 * The benchmarks on synthetic replicas (issue 8): generates (or finds in the
 * cache) the replicas, runs bench/large.workerd.ts in workerd, and turns its
 * results into RESULTS.md sections, each figure next to its target.
 *
 * LTX_EDGE_BENCH_SKIP_100G=1 leaves out the 100 GB replica; LTX_EDGE_BENCH_SMOKE=1
 * also shrinks the rest (1 GiB only, 20 databases, 10 simulated minutes of
 * polling) to check the harness in a few minutes.
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { formatLtxFilename } from "../src/ltx/txid.ts";
import { encodeLtxFile } from "../src/ltx/writer.ts";
import type { BenchPlan, PlannedReplica } from "./large-plan.ts";
import { type MultiResult, type MultiRound, benchMulti } from "./multi.ts";
import type { MemoryReading } from "./proc-memory.ts";
import { CACHE_ROOT, CACHE_VERSION, type SyntheticMeta, ensureSyntheticReplica, replicaDir } from "./synthetic-replica.ts";
import { SyntheticDb, type SyntheticSpec } from "./synthetic-db.ts";

const ROOT = join(import.meta.dirname, "..");
const GiB = 2 ** 30;
const MiB = 2 ** 20;
/** R2's published prices (developers.cloudflare.com/r2/pricing, Standard storage), $ per operation. */
const CLASS_A = 4.5 / 1e6;
const CLASS_B = 0.36 / 1e6;

const SMALL: SyntheticSpec = { pageSize: 4096, targetPages: 1000, overflowPages: 8 };
const SIZES: { label: string; pages: number }[] = [
  { label: "1 GiB", pages: GiB / 4096 },
  { label: "10 GiB", pages: (10 * GiB) / 4096 },
  { label: "100 GiB", pages: (100 * GiB) / 4096 },
];

function slug(label: string): string {
  return label.toLowerCase().replace(/\s+/g, "");
}

/** What the bench needs to know about a replica, from its generator (cheap to construct again). */
async function planned(meta: SyntheticMeta, withDelta: boolean): Promise<PlannedReplica> {
  const db = new SyntheticDb(meta.spec);
  const probeId = Math.ceil((db.rows * 2) / 3);
  const r: PlannedReplica = { meta, probeId, probePath: db.pathOf(probeId), pollPage: { pgno: db.overflowPage(1, 0), next: db.overflowPage(1, 1) } };
  if (withDelta) {
    // A write as Litestream ships it: page 1 (change counter), and two overflow pages far apart.
    const marker = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    const a = db.overflowPage(probeId, 0);
    const b = db.overflowPage(db.rows, db.overflowPages - 1);
    const file = encodeLtxFile({ pageSize: db.pageSize, commit: db.pages, minTxid: 2, maxTxid: 2, timestamp: Date.UTC(2026, 0, 2) }, [
      [1, db.schemaPage(2)],
      [a, db.overflowPageWith(probeId, 0, marker)],
      [b, db.overflowPageWith(db.rows, db.overflowPages - 1, marker)],
    ]);
    const rel = join(meta.name, "extra", formatLtxFilename(2, 2));
    await mkdir(join(replicaDir(meta.name), "extra"), { recursive: true });
    await writeFile(join(CACHE_ROOT, CACHE_VERSION, rel), file);
    r.delta = {
      file: rel,
      pages: [1, a, b],
      sql: `SELECT hex(substr(b, ${db.blobOffsetOfOverflow(0)}, 4)) FROM t WHERE id = ${probeId}`,
      expect: "DEADBEEF",
    };
  }
  return r;
}

function run(cmd: string, args: string[], envExtra: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...envExtra } });
    p.on("error", reject);
    p.on("exit", (code) => resolve(code ?? 1));
  });
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const held = (ok: boolean) => (ok ? "**held**" : "**NOT held**");
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The `meta` of a query response (the fields read here). */
interface QueryMeta {
  index_sync_bytes: number;
  index_bytes: number;
  index_requests: number;
  storage_requests: number;
  bytes_fetched: number;
  pages_read: number;
  index_ms: number;
  exec_ms: number;
}

interface LargeResult {
  label: string;
  meta: SyntheticMeta;
  uploadMs: number;
  rootBytes: number;
  build: {
    ms: number;
    status: { indexChunks: number; indexBytes: number; storage: { gets: number; lists: number; heads: number; bytes: number }; rowsWritten: number; position: { commit: number } | null };
    memory: { before: MemoryReading; after: MemoryReading };
  };
  query: {
    rows: unknown[][];
    ms: number;
    meta: QueryMeta;
    memory: { before: MemoryReading; after: MemoryReading };
    health: { before: Record<string, number>; after: Record<string, number> };
    path: number[];
    chunks: number[];
  };
  delta?: {
    l0Bytes: number;
    pages: number[];
    pageChunks: number[];
    pollMs: number;
    memory: { before: MemoryReading; after: MemoryReading };
    rowsWritten: number;
    rpc: { kind: string; chunks?: number[]; idBytes?: number; otherBytes?: number };
    check: { rows: unknown[][]; expect: string; meta: QueryMeta };
  };
}

interface PollRun {
  seconds: number;
  simulatedMs: number;
  wallMs: number;
  alarms: number;
  polls: number;
  filesSent: number;
  txidFrom: number | null;
  txidTo: number | null;
  lists: number;
  gets: number;
  heads: number;
  finalIntervalMs: number;
  lastError: { code: string; message: string } | null;
}

function largeSections(results: Record<string, unknown>, labels: string[], out: (s?: string) => void, sum: (row: string) => void): void {
  const rs = labels.map((l) => results[`large:${slug(l)}`] as LargeResult | undefined).filter((r): r is LargeResult => r !== undefined);
  out("## Synthetic replicas: the chunked page index");
  out();
  out("Real SQLite databases made page by page (bench/synthetic-db.ts: `t(id INTEGER PRIMARY KEY, b BLOB)`, rows of zero-filled");
  out("blobs in 8 overflow pages each, the table b-tree packed and laid out in pre-order; `PRAGMA integrity_check` passes),");
  out("one snapshot LTX file each, copied into local R2; the Durable Object builds its index from it in workerd. Memory is");
  out("the workerd process's (the Worker, its Durable Objects and local R2 share it), read from /proc: VmRSS before the");
  out("build, the peak (VmHWM, reset just before) and VmRSS after; garbage of earlier steps collected during a build can");
  out("make the peak lower than the RSS before it.");
  out();
  out("| database | pages | rows / b-tree depth | snapshot LTX | DO build (status → index) | DO storage reads | chunks in DO storage | root | process RSS before → peak during → after the build |");
  out("|---|---|---|---|---|---|---|---|---|");
  for (const r of rs) {
    const b = r.build;
    out(
      `| ${r.label} | ${int(r.meta.pages)} | ${int(r.meta.rows)} / ${r.meta.depth} | ${(r.meta.fileBytes / 1e6).toFixed(1)} MB | ${s(b.ms)} | ${b.status.storage.gets} GETs, ${mib(b.status.storage.bytes)} | ${int(b.status.indexChunks)} = ${mib(b.status.indexBytes)} (${(b.status.indexBytes / b.status.indexChunks / 1024).toFixed(1)} KiB each) | ${kib(r.rootBytes)} | ${(b.memory.before.rss / MiB).toFixed(0)} → ${(b.memory.after.hwm / MiB).toFixed(0)} → ${(b.memory.after.rss / MiB).toFixed(0)} MiB |`,
    );
  }
  out();
  const base = rs[0];
  if (base && rs.length > 1) {
    out(`Build time against the ${base.label} build of the same run: ${rs.map((r) => `${r.label} ${(r.build.ms / base.build.ms).toFixed(1)}× for ${(r.meta.pages / base.meta.pages).toFixed(0)}× the pages`).join(", ")}.`);
    out();
  }
  out("## First query on a cold replica");
  out();
  out("`SELECT id, length(b) FROM t WHERE id = ?` (a row two thirds in), the first request for the database in this isolate: it");
  out("syncs the root and loads the chunks it touches (wa-sqlite was loaded before, by a query on another database). Memory is");
  out("the workerd process's (Worker, DOs and local R2 share it): RSS before → after the query, and the peak during it.");
  out();
  out("| database | rows | index shipped (root + chunks) ≤ 1 MiB | storage requests ≤ depth + 2 | pages read | isolate memory growth ≤ 32 MiB (RSS / peak) | time |");
  out("|---|---|---|---|---|---|---|");
  for (const r of rs) {
    const m = r.query.meta;
    const shipped = m.index_sync_bytes + m.index_bytes;
    const growth = r.query.memory.after.rss - r.query.memory.before.rss;
    const peak = r.query.memory.after.hwm - r.query.memory.before.rss;
    if (r.label !== "1gib") {
      sum(`| ${r.label}: first query, index shipped ≤ 1 MiB | ${kib(shipped)} (root ${kib(m.index_sync_bytes)} + ${m.index_requests} chunks) | ${held(shipped <= MiB)} |`);
      sum(`| ${r.label}: first query, storage requests ≤ depth + 2 | ${m.storage_requests}, b-tree depth ${r.meta.depth} | ${held(m.storage_requests <= r.meta.depth + 2)} |`);
      sum(`| ${r.label}: first query, isolate memory growth ≤ 32 MiB | RSS +${mib(growth)}, peak +${mib(peak)} | ${held(Math.max(growth, peak) <= 32 * MiB)} |`);
    }
    out(
      `| ${r.label} | ${JSON.stringify(r.query.rows)} | ${kib(m.index_sync_bytes)} root + ${kib(m.index_bytes)} in ${m.index_requests} chunk load(s) = ${kib(shipped)}: ${held(shipped <= MiB)} | ${m.storage_requests} (${(m.bytes_fetched / 1024).toFixed(0)} KiB), depth ${r.meta.depth}: ${held(m.storage_requests <= r.meta.depth + 2)} | ${m.pages_read} (pages ${r.query.path.join(", ")}; chunks ${r.query.chunks.join(", ")}) | ${mib(growth)} / ${mib(peak)}: ${held(Math.max(growth, peak) <= 32 * MiB)} | ${r.query.ms} ms (index ${m.index_ms} ms, exec ${m.exec_ms} ms) |`,
    );
  }
  out();
  const big = rs.find((r) => r.label === "100 GiB");
  if (big) {
    const peak = big.build.memory.after.hwm - big.build.memory.before.rss;
    sum(`| 100gib: DO memory during the index build ≤ 64 MiB | process peak ${mib(peak)} over its RSS before; build ${s(big.build.ms)} | ${held(peak <= 64 * MiB)} |`);
    out(
      `100 GiB: Durable Object memory during the index build ≤ 64 MiB: the process peaked ${mib(peak)} ${peak >= 0 ? "above" : "below"} its RSS before the build (${mib(big.build.memory.before.rss)}) while the DO streamed ${mib(big.build.status.storage.bytes)} of page index and wrote ${mib(big.build.status.indexBytes)} of chunks — ${held(peak <= 64 * MiB)}; build time ${s(big.build.ms)}.`,
    );
    out();
  }
  const d = rs.find((r) => r.delta);
  if (d?.delta) {
    const x = d.delta;
    const rpcBytes = (x.rpc.idBytes ?? 0) + (x.rpc.otherBytes ?? 0);
    sum(`| ${d.label}: root delta over RPC ≤ 1 KiB after a 3-page L0 | ${rpcBytes} B (${x.rpc.chunks?.length ?? "?"} chunk ids) | ${held(x.rpc.kind === "delta" && rpcBytes <= 1024)} |`);
    sum(`| ${d.label}: DO work O(changed chunks) | ${x.rpc.chunks?.length ?? "?"} of ${int(d.build.status.indexChunks)} chunks rewritten; poll ${x.pollMs} ms vs build ${s(d.build.ms)} | ${held((x.rpc.chunks?.length ?? Infinity) <= x.pageChunks.length)} |`);
    out(`## Delta after one 3-page L0 file (${d.label})`);
    out();
    out("| measure | value |");
    out("|---|---|");
    out(`| L0 file | ${x.l0Bytes} B: pages ${x.pages.join(", ")} (chunks ${x.pageChunks.join(", ")}) |`);
    out(`| DO poll that applied it (refresh RPC) | ${x.pollMs} ms, against ${s(d.build.ms)} for the full build: ${(d.build.ms / Math.max(1, x.pollMs)).toFixed(0)}× less |`);
    out(`| chunks rewritten | ${x.rpc.chunks?.length ?? "?"} (${x.rpc.chunks?.join(", ") ?? ""}) of ${int(d.build.status.indexChunks)}; DO storage rows written by the poll: ${x.rowsWritten} |`);
    out(`| root delta over RPC ≤ 1 KiB | ${x.rpc.kind}: ${x.rpc.idBytes ?? 0} B of chunk numbers and ids + ${x.rpc.otherBytes ?? 0} B of position and freshness (as JSON) = ${rpcBytes} B: ${held(x.rpc.kind === "delta" && rpcBytes <= 1024)} (full root: ${kib(d.rootBytes)}) |`);
    out(`| next query (the changed row) | ${JSON.stringify(x.check.rows)} (expected ${x.check.expect}); index_sync_bytes ${x.check.meta.index_sync_bytes}, chunks loaded ${kib(x.check.meta.index_bytes)}, storage requests ${x.check.meta.storage_requests} |`);
    out(`| process memory during the poll (RSS growth / peak growth) | ${mib(x.memory.after.rss - x.memory.before.rss)} / ${mib(x.memory.after.hwm - x.memory.before.rss)} |`);
    out();
  }
}

function multiSection(r: MultiResult, out: (s?: string) => void, sum: (row: string) => void): void {
  out(`## One isolate, ${r.databases} databases round-robin`);
  out();
  out(`${r.databases} databases (each ${int(r.dbPages)} pages, a ${(r.ltxBytes / 1024).toFixed(0)} KiB snapshot), one point lookup on each per round, under \`wrangler dev\`. Memory is`);
  out(`the workerd process's RSS after the round (it also holds the ${r.databases} Durable Objects and local R2); the isolate's own figures are GET /health's.`);
  out();
  out("| round | time | storage requests | index synced + loaded | process RSS | isolate: live indexes / chunks / segments + pages / engine | databases held |");
  out("|---|---|---|---|---|---|---|");
  for (const x of r.rounds_) {
    const h = x.health;
    out(
      `| ${x.round === 0 ? "before" : x.round} | ${x.ms !== undefined ? s(x.ms) : ""} | ${x.storageRequests ?? ""} | ${x.indexSyncBytes !== undefined ? `${kib(x.indexSyncBytes ?? 0)} + ${mib(x.indexBytes ?? 0)}` : ""} | ${mib(x.memory.rss)} | ${kib(h.liveIndexBytes ?? 0)} / ${mib(h.indexChunkBytes ?? 0)} / ${mib((h.segmentCacheBytes ?? 0) + (h.pageCacheBytes ?? 0))} / ${mib(h.engineMemoryBytes ?? 0)} | ${h.databases ?? 0} |`,
    );
  }
  // Round 1 creates every index and Durable Object, round 2 revalidates every root: warm-up.
  const later = r.rounds_.filter((x) => x.round >= 3);
  if (later.length >= 2) {
    const rss = later.map((x) => x.memory.rss);
    const spread = Math.max(...rss) - Math.min(...rss);
    const first = later[0] as MultiRound;
    const last = later[later.length - 1] as MultiRound;
    sum(`| ${r.databases} databases round-robin: memory flat after warm-up | RSS ${mib(first.memory.rss)} (round ${first.round}) → ${mib(last.memory.rss)} (round ${last.round}) | ${held(spread <= 0.05 * Math.min(...rss))} |`);
    out();
    out(
      `After warm-up (rounds 3–${r.rounds}): RSS between ${mib(Math.min(...rss))} and ${mib(Math.max(...rss))}, ${mib(last.memory.rss - first.memory.rss)} from round ${first.round} to ${last.round} (${(((last.memory.rss - first.memory.rss) / first.memory.rss) * 100).toFixed(1)}%) — flat within 5%: ${held(spread <= 0.05 * Math.min(...rss))}.`,
    );
  }
  out();
}

function pollingSection(r: Record<string, unknown> | undefined, out: (s?: string) => void, sum: (row: string) => void): void {
  if (!r) return;
  const base = r.baseIntervalMs as number;
  out("## Polling costs (R2 operations per database)");
  out();
  out(`The DO's alarms driven with runDurableObjectAlarm over simulated time at the default ${base / 1000} s poll interval (its own back-off`);
  out(`applies); operations read from its status().storage counters. Busy: an L0 file every ${1 / (r.busyFilesPerSecond as number)} s. Prices: R2 Standard,`);
  out("Class A (LIST) $4.50 / million, Class B (GET, HEAD) $0.36 / million, 730 h a month, before the free allowance.");
  out("Before: the old DO listed level 0 on every poll (one Class A per poll), with the same reads of new files.");
  out();
  out("| database | simulated | polls/hour | Class A/hour | Class B/hour (HEAD + GET) | $/month | before: Class A/hour, $/month | Class A ratio (now / before) |");
  out("|---|---|---|---|---|---|---|---|");
  for (const [label, key] of [
    ["idle (no request for idle_after_ms)", "idle"],
    ["quiet (queried, no writes)", "quiet"],
    ["busy (queried, writes)", "busy"],
  ] as const) {
    const p = r[key] as PollRun;
    // An idle database's alarms stop: its hour is the whole simulated span, not the time its alarms covered.
    const hours = (key === "idle" ? p.seconds * 1000 : p.simulatedMs) / 3_600_000;
    const per = (n: number) => n / hours;
    const a = per(p.lists);
    const b = per(p.gets + p.heads);
    const oldA = per(p.polls);
    const oldB = per(p.gets);
    const month = (x: number, y: number) => `$${((x * CLASS_A + y * CLASS_B) * 730).toFixed(2)}`;
    sum(`| polling, ${key}: Class A / Class B per hour | ${a.toFixed(1)} / ${int(b)}, ${month(a, b)} a month; before ${int(oldA)} Class A | ${oldA > 0 && a > 0 ? `${(oldA / a).toFixed(0)}× fewer Class A` : "no polls"} |`);
    out(
      `| ${label} | ${(p.seconds / 60).toFixed(0)} min: ${p.alarms} alarms, ${p.polls} polls (${s(p.wallMs)} wall) | ${int(per(p.polls))} | ${a.toFixed(1)} | ${int(b)} (${int(per(p.heads))} + ${int(per(p.gets))}) | ${month(a, b)} | ${int(oldA)}, ${month(oldA, oldB)} | ${oldA > 0 && a > 0 ? `${(a / oldA).toFixed(3)} (${(oldA / a).toFixed(0)}× fewer)` : "— (no polls)"} |`,
    );
  }
  const busy = r.busy as PollRun;
  out();
  out(
    `Busy: ${busy.filesSent} files sent, the DO reached TXID ${busy.txidTo} from ${busy.txidFrom} (${busy.lastError ? `last error ${busy.lastError.code}` : "no error"}); steady-state interval ${s(busy.finalIntervalMs)}. Quiet: interval after the back-off ${s((r.quiet as PollRun).finalIntervalMs)}. Idle: ${(r.idle as PollRun).alarms} alarm(s) ran after idle_after_ms (${(r.idle as PollRun).polls} polls), then none was armed.`,
  );
  out();
}

/** Runs the synthetic-replica benchmarks; returns RESULTS.md lines. */
export async function benchLarge(log: (s: string) => void): Promise<string[]> {
  const smoke = process.env.LTX_EDGE_BENCH_SMOKE === "1";
  const skip100 = smoke || process.env.LTX_EDGE_BENCH_SKIP_100G === "1";
  const sizes = smoke ? SIZES.slice(0, 1) : SIZES.filter((x) => !(skip100 && x.label === "100 GiB"));
  const small = await planned(await ensureSyntheticReplica("small-1000", SMALL, log), false);
  const large: BenchPlan["large"] = [];
  for (const x of sizes) {
    const meta = await ensureSyntheticReplica(slug(x.label), { pageSize: 4096, targetPages: x.pages, overflowPages: 8 }, log);
    large.push({ label: slug(x.label), replica: await planned(meta, x.label === (smoke ? "1 GiB" : "10 GiB")) });
  }
  const resultsPath = join(CACHE_ROOT, CACHE_VERSION, "results.json");
  await rm(resultsPath, { force: true });
  const plan: BenchPlan = {
    cacheRoot: join(CACHE_ROOT, CACHE_VERSION),
    resultsPath,
    large,
    warm: small,
    polling: { replica: small, quietSeconds: smoke ? 600 : 3600, busySeconds: smoke ? 60 : 600, busyFilesPerSecond: 1, baseIntervalMs: 1000 },
  };
  const databases = smoke ? 20 : 1000;
  const t0 = Date.now();
  const code = await run("npx", ["vitest", "run", "--config", "bench/vitest.large.config.ts"], { LTX_EDGE_BENCH_PLAN: JSON.stringify(plan) });
  const results = JSON.parse(await readFile(resultsPath, "utf8").catch(() => "{}")) as Record<string, unknown>;
  const lines: string[] = [];
  const out = (x = "") => lines.push(x);
  const summary: string[] = [];
  const sum = (row: string) => summary.push(row);
  if (code !== 0) out(`**The workerd benchmark exited with code ${code}; sections below show what it reported.**\n`);
  largeSections(results, sizes.map((x) => x.label), out, sum);
  log(`${databases} databases round-robin under wrangler dev`);
  multiSection(await benchMulti(replicaDir(small.meta.name), small.meta, databases, smoke ? 3 : 10, log), out, sum);
  pollingSection(results.polling as Record<string, unknown> | undefined, out, sum);
  out(`Synthetic replicas cached in ${join(CACHE_ROOT, CACHE_VERSION)} (${sizes.map((x) => x.label).join(", ")}); these sections took ${s(Date.now() - t0)} (replicas already generated).`);
  out();
  return [
    "## Issue 8 targets at a glance",
    "",
    "Each row is computed from the sections below (same run).",
    "",
    "| target | measured | |",
    "|---|---|---|",
    ...summary,
    "",
    ...lines,
  ];
}

