/**
 * RESULTS.md sections of issue 9's live measurements: isolate memory during
 * a full scan and with queued queries, replication lag, and the soak (wrong
 * answers, errors, memory over time). Pure formatting.
 */
import { DEFAULT_LIMITS } from "../src/api/limits.ts";
import type { LiveResult } from "./live.ts";
import type { MemoryStep } from "./queries.ts";
import type { SoakResult } from "./soak.ts";
import { fmtSummary, held } from "./stats.ts";

const MiB = 2 ** 20;
const mib = (n: number | undefined) => (n === undefined ? "—" : `${(n / MiB).toFixed(1)}`);

export function memorySection(steps: MemoryStep[], out: (s?: string) => void, sum: (row: string) => void): void {
  out("### Isolate memory (HTTP, wrangler dev)");
  out();
  out("GET /health's isolate figures (the largest seen while the step ran, sampled every 50 ms, and after it) and the workerd");
  out("processes' RSS (/proc: before, the peak VmHWM reset just before the step, after). The process also holds the Durable");
  out("Objects, local R2 and the Cache API, so the isolate's own share is the /health figures plus V8's heap.");
  out();
  out("| step | time | answers | RSS before → peak → after (MiB) | engine wasm (MiB) | segments + decoded pages (MiB) | index chunks (MiB) |");
  out("|---|---|---|---|---|---|---|");
  for (const s of steps) {
    const h = s.healthMax;
    out(
      `| ${s.label} | ${s.ms} ms | ${Object.entries(s.statuses).map(([k, v]) => `${v}× ${k}`).join(", ")} | ${mib(s.before.rss)} → ${mib(s.after.hwm)} → ${mib(s.after.rss)} | ${mib(h.engineMemoryBytes)} | ${mib((h.segmentCacheBytes ?? 0) + (h.pageCacheBytes ?? 0))} | ${mib(h.indexChunkBytes)} |`,
    );
  }
  const queued = steps.find((s) => s.label.includes("at once"));
  if (queued) {
    const isolate = (queued.healthMax.engineMemoryBytes ?? 0) + (queued.healthMax.segmentCacheBytes ?? 0) + (queued.healthMax.pageCacheBytes ?? 0) + (queued.healthMax.indexChunkBytes ?? 0) + (queued.healthMax.liveIndexBytes ?? 0);
    sum(`| queued queries: isolate figures (engine + caches + index) within 128 MB | ${mib(isolate)} MiB; process peak ${mib(queued.after.hwm - queued.before.rss)} MiB over its RSS before | ${held(isolate <= 128e6)} |`);
  }
  out();
}

export function lagSection(live: LiveResult, out: (s?: string) => void, sum: (row: string) => void): void {
  out("### Replication lag");
  out();
  out("An L0 file (one UPDATE) lands in local R2 while wrangler dev runs (bench/live-replica.ts, written through Miniflare as");
  out("`ltx-edge seed` does); then GET /db/:name and a query are polled every 10 ms until the Durable Object's position and an");
  out("answer show its TXID. Writes come at random phases of the poll cycle. Median / p95 ms after the file landed.");
  out();
  out("| setting | samples | DO has it | a query answers at it | wrong answers |");
  out("|---|---|---|---|---|");
  for (const l of live.lag) {
    out(`| ${l.label} | ${l.queryLag.n} | ${fmtSummary(l.doLag, 0)} | ${fmtSummary(l.queryLag, 0)} | ${l.wrong} |`);
    sum(`| replication lag, ${l.label} | query sees it after ${fmtSummary(l.queryLag, 0)} ms (median / p95) | (reported) |`);
  }
  out();
  out("Without `max_staleness_ms` a query reads the isolate's copy of the index, refreshed in the background once older than");
  out("LIMITS.max_staleness_ms (1 s by default): that, not the poll interval, bounds the lag at 100 ms polling. A request that");
  out("sends `max_staleness_ms` makes the DO poll at once when its copy is older.");
  out();
}

type Sample = SoakResult["memory"][number];

