/**
 * Measures SQLite VM steps per millisecond, the figure behind
 * VM_STEPS_PER_MS in src/sql/vm-budget.ts: `node --import tsx bench/vm-steps.ts`.
 *
 * - Node, Asyncify build (what the CLI runs), over the `medium` fixture
 *   (../shared/fixtures/medium, or LTX_EDGE_MEDIUM), restored into memory;
 * - workerd, both builds, through vitest-pool-workers
 *   (bench/vm-steps.workerd.ts, an `events` table built there).
 * Each query runs once to warm up, then 3 times; the fastest run counts.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as SQLite from "@journeyapps/wa-sqlite";
import { nodeWasm } from "../src/cli/wasm-node.ts";
import { DirStore } from "../src/replica/dir.ts";
import { Replica } from "../src/replica/replica.ts";
import { restoreToBytes } from "../src/restore/restore.ts";
import { LtxVfs } from "../src/vfs/ltx-vfs.ts";
import { instantiateSqlite } from "../src/vfs/sqlite-module.ts";
import { VM_STEP_QUERIES, formatRates, measureSteps } from "./vm-steps-core.ts";

const ROOT = join(import.meta.dirname, "..");
const mediumDir = process.env.LTX_EDGE_MEDIUM ?? join(ROOT, "..", "..", "shared", "fixtures", "medium");

async function restoredMedium(): Promise<Uint8Array | null> {
  if (!existsSync(join(mediumDir, "ltx"))) return null;
  return (await restoreToBytes(new Replica(new DirStore(mediumDir), { prefix: "" }))).bytes;
}

async function nodeRates(bytes: Uint8Array): Promise<string> {
  const inst = await instantiateSqlite("asyncify", 1, nodeWasm);
  const vfs = new LtxVfs(inst.module);
  inst.sqlite3.vfs_register(vfs, false);
  const pageSize = new DataView(bytes.buffer, bytes.byteOffset).getUint16(16) || 65536;
  vfs.pin("events", {
    pageSize,
    pageCount: bytes.length / pageSize,
    txid: 1,
    readPage: async (p: number) => bytes.subarray((p - 1) * pageSize, p * pageSize),
  });
  const db = await inst.sqlite3.open_v2("events", SQLite.SQLITE_OPEN_READONLY, vfs.name);
  await inst.sqlite3.exec(db, "PRAGMA temp_store = MEMORY");
  const rates = [];
  for (const sql of VM_STEP_QUERIES) rates.push(await measureSteps(inst.sqlite3, db, sql));
  return formatRates("node asyncify", rates);
}

const header = "| runtime | steps/ms | steps | ms | query |\n|---|---|---|---|---|";
const medium = await restoredMedium();
console.log(header);
console.log(medium ? await nodeRates(medium) : `(no medium fixture at ${mediumDir}: Node run skipped)`);
const r = spawnSync("npx", ["vitest", "run", "--config", "bench/vitest.workerd.config.ts", "bench/vm-steps.workerd.ts"], { cwd: ROOT, encoding: "utf8" });
const text = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
for (const block of text.split("VMSTEPS\n").slice(1)) console.log(block.split("\n").filter((l) => l.startsWith("| ")).join("\n"));
if (r.status !== 0) console.error(text);
