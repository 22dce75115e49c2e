/**
 * ltx-edge benchmarks (Node). Run with `npm run bench`; results go to
 * bench/RESULTS.md. Times are reported next to a baseline measured in the
 * same run (ratios), counts and sizes are exact.
 *
 * The `medium` replica lives in ../shared/fixtures/medium in the team's
 * workspace (not in the repo); point LTX_EDGE_MEDIUM at another copy if needed.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { formatLtxFilename } from "../src/ltx/txid.ts";
import { LtxWriter } from "../src/ltx/writer.ts";
import { PageIndex } from "../src/page-index/page-index.ts";
import { CHUNK_PAGES, encodeEntries } from "../src/page-index/serialize.ts";
import { CountingStore } from "../src/replica/counting.ts";
import { DirStore } from "../src/replica/dir.ts";
import { Replica } from "../src/replica/replica.ts";
import { buildPageIndex, resolvePlan, restore } from "../src/restore/restore.ts";
import { benchQueries } from "./queries.ts";

const lines: string[] = [];
const out = (s = "") => {
  lines.push(s);
  console.log(s);
};
const mb = (n: number) => (n / 1e6).toFixed(1);

async function walk(dir: string): Promise<string[]> {
  const r: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) r.push(...(await walk(p)));
    else r.push(p);
  }
  return r;
}

/** Bytes an index occupies in DO storage (the same chunking as the DO). */
function storedBytes(index: PageIndex): { bytes: number; rows: number } {
  let bytes = 0;
  let rows = 0;
  for (let c = 0; c * CHUNK_PAGES < index.commit; c++) {
    bytes += encodeEntries(index.entries(0, c * CHUNK_PAGES + 1, CHUNK_PAGES)).length;
    rows++;
  }
  return { bytes, rows };
}

async function median(n: number, fn: () => Promise<void>): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(n / 2)] as number;
}

let mediumRestoreMs: number | null = null;
const mediumDir = process.env.LTX_EDGE_MEDIUM ?? join(import.meta.dirname, "..", "..", "shared", "fixtures", "medium");

async function benchMedium(tmp: string): Promise<void> {
  const dir = mediumDir;
  out("## Restore and index build: `medium` fixture");
  out();
  if (!existsSync(join(dir, "ltx"))) {
    out(`Skipped: no medium replica at ${dir} (set LTX_EDGE_MEDIUM).`);
    out();
    return;
  }
  const files = (await walk(join(dir, "ltx"))).filter((f) => f.endsWith(".ltx"));
  let replicaBytes = 0;
  for (const f of files) replicaBytes += (await stat(f)).size;
  const replica = new Replica(new DirStore(dir), { prefix: "" });
  let dbBytes = 0;
  let sha = "";
  const restoreMs = await median(5, async () => {
    const h = createHash("sha256");
    const chunks: Uint8Array[] = [];
    const r = await restore(replica, {
      write: (pgno, data, pageSize) => {
        chunks[pgno - 1] = data.slice();
        void pageSize;
      },
    });
    for (let i = 0; i < r.commit; i++) h.update(chunks[i] ?? new Uint8Array(r.pageSize));
    dbBytes = r.commit * r.pageSize;
    sha = h.digest("hex");
  });
  const copyMs = await median(5, async () => {
    for (const f of files) await copyFile(f, join(tmp, "copy.ltx"));
  });
  out(`| measure | value |`);
  out(`|---|---|`);
  out(`| replica files / bytes | ${files.length} / ${mb(replicaBytes)} MB |`);
  const manifest = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as { final_txid: string; all_states: { txid: string; sha256: string }[] };
  const want = manifest.all_states.find((s) => s.txid === manifest.final_txid)?.sha256;
  out(`| restored database | ${mb(dbBytes)} MB, sha256 ${sha === want ? "matches the manifest" : `MISMATCH ${sha}`} |`);
  out(`| restore (decode + checksum verify + apply), median of 5 | ${restoreMs.toFixed(0)} ms = ${mb(dbBytes / (restoreMs / 1000))} MB/s of database |`);
  out(`| plain copy of the same replica files (ceiling), median of 5 | ${copyMs.toFixed(0)} ms = ${mb(replicaBytes / (copyMs / 1000))} MB/s |`);
  out(`| restore time / copy time | ${(restoreMs / copyMs).toFixed(1)}× |`);
  mediumRestoreMs = restoreMs;

  const counting = new CountingStore(new DirStore(dir));
  const rep2 = new Replica(counting, { prefix: "" });
  const { plan } = await resolvePlan(rep2);
  let index: PageIndex | null = null;
  const buildMs = await median(5, async () => {
    index = await buildPageIndex(rep2, plan);
  });
  const idx = index as unknown as PageIndex;
  const stored = storedBytes(idx);
  out(`| index build from the plan (${plan.length} files), median of 5 | ${buildMs.toFixed(1)} ms, ${counting.counters.gets / 5} storage reads per build |`);
  out(`| index: pages / in-memory arrays / DO storage | ${idx.pageCount} / ${(idx.byteLength / 1024).toFixed(0)} KiB / ${(stored.bytes / 1024).toFixed(0)} KiB in ${stored.rows} rows |`);
  out();
}