/** What the isolate itself holds, by GET /health: engine wasm, caches, index chunks, live indexes. */
const isolateBytes = (m: Sample) =>
  (m.health.engineMemoryBytes ?? 0) + (m.health.segmentCacheBytes ?? 0) + (m.health.pageCacheBytes ?? 0) + (m.health.indexChunkBytes ?? 0) + (m.health.liveIndexBytes ?? 0);

/** Trend of `value` over the soak after its first third (warm-up): least-squares slope and spread. */
function flatness(s: SoakResult, value: (m: Sample) => number): { slopeMibPerMin: number; spread: number; mean: number; window: number; flat: boolean } | null {
  const xs = s.memory.filter((m) => m.t >= s.options.seconds / 3);
  if (xs.length < 3) return null;
  const n = xs.length;
  const mt = xs.reduce((a, m) => a + m.t, 0) / n;
  const mv = xs.reduce((a, m) => a + value(m), 0) / n;
  const slope = xs.reduce((a, m) => a + (m.t - mt) * (value(m) - mv), 0) / xs.reduce((a, m) => a + (m.t - mt) ** 2, 0);
  const window = (xs[n - 1]?.t ?? 0) - (xs[0]?.t ?? 0);
  const vs = xs.map(value);
  // Flat: the trend over the window moves the value by less than 5% of its mean.
  return { slopeMibPerMin: (slope * 60) / MiB, spread: Math.max(...vs) - Math.min(...vs), mean: mv, window, flat: Math.abs(slope * window) <= 0.05 * mv };
}

/** The largest value of each isolate figure over the soak, against the cap LIMITS sets for it. */
function withinCaps(s: SoakResult): { ok: boolean; text: string } {
  const max = (f: (m: Sample) => number) => Math.max(0, ...s.memory.map(f));
  const L = DEFAULT_LIMITS;
  const rows: [string, number, number][] = [
    ["engine wasm", max((m) => m.health.engineMemoryBytes ?? 0), L.engineResetBytes],
    // Segments get isolate_cache_bytes, decoded pages a quarter of that more (src/query/service.ts).
    ["segments + decoded pages", max((m) => (m.health.segmentCacheBytes ?? 0) + (m.health.pageCacheBytes ?? 0)), L.isolateCacheBytes],
    ["index chunks", max((m) => m.health.indexChunkBytes ?? 0), L.indexCacheBytes],
  ];
  return {
    ok: rows.every(([, v, cap]) => v <= cap),
    text: rows.map(([name, v, cap]) => `${name} ≤ ${mib(v)} of ${mib(cap)} MiB`).join("; "),
  };
}

