/**
 * @module
 * Reads LTX files for the Durable Object and builds page indexes from
 * restore plans, in bounded memory whatever the size of the database.
 *
 * A file of at most {@link SMALL_FILE_BYTES} is read whole — one request, as
 * its tail would need anyway — and its file checksum verified, with header
 * and page index taken from the same bytes. A larger one is read from its
 * tail (header, trailer, and the page index when that is at most
 * {@link HELD_INDEX_BYTES}); a larger index (a big snapshot's: ~260 MB for
 * 100 GB) is never held but streamed in range reads each time it is needed.
 * Large files are verified later by the background scrub.
 *
 * Decoded indexes of files are kept in a bounded LRU (files are immutable
 * under an ETag, so rebuilds and time travel only read what they have not
 * seen). Every file of a plan must continue the chain before it (header
 * TXIDs, page size, database checksums); a file that fails a check is
 * reported as a {@link FileRejected} for the caller to quarantine.
 */
import { CodedError } from "../errors.ts";
import { readU64 } from "../ltx/bytes.ts";
import { decodeLtxFile } from "../ltx/decoder.ts";
import { type FileIndex, decodeFileIndex, decodeFileIndexFromTail } from "../ltx/file-index.ts";
import { type LtxHeader, TRAILER_SIZE, decodeHeader } from "../ltx/header.ts";
import { ByteLru } from "../pages/lru.ts";
import type { PlanSource } from "../page-index/chunk-build.ts";
import type { ChunkFile } from "../page-index/chunk.ts";
import { type ChainEnd, checkContinues } from "../plan/continuity.ts";
import { PlanError } from "../plan/errors.ts";
import { type IndexHead, type LtxFileInfo, type Replica, checkHeaderName } from "../replica/replica.ts";
import { mapPool } from "../restore/pool.ts";
import { FETCH_CONCURRENCY } from "../restore/restore.ts";
import type { ChunkStore } from "./chunk-store.ts";
import { type ApplyHeader, type BuiltRoot, type ChunkedIndex, buildRoot } from "./chunked-index.ts";

/** Files up to this size are read whole (one request, like a tail read) and verified before their pages are served … */
export const SMALL_FILE_BYTES = 1024 * 1024;
/** … unless they hold more page bytes than this (~100 ms of decoding on a poll): then the scrub verifies them in steps. */
export const INLINE_VERIFY_PAGE_BYTES = 8 * 1024 * 1024;
/** A file's page index is held in memory up to this many encoded bytes (≈ 400k pages); larger ones are streamed. */
export const HELD_INDEX_BYTES = 4 * 1024 * 1024;
/** Decoded file indexes kept per Durable Object. */
const CACHE_BYTES = 24 * 1024 * 1024;
/** Header timestamps kept for time travel by timestamp (pruned to the listing; this bounds it besides). */
const MAX_STAMPS = 100_000;

/** What reading a file yields. */
export interface FilePart {
  header: LtxHeader;
  /** The whole page index, or null when it is too large to hold: stream it with {@link IndexBuilder.entries}. */
  index: FileIndex | null;
  /** Where the index lies (for streaming; null when `index` is held). */
  head: IndexHead | null;
  postApplyChecksum: bigint;
  /** True when the file checksum was verified on the way in (small files). */
  verified: boolean;
}

/** A file a plan cannot use: its bytes failed verification or it does not continue the chain. `code` is the LTX_ code. */
export class FileRejected extends CodedError {
  readonly file: LtxFileInfo;
  constructor(file: LtxFileInfo, cause: CodedError) {
    super(cause.code, cause.message, { cause });
    this.file = file;
  }
}

/** The rejection a failed read of `f` amounts to: LTX_ errors are bad data; anything else (storage) is not. */
export function rejectionOf(e: unknown, f: LtxFileInfo): FileRejected | null {
  if (e instanceof FileRejected) return e;
  if (e instanceof CodedError && e.code.startsWith("LTX_")) return new FileRejected(f, e);
  return null;
}

/** A built index (stored as chunks, not yet live), the files it uses, and where its chain ends. */
export interface BuiltIndex {
  built: BuiltRoot;
  end: ChainEnd;
}

/** The file as the index records it: with the epoch it was admitted under. */
export function chunkFileOf(f: LtxFileInfo, epoch: number): ChunkFile {
  return { key: f.key, etag: f.etag, size: f.size, level: f.level, minTxid: f.minTxid, maxTxid: f.maxTxid, epoch };
}

