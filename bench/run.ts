/**
 * ltx-edge benchmarks (Node). Run with `npm run bench`; results go to
 * bench/RESULTS.md. Times are reported next to baselines measured in the
 * same run (ratios), counts and sizes are exact; nothing here fails on a time.
 *
 * The `medium` replica lives in ../shared/fixtures/medium in the team's
 * workspace (not in the repo); point LTX_EDGE_MEDIUM at another copy if needed.
 * Environment (all optional): LTX_EDGE_BENCH_SKIP_100G=1 leaves out the
 * 100 GiB replica; LTX_EDGE_BENCH_SOAK_S (default 180) and
 * LTX_EDGE_BENCH_SOAK_CLIENTS (default 4) size the soak;
 * LTX_EDGE_BENCH_ONLY=issue9 or =issue8 runs one part; LTX_EDGE_BENCH_SMOKE=1
 * shrinks everything to check the harness.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { buildChunks } from "../src/page-index/chunk-build.ts";
import { ID_BYTES } from "../src/page-index/root.ts";
import { CountingStore } from "../src/replica/counting.ts";
import { DirStore } from "../src/replica/dir.ts";
import { Replica } from "../src/replica/replica.ts";
import { resolvePlan, restore } from "../src/restore/restore.ts";
import { benchIssue9 } from "./issue9.ts";
import { benchLarge } from "./large.ts";

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

/** The restored `medium` database file (for better-sqlite3, the in-memory copies and the soak's writer) and its TXID. */
let mediumFile: { path: string; txid: number } | null = null;
/** The team's shared/ is next to the checkout (../shared) or, from a worktree in wt/, one level further up. */
const mediumDir =
  process.env.LTX_EDGE_MEDIUM ??
  [join(import.meta.dirname, "..", "..", "shared", "fixtures", "medium"), join(import.meta.dirname, "..", "..", "..", "shared", "fixtures", "medium")].find((d) => existsSync(join(d, "ltx"))) ??
  join(import.meta.dirname, "..", "..", "shared", "fixtures", "medium");

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
  let restoredBytes = new Uint8Array(0);
  const restoreMs = await median(5, async () => {
    const h = createHash("sha256");
    const chunks: Uint8Array[] = [];
    const r = await restore(replica, {
      write: (pgno, data, pageSize) => {
        chunks[pgno - 1] = data.slice();
        void pageSize;
      },
    });
    restoredBytes = new Uint8Array(r.commit * r.pageSize);
    for (let i = 0; i < r.commit; i++) {
      const page = chunks[i] ?? new Uint8Array(r.pageSize);
      h.update(page);
      restoredBytes.set(page, i * r.pageSize);
    }
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

  // The DO's index for the same plan: chunks of 4096 pages, built from each file's page index.
  const counting = new CountingStore(new DirStore(dir));
  const rep2 = new Replica(counting, { prefix: "" });
  const { plan } = await resolvePlan(rep2);
  let chunks = 0;
  let chunkBytes = 0;
  let commit = 0;
  const buildMs = await median(5, async () => {
    const parts = await Promise.all(plan.map((f) => rep2.readIndex(f)));
    const last = parts[parts.length - 1];
    if (!last) throw new Error("empty plan");
    commit = last.header.commit;
    const sources = plan.map((f, i) => ({
      file: { key: f.key, etag: f.etag, size: f.size, level: f.level, minTxid: f.minTxid, maxTxid: f.maxTxid, epoch: 0 },
      entries: [(parts[i] as (typeof parts)[number]).index],
    }));
    chunks = 0;
    chunkBytes = 0;
    await buildChunks(last.header.pageSize, commit, sources, (c) => {
      chunks++;
      chunkBytes += c.encode().length;
    });
  });
  out(`| index build from the plan (${plan.length} files), median of 5 | ${buildMs.toFixed(1)} ms, ${counting.counters.gets / 5} storage reads per build |`);
  out(`| index: pages / chunks (DO storage) / root | ${commit} / ${chunks} = ${(chunkBytes / 1024).toFixed(0)} KiB / ${chunks * ID_BYTES} B |`);
  out();
  const path = join(tmp, "medium.db");
  await writeFile(path, restoredBytes);
  mediumFile = { path, txid: plan[plan.length - 1]?.maxTxid ?? 0 };
}

/** The first heading of the issue 8 part (bench/large.ts). */
const ISSUE8_HEADING = "## Issue 8 targets at a glance";

/** RESULTS.md's sections from `heading` on (up to the closing line), noted as kept from an earlier run. */
async function keptSections(heading: string): Promise<string[]> {
  const old = await readFile(join(import.meta.dirname, "RESULTS.md"), "utf8").catch(() => "");
  const at = old.indexOf(heading);
  if (at < 0) return [];
  const kept = old.slice(at).split("\n").filter((l) => !l.startsWith("The whole `npm run bench` took"));
  while (kept.length > 0 && kept[kept.length - 1] === "") kept.pop();
  return [`(The sections from here on are kept from an earlier full run: this one ran with LTX_EDGE_BENCH_ONLY=issue9.)`, "", ...kept, ""];
}

async function main(): Promise<void> {
  const started = performance.now();
  const only = process.env.LTX_EDGE_BENCH_ONLY ?? "";
  const tmp = await mkdtemp(join(tmpdir(), "ltx-edge-bench-"));
  const load = () => loadavg().map((x) => x.toFixed(1)).join(" / ");
  try {
    out("# ltx-edge benchmark results");
    out();
    out(`Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM; run ${new Date().toISOString()}; load average at the start ${load()} (1 / 5 / 15 min).`);
    out("Generated by `npm run bench` (LTX_EDGE_BENCH_SKIP_100G=1 leaves out the 100 GiB replica); see the end for how long it took.");
    out("The machine is shared: absolute times move with its load, ratios measured side by side in one run much less.");
    out();
    await benchMedium(tmp);
    if (only !== "issue8") {
      if (mediumFile) for (const l of await benchIssue9(mediumDir, mediumFile, (x) => console.error(x))) out(l);
      else out("Issue 9 sections skipped: no medium replica.\n");
    }
    if (only !== "issue9") for (const l of await benchLarge((x) => console.error(x))) out(l);
    // A partial run keeps the other part's sections from the last full run, marked as such.
    else for (const l of await keptSections(ISSUE8_HEADING)) out(l);
    out(`The whole \`npm run bench\` took ${((performance.now() - started) / 60_000).toFixed(1)} min; load average at the end ${load()}.`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await writeFile(join(import.meta.dirname, "RESULTS.md"), `${lines.join("\n")}\n`);
}

await main();
