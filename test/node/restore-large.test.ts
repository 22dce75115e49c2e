/**
 * A database far larger than the restore's memory: a 320 MiB synthetic
 * replica (a 160 MiB snapshot of 81,920 pages, then a file that rewrites some
 * pages and grows the database, then one that rewrites others and shrinks
 * it) restored by the real bin in a child process, whose own peak RSS is
 * recorded at exit. Streaming keeps it near Node's baseline; reading whole
 * files would need more than the snapshot's size.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { seededBytes } from "../support/seeded-bytes.ts";
import { BIN, REPO, assertBuilt } from "./dist.ts";

const PAGE_SIZE = 4096;
const PAGES = 81_920; // 320 MiB
/** Bytes of each page that do not compress: the snapshot file is ~2 KiB a page (160 MiB). */
const RANDOM_BYTES = 2048;
/** Generous for a streaming restore (Node alone is ~40–50 MiB); reading a file whole would need its 160 MiB and more. */
const MAX_RSS_MIB = 128;

const TMP = mkdtempSync(join(tmpdir(), "ltx-edge-restore-large-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Version `v` of page `p`: a seeded incompressible head, then a run that compresses to nothing. */
function page(p: number, v: number): Uint8Array {
  const b = new Uint8Array(PAGE_SIZE);
  b.set(seededBytes(p * 4 + v, RANDOM_BYTES));
  b.fill((p + v) & 0xff, RANDOM_BYTES);
  return b;
}

/** The files: TXID 1 all pages; TXID 2 every 97th page and 64 new ones; TXID 3 pages 1–8, the database shrunk by 40 pages. */
const GROWN = PAGES + 64;
const FINAL = PAGES - 40;
const FILES: { txid: number; commit: number; pages: (emit: (p: number) => void) => void }[] = [
  { txid: 1, commit: PAGES, pages: (emit) => { for (let p = 1; p <= PAGES; p++) emit(p); } },
  { txid: 2, commit: GROWN, pages: (emit) => { for (let p = 97; p <= GROWN; p++) if (p % 97 === 0 || p > PAGES) emit(p); } },
  { txid: 3, commit: FINAL, pages: (emit) => { for (let p = 1; p <= 8; p++) emit(p); } },
];
const finalVersion = (p: number): number => (p <= 8 ? 3 : p % 97 === 0 ? 2 : 1);

let replicaDir = "";
let snapshotBytes = 0;

beforeAll(() => {
  assertBuilt();
  replicaDir = join(TMP, "replica");
  mkdirSync(join(replicaDir, "ltx", "0"), { recursive: true });
  for (const f of FILES) {
    const w = new LtxWriter({ pageSize: PAGE_SIZE, commit: f.commit, minTxid: f.txid, maxTxid: f.txid, timestamp: 1_700_000_000_000 + f.txid });
    f.pages((p) => w.addPage(p, page(p, f.txid)));
    const bytes = w.finish();
    if (f.txid === 1) snapshotBytes = bytes.length;
    writeFileSync(join(replicaDir, "ltx", "0", formatLtxFilename(f.txid, f.txid)), bytes);
  }
});

function expectedSha(): string {
  const h = createHash("sha256");
  for (let p = 1; p <= FINAL; p++) h.update(page(p, finalVersion(p)));
  return h.digest("hex");
}

async function fileSha(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

test("restoring 320 MiB keeps the restore process's peak RSS under 128 MiB, byte-identical", async () => {
  expect(snapshotBytes).toBeGreaterThan(MAX_RSS_MIB * 1024 * 1024);
  // Records the child's own peak RSS when it exits. On Linux that is VmHWM: getrusage's maxRSS
  // also counts the forking parent (this test worker, which just wrote 170 MB of replica).
  const report = join(TMP, "memory.json");
  const preload = join(TMP, "report-memory.mjs");
  writeFileSync(
    preload,
    `import { existsSync, readFileSync, writeFileSync } from "node:fs";
process.on("exit", () => {
  const hwm = existsSync("/proc/self/status") ? /VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8")) : null;
  const m = process.memoryUsage();
  writeFileSync(${JSON.stringify(report)}, JSON.stringify({ peakRssKiB: hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers }));
});
`,
  );
  const out = join(TMP, "large.db");
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(process.execPath, ["--import", pathToFileURL(preload).href, BIN, "restore", replicaDir, out], { cwd: REPO }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`${FINAL} pages of ${PAGE_SIZE} bytes`);
  const mem = JSON.parse(readFileSync(report, "utf8")) as { peakRssKiB: number; heapUsed: number; arrayBuffers: number };
  expect(mem.peakRssKiB / 1024, JSON.stringify(mem)).toBeLessThan(MAX_RSS_MIB);
  expect(existsSync(`${out}.tmp`)).toBe(false);
  expect(await fileSha(out)).toBe(expectedSha());
});