const keyOf = (f: LtxFileInfo) => `${f.key}\n${f.etag}`;

export class IndexBuilder {
  private readonly replica: () => Replica;
  private readonly chunks: ChunkStore;
  private readonly cache = new ByteLru<FilePart & { byteLength: number }>(CACHE_BYTES);
  private readonly stamps = new Map<string, number>();
  /** Whether a file's checksum was verified before (the ledger): then a small file is not decoded again. */
  verifiedBefore: (f: LtxFileInfo) => boolean = () => false;

  /** `replica` is called per use, so a replaced store (fault injection) takes effect. */
  constructor(replica: () => Replica, chunks: ChunkStore) {
    this.replica = replica;
    this.chunks = chunks;
  }

  /**
   * A file's header and page index: from memory when this ETag was read
   * before (unless `fresh`), else read whole and verified (small files) or
   * from the tail. Throws LtxError on bad data.
   */
  async read(f: LtxFileInfo, { fresh = false } = {}): Promise<FilePart> {
    const key = keyOf(f);
    const hit = fresh ? undefined : this.cache.get(key);
    if (hit) return hit;
    let part: FilePart;
    if (f.size <= SMALL_FILE_BYTES) {
      const bytes = await this.replica().readFile(f);
      const header = checkHeaderName(decodeHeader(bytes, f.key), f);
      const index = decodeFileIndexFromTail(bytes, bytes.length, { file: f.key, commit: header.commit, pageSize: header.pageSize });
      const known = this.verifiedBefore(f);
      const inline = !known && index.count * header.pageSize <= INLINE_VERIFY_PAGE_BYTES;
      // Verifying decodes every page: done here only when that is cheap, else by the scrub; never twice.
      const postApplyChecksum = inline ? decodeLtxFile(bytes, { file: f.key }).postApplyChecksum : readU64(bytes, bytes.length - TRAILER_SIZE);
      part = { header, index, head: null, postApplyChecksum, verified: known || inline };
    } else {
      const replica = this.replica();
      const head = await replica.readIndexHead(f);
      if (head.end - head.start > HELD_INDEX_BYTES) {
        part = { header: head.header, index: null, head: { ...head, indexBytes: null }, postApplyChecksum: head.postApplyChecksum, verified: false };
      } else {
        const bytes = head.indexBytes ?? (await replica.readRange(f, head.start, head.end - head.start));
        const index = decodeFileIndex(bytes, head.start, head.end, { file: f.key, commit: head.header.commit, pageSize: head.header.pageSize });
        part = { header: head.header, index, head: null, postApplyChecksum: head.postApplyChecksum, verified: false };
      }
    }
    this.cache.set(key, { ...part, byteLength: (part.index?.count ?? 0) * 16 + 256 });
    this.rememberStamp(key, part.header.timestamp);
    return part;
  }

  /** A file's page index entries in pgno order: the held index, or a stream of range reads. */
  entries(f: LtxFileInfo, part: FilePart): Iterable<FileIndex> | AsyncIterable<FileIndex> {
    if (part.index) return [part.index];
    if (!part.head) throw new Error(`no page index for ${f.key}`);
    return this.replica().streamIndex(f, part.head);
  }

  /** Whether a file's header and index are in memory. */
  has(f: LtxFileInfo): boolean {
    return this.cache.get(keyOf(f)) !== undefined;
  }

  /** Drops what is known about a file's bytes (it was quarantined). */
  forget(f: LtxFileInfo): void {
    this.cache.delete(keyOf(f));
  }

