/**
 * @module
 * `ltx-edge import`: turns a plain SQLite database file into a one-snapshot
 * replica (level 9, MinTXID 1) that restores to the same bytes, e.g. to seed
 * a bucket without running Litestream. The database must be quiescent: a
 * non-empty `-wal` or a hot journal means the file alone is not the database.
 */
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { decodeLtxFile } from "../ltx/decoder.ts";
import { isValidPageSize, lockPgno } from "../ltx/header.ts";
import { formatLtxFilename, formatTxid } from "../ltx/txid.ts";
import { LtxWriter } from "../ltx/writer.ts";
import { DirStore } from "../replica/dir.ts";
import { type Layout, Replica, SNAPSHOT_LEVEL, levelDir } from "../replica/replica.ts";
import { type CommandSpec, formatHelp, parseArgs } from "./args.ts";
import { CliError, badArgs } from "./errors.ts";
import { humanBytes, humanDuration } from "./format.ts";
import type { CliIo } from "./io.ts";
import { type ProgressState, progressFor } from "./progress.ts";
import { parseLayout, parseReplicaLocation } from "./replica-url.ts";
import { parseTxidArg } from "./target.ts";

export const IMPORT_SPEC: CommandSpec = {
  name: "import",
  positionals: ["<sqlite.db>", "<replica-dir>"],
  flags: [
    { name: "txid", value: "TXID", help: "MaxTXID of the snapshot (16 hex digits, 0x… hex, or decimal); default 1" },
    { name: "layout", value: "file|s3", help: "write ltx/9/<min>-<max>.ltx (file, default) or 0009/<min>-<max>.ltx (s3)" },
    { name: "force", help: "write into a non-empty directory, replacing the LTX files already there" },
    { name: "progress", help: "print progress on stderr even when it is not a terminal" },
  ],
};

const HELP = formatHelp(
  IMPORT_SPEC,
  "Write a snapshot replica (one level-9 LTX file) of a plain SQLite database.",
  `The database must not be in use: a non-empty <sqlite.db>-wal (checkpoint it
first, e.g. sqlite3 app.db "PRAGMA wal_checkpoint(TRUNCATE)") or a hot
<sqlite.db>-journal is refused. <replica-dir> is created when missing; a
non-empty one is refused without --force. Restoring the replica yields the
database file byte for byte.`,
);

export function importHelp(): string {
  return HELP;
}

export interface ImportOptions {
  database: string;
  replicaDir: string;
  /** MaxTXID of the snapshot; default 1. */
  txid?: number;
  layout?: Layout;
  force?: boolean;
  /** Header timestamp (ms); default now. */
  timestamp?: number;
  /** Called as the database is read (every {@link READ_PAGES} pages). */
  onProgress?: (p: ProgressState) => void;
}

export interface ImportSummary {
  database: string;
  /** Path of the LTX file written. */
  path: string;
  txid: number;
  pageSize: number;
  pages: number;
  /** Size of the LTX file. */
  bytes: number;
  durationMs: number;
}

const SQLITE_MAGIC = "SQLite format 3\0";
/** Rollback-journal header magic: a journal starting with it is hot (or at least not reset). */
const JOURNAL_MAGIC = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
/** Pages read per syscall. */
const READ_PAGES = 64;

function readAt(fd: number, buf: Uint8Array, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function sizeOrNull(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** Refuses a database whose file alone is not the current database. */
function checkQuiescent(db: string): void {
  const wal = sizeOrNull(`${db}-wal`);
  if (wal !== null && wal > 0) {
    throw new CliError(
      "CLI_WAL_NOT_EMPTY",
      `${db}-wal is not empty (${wal} bytes): recent transactions are only in the WAL; checkpoint first (sqlite3 ${JSON.stringify(db)} "PRAGMA wal_checkpoint(TRUNCATE)") with no writers running`,
    );
  }
  const journal = `${db}-journal`;
  if ((sizeOrNull(journal) ?? 0) >= JOURNAL_MAGIC.length) {
    const fd = openSync(journal, "r");
    const head = new Uint8Array(JOURNAL_MAGIC.length);
    try {
      readAt(fd, head, 0);
    } finally {
      closeSync(fd);
    }
    if (JOURNAL_MAGIC.every((b, i) => head[i] === b)) {
      throw new CliError("CLI_WAL_NOT_EMPTY", `${journal} is a hot journal (an interrupted transaction); open the database with sqlite3 once to roll it back`);
    }
  }
}

/** Page size and count of a SQLite file from its header and size. */
function readShape(fd: number, db: string): { pageSize: number; pages: number; size: number; header: Uint8Array } {
  const size = fstatSync(fd).size;
  const header = new Uint8Array(100);
  const n = readAt(fd, header, 0);
  const magic = String.fromCharCode(...header.subarray(0, 16));
  if (n < 100 || magic !== SQLITE_MAGIC) throw new CliError("CLI_NOT_SQLITE", `${db} is not a SQLite database (no "SQLite format 3" header)`);
  const raw = (header[16] ?? 0) * 256 + (header[17] ?? 0);
  const pageSize = raw === 1 ? 65536 : raw; // 65536 does not fit in the u16 field
  if (!isValidPageSize(pageSize)) throw new CliError("CLI_NOT_SQLITE", `${db} has an invalid page size ${raw} in its header`);
  if (size % pageSize !== 0) {
    throw new CliError("CLI_NOT_SQLITE", `${db} is ${size} bytes, not a whole number of ${pageSize}-byte pages (truncated or still being written?)`);
  }
  return { pageSize, pages: size / pageSize, size, header };
}

/** Refuses a non-empty destination without --force; creates a missing one. */
function prepareDir(dir: string, force: boolean): void {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new CliError("CLI_BAD_ARGS", `${dir} exists and is not a directory`);
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ENOENT") throw e;
    mkdirSync(dir, { recursive: true });
    return;
  }
  if (entries.length > 0 && !force) {
    throw new CliError("CLI_REPLICA_NOT_EMPTY", `${dir} is not empty; pass --force to write the snapshot there anyway (other LTX files are removed)`);
  }
}

/** Writes bytes to `path` atomically (tmp, fsync, rename, fsync dir). */
function writeAtomic(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o644);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const d = openSync(dirname(path), "r");
    fsyncSync(d);
    closeSync(d);
  } catch {
    // Directories cannot be fsynced everywhere (Windows); the rename is done.
  }
}

