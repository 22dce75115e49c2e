/**
 * @module
 * Restore: resolve a plan against a replica, then either write the database
 * (every planned file streamed in range reads, decoded and checksum-verified,
 * pages overlaid in plan order) or build the page index (only each file's tail).
 */
import type { FileIndex } from "../ltx/file-index.ts";
import { type LtxHeader, lockPgno } from "../ltx/header.ts";
import { formatTxid } from "../ltx/txid.ts";
import { PageIndex } from "../page-index/page-index.ts";
import { PlanError } from "../plan/errors.ts";
import { type PlanTarget, LATEST, computeRestorePlan } from "../plan/plan.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { FileStream } from "./file-stream.ts";
import { mapPool } from "./pool.ts";
import { type ReadInto, readPlanRanges } from "./ranges.ts";

export { RESTORE_RANGE_BYTES, type ReadInto } from "./ranges.ts";

/** Storage fan-out used by restore and index builds. */
export const FETCH_CONCURRENCY = 6;

export interface ResolvedPlan {
  files: LtxFileInfo[];
  plan: LtxFileInfo[];
}

/**
 * Lists the replica and computes the plan. Time targets read each candidate's
 * 100-byte header for its timestamp (the instant of its newest transaction).
 */
export async function resolvePlan(replica: Replica, target: PlanTarget = LATEST, listed?: LtxFileInfo[]): Promise<ResolvedPlan> {
  const files = listed ?? (await replica.listFiles());
  if (target.kind !== "timestamp") return { files, plan: computeRestorePlan(files, target) };
  const stamps = new Map<string, number>();
  await mapPool(files, FETCH_CONCURRENCY, async (f) => {
    stamps.set(f.key, f.timestamp ?? (await replica.readHeader(f)).timestamp);
  });
  return { files, plan: computeRestorePlan(files, target, (f) => stamps.get(f.key) ?? Number.POSITIVE_INFINITY) };
}

/** Where a restore stands; reported after every range read of the plan. */
export interface RestoreProgress {
  /** The file the last range belonged to. */
  file: LtxFileInfo;
  /** Files of the plan fully applied. */
  done: number;
  /** Files in the plan. */
  total: number;
  /** Bytes of the plan's files read and applied so far. */
  bytes: number;
  /** Total size of the plan's files. */
  totalBytes: number;
}

export interface RestoreResult {
  txid: number;
  pageSize: number;
  commit: number;
  /** Header timestamp of the last applied file (ms). */
  timestamp: number;
  plan: LtxFileInfo[];
}

export interface RestoreOptions {
  target?: PlanTarget;
  /** Called after each range of the plan is applied (every few MiB); `done` counts a file once its last range is in. */
  onProgress?: (p: RestoreProgress) => void;
  /** Already-listed files (saves a listing). */
  files?: LtxFileInfo[];
  /** An already-resolved plan for `target` (saves resolving it again; `files` and `target` are then unused). */
  plan?: LtxFileInfo[];
  /** Bytes per range read (default {@link RESTORE_RANGE_BYTES}). */
  rangeBytes?: number;
  /** Reads ranges into reused buffers (local files; see {@link ReadInto}); default: the replica's store. */
  readInto?: ReadInto;
}

/** Receives pages in apply order, synchronously; `data` is only valid during the call. */
export interface PageSink {
  write(pgno: number, data: Uint8Array, pageSize: number): void;
}

/**
 * Restores a database into `sink`, streaming: each planned file is read in
 * ranges of `rangeBytes` (one read in flight ahead of the one being decoded,
 * across files), decoded as it arrives and its pages handed to the sink in
 * plan order, so later files overwrite earlier pages. Memory is a few ranges
 * plus one bit per page, whatever the database size.
 *
 * Throws when a file fails its checksum or the chain leaves any page ≤ Commit
 * unwritten, so it never *returns* a wrong database — but a sink may already
 * have received pages of the failing file: write to a scratch destination
 * and publish it only when restore() resolves (as {@link restoreToBytes} and
 * the CLI do). The sink must drop pages beyond the returned Commit (the
 * database may have shrunk).
 */
