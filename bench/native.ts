/**
 * better-sqlite3 (native SQLite in Node) on the restored `medium` file: the
 * native reference of issue 9. It is installed at bench time only
 * (`npm i --no-save better-sqlite3@12` when missing), never a dependency.
 * Cold: the query on a connection just opened (SQLite's page cache empty,
 * the OS page cache warm); warm: the same connection, queried again.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fingerprint, type QueryKind } from "./query-kinds.ts";
import { type Summary, summarize } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");

/** The part of better-sqlite3's API the benchmarks use (its types are not installed). */
export interface NativeDb {
  prepare(sql: string): { raw(on: boolean): { all(...params: unknown[]): unknown[][] }; run(...params: unknown[]): unknown };
  exec(sql: string): void;
  pragma(text: string, options?: { simple: boolean }): unknown;
  close(): void;
}
export type NativeCtor = new (path: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => NativeDb;
export type NativeLib = { ctor: NativeCtor; version: string };

function load(): NativeLib | null {
  // Never require it while it is absent: Node caches the failed package.json read, and the
  // require after the install would fail as well.
  if (!existsSync(join(ROOT, "node_modules", "better-sqlite3", "package.json"))) return null;
  const req = createRequire(join(ROOT, "package.json"));
  try {
    const ctor = req("better-sqlite3") as NativeCtor;
    const version = (req("better-sqlite3/package.json") as { version: string }).version;
    return { ctor, version };
  } catch {
    return null;
  }
}

/** better-sqlite3, installed for this run if it is not there (`--no-save`: package.json is untouched). */
export async function ensureBetterSqlite3(log: (s: string) => void): Promise<NativeLib | { error: string }> {
  const found = load();
  if (found) return found;
  log("installing better-sqlite3@12 for this run (npm i --no-save)");
  const code = await new Promise<number>((resolve) => {
    const p = spawn("npm", ["i", "--no-save", "--no-audit", "--no-fund", "better-sqlite3@12"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
    p.on("error", () => resolve(1));
    p.on("exit", (c) => resolve(c ?? 1));
  });
  const again = load();
  return again ?? { error: `npm i --no-save better-sqlite3@12 failed (exit ${code})` };
}

export interface NativeKind {
  cold: Summary;
  warm: Summary;
  fp: string;
}

export interface NativeResult {
  version: string;
  sqliteVersion: string;
  kinds: Record<string, NativeKind>;
}

/** Times every kind on `dbPath`, cold (`coldReps` fresh connections) and warm (`warmReps` runs on one). */
export function benchNative(lib: NativeLib, dbPath: string, kinds: readonly QueryKind[], coldReps: number, warmReps: number): NativeResult {
  const open = () => new lib.ctor(dbPath, { readonly: true, fileMustExist: true });
  const probe = open();
  const sqliteVersion = String((probe.prepare("SELECT sqlite_version()").raw(true).all()[0] ?? [])[0]);
  probe.close();
  const out: Record<string, NativeKind> = {};
  for (const k of kinds) {
    const run = (db: NativeDb): { ms: number; rows: unknown[][] } => {
      const t0 = performance.now();
      const rows = db.prepare(k.sql).raw(true).all();
      return { ms: performance.now() - t0, rows };
    };
    const cold: number[] = [];
    let fp = "";
    for (let i = 0; i < coldReps; i++) {
      const db = open();
      const r = run(db);
      cold.push(r.ms);
      fp = fingerprint(r.rows);
      db.close();
    }
    const db = open();
    for (let i = 0; i < 2; i++) run(db);
    const warm: number[] = [];
    for (let i = 0; i < warmReps; i++) warm.push(run(db).ms);
    db.close();
    out[k.id] = { cold: summarize(cold), warm: summarize(warm), fp };
  }
  return { version: lib.version, sqliteVersion, kinds: out };
}