async function benchSynthetic(tmp: string): Promise<void> {
  out("## Synthetic 1 GiB database (262,144 pages of 4 KiB)");
  out();
  const pageSize = 4096;
  const pages = 262_144;
  const dir = join(tmp, "synthetic");
  await mkdir(join(dir, "ltx", "9"), { recursive: true });
  await mkdir(join(dir, "ltx", "0"), { recursive: true });
  const t0 = performance.now();
  let w: LtxWriter | null = new LtxWriter({ pageSize, commit: pages, minTxid: 1, maxTxid: 1, timestamp: Date.now() });
  const page = new Uint8Array(pageSize);
  for (let p = 1; p <= pages; p++) {
    // Compressible but distinct pages: a header with the pgno, then a pattern.
    page.fill(p & 0xff);
    new DataView(page.buffer).setUint32(0, p);
    w.addPage(p, page);
  }
  const snapBytes = await (async () => {
    const snap = (w as LtxWriter).finish();
    await writeFile(join(dir, "ltx", "9", formatLtxFilename(1, 1)), snap);
    return snap.length;
  })();
  w = null;
  const writeMs = performance.now() - t0;
  out(`| measure | value |`);
  out(`|---|---|`);
  out(`| snapshot written by LtxWriter | ${mb(snapBytes)} MB in ${(writeMs / 1000).toFixed(1)} s (${mb((pages * pageSize) / (writeMs / 1000))} MB/s of pages) |`);

  const counting = new CountingStore(new DirStore(dir));
  const replica = new Replica(counting, { prefix: "" });
  const { plan } = await resolvePlan(replica);
  const t1 = performance.now();
  const index = await buildPageIndex(replica, plan);
  const buildMs = performance.now() - t1;
  const stored = storedBytes(index);
  out(`| index build (1 file) | ${buildMs.toFixed(0)} ms, ${counting.counters.gets} storage reads, ${mb(counting.counters.bytes)} MB read |`);
  out(`| page index in memory (typed arrays) | ${mb(index.byteLength)} MB (${(index.byteLength / pages).toFixed(1)} B/page, one set of typed arrays; no per-page objects) |`);
  out(`| page index in DO storage | ${mb(stored.bytes)} MB in ${stored.rows} rows of ≤ ${((CHUNK_PAGES * 28) / 1024).toFixed(0)} KiB |`);

  // One small L0 file: the delta a Worker receives.
  const l0 = new LtxWriter({ pageSize, commit: pages, minTxid: 2, maxTxid: 2, timestamp: Date.now() });
  for (const p of [1, 1000, 200_000]) l0.addPage(p, page);
  const l0Bytes = l0.finish();
  await writeFile(join(dir, "ltx", "0", formatLtxFilename(2, 2)), l0Bytes);
  const before = index.version;
  const files = await replica.listFiles();
  const f = files.find((x) => x.level === 0);
  if (!f) throw new Error("L0 file not listed");
  const r = await replica.readIndex(f);
  index.apply(f, r.header, r.index);
  const delta = index.entries(before);
  const deltaBytes = encodeEntries(delta).length;
  const fullBytes = encodeEntries(index.entries(0)).length;
  out(`| delta after one 3-page L0 file (${l0Bytes.length} B) | ${delta.pgno.length} entries, ${deltaBytes} B (full index: ${mb(fullBytes)} MB) |`);
  out();
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), "ltx-edge-bench-"));
  try {
    out("# ltx-edge benchmark results");
    out();
    out(`Node ${process.version}, ${process.platform}/${process.arch}, run ${new Date().toISOString()}. Generated by \`npm run bench\`.`);
    out();
    await benchMedium(tmp);
    await benchSynthetic(tmp);
    out("## Queries over HTTP: `medium` under `wrangler dev`");
    out();
    if (existsSync(join(mediumDir, "ltx"))) {
      for (const l of await benchQueries(mediumDir, mediumRestoreMs)) out(l);
    } else out(`Skipped: no medium replica at ${mediumDir}.`);
    out();
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await writeFile(join(import.meta.dirname, "RESULTS.md"), `${lines.join("\n")}\n`);
}

await main();