export async function restore(replica: Replica, sink: PageSink, opts: RestoreOptions = {}): Promise<RestoreResult> {
  const plan = opts.plan ?? (await resolvePlan(replica, opts.target ?? LATEST, opts.files)).plan;
  const totalBytes = plan.reduce((n, f) => n + f.size, 0);
  let bytes = 0;
  let pageSize = 0;
  let last: LtxHeader | null = null;
  const written = new PageSet();
  // A file with another page size is refused once it verified (a damaged header fails its checksum
  // first, as a bad file); its pages are not written meanwhile.
  let otherPageSize = 0;
  const hooks = {
    onHeader: (h: LtxHeader) => {
      otherPageSize = pageSize !== 0 && h.pageSize !== pageSize ? h.pageSize : 0;
      if (pageSize === 0) pageSize = h.pageSize;
    },
    onPage: (pgno: number, data: Uint8Array) => {
      if (otherPageSize !== 0) return;
      written.add(pgno);
      sink.write(pgno, data, pageSize);
    },
  };
  let stream: FileStream | null = null;
  for await (const r of readPlanRanges(replica, plan, opts.rangeBytes, opts.readInto)) {
    if (r.offset === 0) stream = new FileStream(replica, r.file, hooks);
    if (!stream) throw new Error("range of a file that was never opened");
    await stream.push(r);
    bytes += r.bytes.length;
    if (!r.last) {
      opts.onProgress?.({ file: r.file, done: r.planIndex, total: plan.length, bytes, totalBytes });
      continue;
    }
    if (otherPageSize !== 0) {
      throw new PlanError("PLAN_INCONSISTENT", `page size ${otherPageSize} of ${r.file.key} differs from ${pageSize} of earlier files`);
    }
    last = stream.header;
    opts.onProgress?.({ file: r.file, done: r.planIndex + 1, total: plan.length, bytes, totalBytes });
  }
  if (!last) throw new PlanError("PLAN_NO_FILES", "empty restore plan");
  const lock = lockPgno(pageSize);
  for (let p = 1; p <= last.commit; p++) {
    if (p !== lock && !written.has(p)) {
      throw new PlanError("PLAN_INCONSISTENT", `restore chain ending at ${formatTxid(last.maxTxid)} never wrote page ${p}`);
    }
  }
  return { txid: last.maxTxid, pageSize, commit: last.commit, timestamp: last.timestamp, plan };
}

/** Page numbers seen, one bit each (a 100 GB database of 4 KiB pages: 3 MiB). */
class PageSet {
  private bits = new Uint8Array(1024);
  add(pgno: number): void {
    const i = pgno >>> 3;
    if (i >= this.bits.length) {
      const b = new Uint8Array(Math.max(i + 1, this.bits.length * 2));
      b.set(this.bits);
      this.bits = b;
    }
    this.bits[i] = (this.bits[i] as number) | (1 << (pgno & 7));
  }
  has(pgno: number): boolean {
    return (((this.bits[pgno >>> 3] ?? 0) >> (pgno & 7)) & 1) === 1;
  }
}

/** A growable in-memory database image. */
export class MemorySink implements PageSink {
  private buf = new Uint8Array(0);
  write(pgno: number, data: Uint8Array, pageSize: number): void {
    const end = pgno * pageSize;
    if (end > this.buf.length) {
      const b = new Uint8Array(Math.max(end, this.buf.length * 2));
      b.set(this.buf);
      this.buf = b;
    }
    this.buf.set(data, (pgno - 1) * pageSize);
  }
  /** The database truncated to Commit pages (lock page and holes stay zero). */
  bytes(commit: number, pageSize: number): Uint8Array {
    const n = commit * pageSize;
    if (n <= this.buf.length) return this.buf.slice(0, n);
    const out = new Uint8Array(n);
    out.set(this.buf);
    return out;
  }
}

/** Restores into memory: for tests, small databases and Workers. */
export async function restoreToBytes(replica: Replica, opts: RestoreOptions = {}): Promise<RestoreResult & { bytes: Uint8Array }> {
  const sink = new MemorySink();
  const r = await restore(replica, sink, opts);
  return { ...r, bytes: sink.bytes(r.commit, r.pageSize) };
}

/**
 * Builds the page index for a plan: one tail read per file (two for large
 * files), in parallel, applied in plan order. `read` may serve file indexes
 * from a cache (the Durable Object does).
 */
export async function buildPageIndex(
  replica: Replica,
  plan: readonly LtxFileInfo[],
  read: (f: LtxFileInfo) => Promise<{ header: LtxHeader; index: FileIndex }> = (f) => replica.readIndex(f),
): Promise<PageIndex> {
  const parts = await mapPool(plan, FETCH_CONCURRENCY, read);
  const first = parts[0];
  if (!first) throw new PlanError("PLAN_NO_FILES", "empty restore plan");
  const index = new PageIndex(first.header.pageSize);
  plan.forEach((f, i) => {
    const part = parts[i];
    if (!part) return;
    index.apply(f, part.header, part.index);
  });
  const missing = index.missingPages(1);
  if (missing.length > 0) {
    throw new PlanError("PLAN_INCONSISTENT", `page index at ${formatTxid(index.txid)} has no entry for page ${missing[0]}`);
  }
  return index;
}