  /**
   * The page index for a plan, stored as chunks, every file checked against
   * the chain before it. `admit` is told each file and returns its epoch.
   * Throws {@link FileRejected} for the first file that is bad or does not continue.
   */
  async build(plan: readonly LtxFileInfo[], admit: (f: LtxFileInfo, part: FilePart) => number): Promise<BuiltIndex> {
    const parts = await readAll(this, plan);
    if (parts.length === 0) throw new PlanError("PLAN_NO_FILES", "empty restore plan");
    let end: ChainEnd | null = null;
    const sources: PlanSource[] = [];
    for (const [i, f] of plan.entries()) {
      const p = parts[i] as FilePart | FileRejected;
      if (p instanceof FileRejected) throw p;
      end = checked(end, f, p);
      sources.push({ file: chunkFileOf(f, admit(f, p)), entries: this.entries(f, p) });
    }
    const last = (parts[parts.length - 1] as FilePart).header;
    const first = (parts[0] as FilePart).header;
    try {
      const built = await buildRoot(this.chunks, first.pageSize, last.commit, last.maxTxid, last.timestamp, sources);
      return { built, end: end as ChainEnd };
    } catch (e) {
      if (e instanceof Error && (e as { code?: unknown }).code === "PLAN_INCONSISTENT") throw new PlanError("PLAN_INCONSISTENT", e.message);
      // A page index that fails while streaming is bad data of that file.
      const bad = plan.find((f) => e instanceof CodedError && (e as { file?: unknown }).file === f.key);
      const r = bad ? rejectionOf(e, bad) : null;
      throw r ?? e;
    }
  }

  /** Header timestamps of files, from listing metadata or a 100-byte read, remembered per ETag. */
  async timestamps(files: readonly LtxFileInfo[]): Promise<(f: LtxFileInfo) => number> {
    const replica = this.replica();
    await mapPool(files, FETCH_CONCURRENCY, async (f) => {
      const key = keyOf(f);
      if (!this.stamps.has(key)) this.rememberStamp(key, f.timestamp ?? (await replica.readHeader(f)).timestamp);
    });
    return (f) => this.stamps.get(keyOf(f)) ?? Number.POSITIVE_INFINITY;
  }

  /** Forgets timestamps of files no longer listed (the map would grow with every file ever seen). */
  prune(listed: readonly LtxFileInfo[]): void {
    const present = new Set(listed.map(keyOf));
    for (const k of [...this.stamps.keys()]) if (!present.has(k)) this.stamps.delete(k);
  }

  /** How many timestamps are held (tests). */
  get stampCount(): number {
    return this.stamps.size;
  }

  private rememberStamp(key: string, ts: number): void {
    this.stamps.delete(key);
    this.stamps.set(key, ts);
    // Oldest first: Map order is insertion order.
    while (this.stamps.size > MAX_STAMPS) this.stamps.delete(this.stamps.keys().next().value as string);
  }
}

/** `f` checked to continue `end`; the new end. Throws {@link FileRejected} when it does not continue. */
function checked(end: ChainEnd | null, f: LtxFileInfo, part: FilePart): ChainEnd {
  try {
    checkContinues(end, f.key, part.header);
  } catch (e) {
    throw rejectionOf(e, f) ?? e;
  }
  return { txid: part.header.maxTxid, pageSize: part.header.pageSize, postApplyChecksum: part.postApplyChecksum };
}

/**
 * Applies files (read into `parts`, in order) to the live index, each
 * checked to continue the one before; stops at the first that is bad or does
 * not continue and returns it as `rejected`, with what was applied before it.
 */
export async function applyChain(
  builder: IndexBuilder,
  index: ChunkedIndex,
  end: ChainEnd,
  files: readonly LtxFileInfo[],
  parts: readonly (FilePart | FileRejected)[],
  admit: (f: LtxFileInfo, part: FilePart) => number,
): Promise<{ end: ChainEnd; applied: LtxFileInfo[]; rejected: FileRejected | null }> {
  const applied: LtxFileInfo[] = [];
  let at = end;
  for (const [i, f] of files.entries()) {
    try {
      const p = parts[i] as FilePart | FileRejected;
      if (p instanceof FileRejected) throw p;
      const next = checked(at, f, p);
      const h: ApplyHeader = p.header;
      await index.apply(chunkFileOf(f, admit(f, p)), h, builder.entries(f, p));
      at = next;
      applied.push(f);
    } catch (e) {
      const rejected = rejectionOf(e, f);
      if (!rejected) throw e;
      return { end: at, applied, rejected };
    }
  }
  return { end: at, applied, rejected: null };
}

/** Reads files for {@link applyChain}: bad data becomes a {@link FileRejected} in place; storage errors propagate. */
export function readAll(builder: IndexBuilder, files: readonly LtxFileInfo[]): Promise<(FilePart | FileRejected)[]> {
  return mapPool(files, FETCH_CONCURRENCY, (f) =>
    builder.read(f).catch((e: unknown): FileRejected => {
      const r = rejectionOf(e, f);
      if (r) return r;
      throw e;
    }),
  );
}