/** Deletes the LTX files of either layout in `dir` other than `keep`. */
async function removeOtherLtx(dir: string, keep: string): Promise<void> {
  const store = new DirStore(dir);
  for (const layout of ["file", "s3"] as const) {
    for (const f of await new Replica(store, { prefix: "", layout }).listFiles()) {
      if (resolve(dir, f.key) !== keep) await store.delete(f.key);
    }
  }
}

/** Imports a SQLite database file as a snapshot replica. Throws user errors. */
export async function importCommand(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const database = resolve(opts.database);
  const loc = parseReplicaLocation(opts.replicaDir);
  if (loc.kind !== "dir") throw badArgs("import writes to a local directory (or file:// URL); copy it to the bucket afterwards");
  let isFile: boolean;
  try {
    isFile = statSync(database).isFile();
  } catch {
    throw new CliError("CLI_NOT_FOUND", `database ${database} does not exist`);
  }
  if (!isFile) throw new CliError("CLI_NOT_SQLITE", `${database} is not a regular file`);
  checkQuiescent(database);

  const txid = opts.txid ?? 1;
  const fd = openSync(database, "r");
  let ltx: Uint8Array;
  let shape: ReturnType<typeof readShape>;
  try {
    shape = readShape(fd, database);
    const { pageSize, pages } = shape;
    const writer = new LtxWriter({ pageSize, commit: pages, minTxid: 1, maxTxid: txid, encoding: "block", timestamp: opts.timestamp ?? Date.now() });
    const lock = lockPgno(pageSize);
    const buf = new Uint8Array(pageSize * READ_PAGES);
    for (let first = 1; first <= pages; first += READ_PAGES) {
      const count = Math.min(READ_PAGES, pages - first + 1);
      const chunk = buf.subarray(0, count * pageSize);
      if (readAt(fd, chunk, (first - 1) * pageSize) !== chunk.length) {
        throw new CliError("CLI_NOT_SQLITE", `${database} shrank while it was being read; stop writers and retry`);
      }
      for (let i = 0; i < count; i++) {
        const pgno = first + i;
        // SQLite never stores data in the lock page and LTX never holds it.
        if (pgno !== lock) writer.addPage(pgno, chunk.subarray(i * pageSize, (i + 1) * pageSize));
      }
      opts.onProgress?.({ bytes: (first + count - 1) * pageSize, totalBytes: shape.size });
    }
    // The file change counter (offset 24) moves with every write transaction.
    const after = readShape(fd, database);
    if (after.size !== shape.size || !after.header.subarray(24, 28).every((b, i) => b === shape.header[24 + i])) {
      throw new CliError("CLI_NOT_SQLITE", `${database} changed while it was being read; stop writers and retry`);
    }
    ltx = writer.finish();
  } finally {
    closeSync(fd);
  }
  // Never publish a file we cannot read back.
  decodeLtxFile(ltx, { file: "import" });

  const dir = loc.path;
  prepareDir(dir, opts.force === true);
  const layout = opts.layout ?? "file";
  const key = `${levelDir("", layout, SNAPSHOT_LEVEL)}${formatLtxFilename(1, txid)}`;
  const path = join(dir, ...key.split("/"));
  writeAtomic(path, ltx);
  if (opts.force) await removeOtherLtx(dir, path);
  return { database, path, txid, pageSize: shape.pageSize, pages: shape.pages, bytes: ltx.length, durationMs: performance.now() - started };
}

export function formatImportSummary(s: ImportSummary): string {
  return (
    `imported ${s.database} (${s.pages} pages of ${s.pageSize} bytes) as snapshot TXID ${formatTxid(s.txid)}: ` +
    `${s.path} (${s.bytes} bytes, ${humanBytes(s.bytes)}) in ${humanDuration(s.durationMs)}\n`
  );
}

/** `ltx-edge import …`: returns the exit code; throws user errors for main to print. */
export async function runImport(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, IMPORT_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [database, replicaDir] = args.positionals as [string, string];
  const txid = args.string("txid");
  const layout = parseLayout(args.string("layout"), "file", false);
  const progress = progressFor(io, "importing", { forced: args.bool("progress") });
  let summary: ImportSummary;
  try {
    summary = await importCommand({
      database,
      replicaDir,
      ...(txid !== undefined ? { txid: parseTxidArg(txid) } : {}),
      layout: layout === "auto" ? "file" : layout,
      force: args.bool("force"),
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.end();
  }
  io.stdout.write(formatImportSummary(summary));
  return 0;
}
