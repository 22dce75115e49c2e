/**
 * Synthetic replicas for the benchmarks, generated once and cached between
 * runs (never committed): a snapshot LTX file of a {@link SyntheticDb},
 * streamed through LtxWriter's sink to disk, so neither the database nor the
 * file is ever held in memory. Cached under $LTX_EDGE_BENCH_CACHE (default
 * <os tmpdir>/ltx-edge-bench)/<CACHE_VERSION>/<name>/ in the file layout
 * (`ltx/9/<min>-<max>.ltx`), with `meta.json` written last: a directory
 * without it is an interrupted generation and is made again.
 */
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { formatLtxFilename } from "../src/ltx/txid.ts";
import { LtxWriter } from "../src/ltx/writer.ts";
import { type SyntheticSpec, SyntheticDb } from "./synthetic-db.ts";

/** Bump when the generator or the LTX writer changes what a cached replica holds. */
export const CACHE_VERSION = "v1";
export const CACHE_ROOT = process.env.LTX_EDGE_BENCH_CACHE ?? join(tmpdir(), "ltx-edge-bench");
/** Snapshots live at level 9, as Litestream writes them. */
export const SNAPSHOT_LEVEL = 9;

export interface SyntheticMeta {
  name: string;
  spec: SyntheticSpec;
  pages: number;
  rows: number;
  blobBytes: number;
  depth: number;
  /** Path (relative to the replica dir) and size of the snapshot file. */
  file: string;
  fileBytes: number;
  /** Generation time of the cached copy (ms, when it was made). */
  generateMs: number;
  generatedAt: string;
}

export function replicaDir(name: string): string {
  return join(CACHE_ROOT, CACHE_VERSION, name);
}

/** The replica for `spec` under `name`: from the cache, or generated now (`log` hears progress). */
export async function ensureSyntheticReplica(name: string, spec: SyntheticSpec, log: (s: string) => void = () => undefined): Promise<SyntheticMeta> {
  const dir = replicaDir(name);
  const metaPath = join(dir, "meta.json");
  if (existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, "utf8")) as SyntheticMeta;
    if (JSON.stringify(meta.spec) === JSON.stringify(spec)) return meta;
  }
  await rm(dir, { recursive: true, force: true });
  const db = new SyntheticDb(spec);
  const rel = join("ltx", String(SNAPSHOT_LEVEL), formatLtxFilename(1, 1));
  const path = join(dir, rel);
  await mkdir(join(dir, "ltx", String(SNAPSHOT_LEVEL)), { recursive: true });
  log(`generating ${name}: ${db.pages.toLocaleString("en-US")} pages of ${spec.pageSize} B into ${path}`);
  const t0 = performance.now();
  const fd = openSync(`${path}.tmp`, "w");
  try {
    const w = new LtxWriter({ pageSize: spec.pageSize, commit: db.pages, minTxid: 1, maxTxid: 1, timestamp: Date.UTC(2026, 0, 1), sink: (b) => writeSync(fd, b) });
    let n = 0;
    db.generate((pgno, page) => {
      w.addPage(pgno, page);
      if (++n % 2_000_000 === 0) log(`  ${n.toLocaleString("en-US")} pages, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    });
    w.finish();
  } finally {
    closeSync(fd);
  }
  await rename(`${path}.tmp`, path);
  const meta: SyntheticMeta = {
    name,
    spec,
    pages: db.pages,
    rows: db.rows,
    blobBytes: db.blobBytes,
    depth: db.depth,
    file: rel,
    fileBytes: (await stat(path)).size,
    generateMs: performance.now() - t0,
    generatedAt: new Date().toISOString(),
  };
  await writeFile(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  log(`  done in ${(meta.generateMs / 1000).toFixed(0)} s: ${(meta.fileBytes / 1e6).toFixed(1)} MB`);
  return meta;
}