export function soakSection(live: LiveResult, out: (s?: string) => void, sum: (row: string) => void): void {
  const s = live.soak;
  out("### Soak: concurrent clients while the replica changes");
  out();
  if (!s) {
    out(`No soak result (${live.errors.join("; ") || "not run"}).`);
    out();
    return;
  }
  const o = s.options;
  out(`${(o.seconds / 60).toFixed(1)} min, ${o.clients} clients querying \`medium\` (point lookups, index lookups, range and full-scan aggregates,`);
  out(`GROUP BY, the newest rows) while a writer landed an L0 file every ${o.writeEveryMs} ms at most (each an UPDATE of hot rows and of one`);
  out(`random row, every fourth an INSERT), compacted them into an L1 file every ${o.compactEvery} writes and deleted compacted L0 files`);
  out(`${(o.retentionMs / 1000).toFixed(0)} s later. Each answer was checked against the writer's own database at the TXID it reported.`);
  out();
  const statuses = Object.entries(s.statuses).map(([k, v]) => `${v}× ${k}`).join(", ");
  const f = flatness(s, (m) => m.rss);
  const fi = flatness(s, isolateBytes);
  out("| measure | value |");
  out("|---|---|");
  out(`| answers checked / **wrong** | ${s.checked} / **${s.wrong}**${s.unknownTxid ? ` (${s.unknownTxid} at a TXID never written)` : ""} |`);
  out(`| responses | ${statuses}; ${s.retried} retried inside the Worker (a file gone mid-query) |`);
  out(`| writes | ${s.writes} (TXID ${s.txidFrom} → ${s.txidTo}), ${(s.writes / o.seconds).toFixed(1)} per second; ${s.files.l0} L0 files, ${s.files.l1} L1 files, ${s.files.deleted} L0 files deleted; a write (commit, diff, LTX, put, expected answers) took ${fmtSummary(s.writeMs, 0)} ms |`);
  out(`| TXIDs seen in answers | ${s.txidsServed}; how long an answer's position had already been superseded: ${fmtSummary(s.behind, 0)} ms (median / p95) |`);
  out(`| latency by query (wall, median / p95 ms, n) | ${Object.entries(s.byQuery).map(([k, v]) => `${k} ${fmtSummary(v.wall, 0)} (${v.n})`).join("; ")} |`);
  out(`| the replica restores (Node) to the writer's database bytes | ${s.restoreMatches === undefined ? "not checked" : s.restoreMatches ? "yes" : "**NO**"} |`);
  const trend = (x: NonNullable<typeof f>) => `mean ${mib(x.mean)} MiB, spread ${mib(x.spread)} MiB, trend ${x.slopeMibPerMin.toFixed(1)} MiB/min over ${x.window.toFixed(0)} s: ${x.flat ? "flat (trend < 5% of the mean)" : "**not flat**"}`;
  const caps = withinCaps(s);
  if (fi) out(`| the isolate's own figures (GET /health: engine + caches + index) after the first third | ${trend(fi)} |`);
  out(`| the isolate's figures against their caps (default LIMITS), largest seen | ${caps.text} |`);
  if (f) out(`| workerd process RSS (Worker, Durable Objects, local R2, Cache API) after the first third | ${trend(f)} |`);
  // The control: the same clients, no writes — whether a trend comes from following the replica or from serving queries.
  const c = live.control;
  const cf = c ? flatness(c, (m) => m.rss) : null;
  const ci = c ? flatness(c, isolateBytes) : null;
  if (c && cf && ci) {
    out(`| control before the soak: the same clients for ${c.options.seconds} s, no writes (${c.checked} answers, ${c.wrong} wrong) | workerd RSS ${trend(cf)}; isolate figures ${trend(ci)} |`);
  }
  if (s.sampleErrors.length > 0) out(`| memory samples lost | ${s.sampleErrors.join("; ")} |`);
  out();
  sum(`| soak: wrong answers | ${s.wrong} of ${s.checked} (${statuses}) | ${held(s.wrong === 0 && s.checked > 0)} |`);
  sum(`| soak: isolate memory bounded (every GET /health figure within its cap all along) | ${caps.text} | ${held(caps.ok)} |`);
  if (fi) sum(`| soak: isolate memory flat (GET /health figures' trend after warm-up < 5% of their mean) | ${fi.slopeMibPerMin.toFixed(1)} MiB/min around ${mib(fi.mean)} MiB | ${held(fi.flat)} |`);
  if (f) {
    const control = cf ? `; with no writes (control) ${cf.slopeMibPerMin.toFixed(1)} MiB/min` : "";
    sum(`| soak: workerd process RSS flat (same rule; the process also holds the DOs, local R2 and the Cache API) | ${f.slopeMibPerMin.toFixed(1)} MiB/min around ${mib(f.mean)} MiB${control} | ${held(f.flat)} |`);
  }
  out("Memory samples (workerd RSS; GET /health):");
  out();
  out("| t (s) | RSS (MiB) | engine wasm | segments + decoded pages | index chunks | live indexes |");
  out("|---|---|---|---|---|---|");
  for (const m of s.memory) {
    const h = m.health;
    out(`| ${m.t.toFixed(0)} | ${mib(m.rss)} | ${mib(h.engineMemoryBytes)} | ${mib((h.segmentCacheBytes ?? 0) + (h.pageCacheBytes ?? 0))} | ${mib(h.indexChunkBytes)} | ${mib(h.liveIndexBytes)} |`);
  }
  out();
  if (s.wrongExamples.length > 0) {
    out("Wrong answers (first few):");
    out();
    for (const w of s.wrongExamples) out(`- ${w}`);
    out();
  }
}
