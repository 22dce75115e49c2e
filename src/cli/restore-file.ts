/**
 * @module
 * Restoring into a file without ever publishing a wrong one: pages stream
 * into `<output>.tmp` with positioned writes (consecutive pages coalesced
 * into one write), the file is truncated to Commit pages, fsynced, and only
 * then renamed over `<output>`. A failed or interrupted restore removes the
 * temp file. Memory stays bounded by the streaming restore's ranges.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DirStore } from "../replica/dir.ts";
import type { Replica } from "../replica/replica.ts";
import { type PageSink, type RestoreOptions, type RestoreResult, restore } from "../restore/restore.ts";
import { dirReadInto } from "./dir-read.ts";
import { CliError } from "./errors.ts";

/** Files SQLite keeps next to a database; stale ones would corrupt the restored file. */
export const SIDE_FILES = ["-wal", "-shm", "-journal"] as const;

/** Bytes of consecutive pages gathered before one positioned write. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/** Writes pages at (pgno-1)*pageSize; opens the file on the first write, so a plan that fails early creates nothing. */
class FileSink implements PageSink {
  private fd: number | null = null;
  private readonly batch = new Uint8Array(WRITE_BATCH_BYTES);
  private used = 0;
  /** File offset of batch[0], and where the next page must go to join the batch. */
  private batchAt = 0;

  constructor(readonly path: string) {}

  write(pgno: number, data: Uint8Array, pageSize: number): void {
    const at = (pgno - 1) * pageSize;
    if (this.used > 0 && (at !== this.batchAt + this.used || this.used + data.length > this.batch.length)) this.flush();
    if (data.length > this.batch.length) return this.pwrite(data, data.length, at);
    if (this.used === 0) this.batchAt = at;
    this.batch.set(data, this.used);
    this.used += data.length;
  }

  private flush(): void {
    if (this.used > 0) this.pwrite(this.batch, this.used, this.batchAt);
    this.used = 0;
  }

  private pwrite(bytes: Uint8Array, length: number, at: number): void {
    this.fd ??= openSync(this.path, "w", 0o644);
    let done = 0;
    while (done < length) done += writeSync(this.fd, bytes, done, length - done, at + done);
  }

  /** Flushes, cuts the file to `bytes` (earlier files may have written pages past the final Commit), fsyncs, closes. */
  finish(bytes: number): void {
    this.flush();
    this.fd ??= openSync(this.path, "w", 0o644); // a zero-page database writes nothing
    ftruncateSync(this.fd, bytes);
    fsyncSync(this.fd);
    this.close();
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.used = 0;
  }
}

export interface RestoreToFileOptions extends RestoreOptions {
  /** Replace an existing output and remove its -wal, -shm and -journal files. */
  force?: boolean;
  /**
   * Registers a synchronous cleanup (removes the temp file) to run if the
   * process is interrupted; returns its unregister function. The CLI ties
   * it to SIGINT/SIGTERM.
   */
  onInterrupt?: (cleanup: () => void) => () => void;
}

/**
 * Checks that `output` may be written: its directory exists, and neither it
 * nor a SQLite side file next to it exists unless `force`. Returns the
 * absolute path. (Cheap: callers run it before listing a replica.)
 */
export function checkOutput(output: string, force = false): string {
  const path = resolve(output);
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError("CLI_NOT_FOUND", `output directory ${dir} does not exist`);
  const clash = present(path);
  if (!force && clash !== undefined) throw new CliError("CLI_OUTPUT_EXISTS", `${clash} already exists; pass --force to replace it`);
  return path;
}

/** The output or a side file that exists; a leftover -wal or hot journal would be replayed onto the new file by SQLite. */
const present = (path: string): string | undefined => [path, ...SIDE_FILES.map((x) => path + x)].find((p) => existsSync(p));

/** Restores `replica` into the file `output` (see the module comment). Returns what was restored. */
export async function restoreToFile(replica: Replica, output: string, opts: RestoreToFileOptions = {}): Promise<RestoreResult & { output: string; bytes: number }> {
  const path = checkOutput(output, opts.force);
  const tmp = `${path}.tmp`;
  const sink = new FileSink(tmp);
  const cleanup = () => {
    sink.close();
    removeIfExists(tmp);
  };
  const dispose = opts.onInterrupt?.(cleanup);
  try {
    // Local replicas are read straight into reused buffers.
    const readInto = opts.readInto ?? (replica.store instanceof DirStore ? dirReadInto(replica.store) : undefined);
    const r = await restore(replica, sink, readInto ? { ...opts, readInto } : opts);
    const bytes = r.commit * r.pageSize;
    sink.finish(bytes);
    const appeared = opts.force ? undefined : present(path);
    if (appeared !== undefined) throw new CliError("CLI_OUTPUT_EXISTS", `${appeared} appeared during the restore; pass --force to replace it`);
    // Removed before the rename, so no reader ever sees the new file with the old WAL.
    if (opts.force) for (const suffix of SIDE_FILES) removeIfExists(path + suffix);
    renameSync(tmp, path);
    syncDir(dirname(path));
    return { ...r, output: path, bytes };
  } catch (e) {
    cleanup();
    throw e;
  } finally {
    dispose?.();
  }
}

function removeIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ENOENT") throw e;
  }
}

/** fsync a directory so a rename survives power loss; unsupported on some platforms, hence best effort. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Windows cannot open directories; the rename itself already happened.
  }
}
