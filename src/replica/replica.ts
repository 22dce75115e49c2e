/**
 * @module
 * A Litestream replica on top of any {@link ObjectStore}: key layouts, level
 * listings, and the LTX reads the rest of ltx-edge needs (headers, page
 * indexes from the tail, page-frame ranges, whole files).
 *
 * Layouts (replica-layout.md §1):
 * - `s3`:   `<prefix>/<level as %04x>/<min>-<max>.ltx` (S3, R2, every S3-like backend)
 * - `file`: `<prefix>/ltx/<level decimal>/<min>-<max>.ltx` (file, GCS, Azure, SFTP …)
 * Anything else under the prefix (old `generations/`, stray objects) is ignored.
 *
 * @example
 * ```ts
 * const replica = new Replica(new R2Store(env.BUCKET), { prefix: "prod/app.db" });
 * const files = await replica.listFiles();
 * ```
 */
import { DEFAULT_INDEX_SUFFIX, type FileIndex, decodeFileIndex, locateFileIndex } from "../ltx/file-index.ts";
import { readU64 } from "../ltx/bytes.ts";
import { HEADER_SIZE, TRAILER_SIZE, type LtxHeader, decodeHeader } from "../ltx/header.ts";
import { streamFileIndex } from "../ltx/index-stream.ts";
import { LtxError } from "../ltx/errors.ts";
import { formatLtxFilename, formatTxid, parseLtxFilename } from "../ltx/txid.ts";
import type { ObjectStore, StoredObject } from "./types.ts";

export type Layout = "s3" | "file";

/** Bytes of page index read per request when a file's index is streamed. */
export const STREAM_RANGE_BYTES = 4 * 1024 * 1024;

/** A file's header, trailer checksum and the location of its page index ([start, end) of the file). */
export interface IndexHead {
  header: LtxHeader;
  postApplyChecksum: bigint;
  start: number;
  end: number;
  /** The index bytes when the tail read held all of them. */
  indexBytes: Uint8Array | null;
}
export type LayoutOption = Layout | "auto";

export const SNAPSHOT_LEVEL = 9;

/** One LTX file of a replica, as a listing describes it. */
export interface LtxFileInfo {
  key: string;
  level: number;
  minTxid: number;
  maxTxid: number;
  size: number;
  etag: string;
  /** Upload time, ms (0 when unknown). */
  uploaded: number;
  /** LTX header timestamp from listing metadata, when the store provides it. */
  timestamp?: number;
}

/** Normalizes a key prefix: no leading/trailing slashes; "" for the bucket root. */
export function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}

/** The folder of one level under a prefix, with a trailing slash. */
export function levelDir(prefix: string, layout: Layout, level: number): string {
  const base = prefix === "" ? "" : `${prefix}/`;
  return layout === "s3" ? `${base}${level.toString(16).padStart(4, "0")}/` : `${base}ltx/${level}/`;
}

/** Parses a key relative to the prefix folder; null when it is not an LTX file of that layout. */
export function parseLtxKey(relKey: string, layout: Layout): { level: number; minTxid: number; maxTxid: number } | null {
  const m = layout === "s3" ? /^([0-9a-f]{4})\/([^/]+)$/.exec(relKey) : /^ltx\/(0|[1-9][0-9]?)\/([^/]+)$/.exec(relKey);
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  const level = layout === "s3" ? Number.parseInt(m[1], 16) : Number.parseInt(m[1], 10);
  if (level > SNAPSHOT_LEVEL) return null;
  const name = parseLtxFilename(m[2]);
  if (!name) return null;
  return { level, ...name };
}

function sortFiles(files: LtxFileInfo[]): LtxFileInfo[] {
  return files.sort((a, b) => a.level - b.level || a.minTxid - b.minTxid || a.maxTxid - b.maxTxid);
}

export interface ReplicaOptions {
  /** Everything before the level folder, e.g. `prod/app.db`; "" for the root. */
  prefix: string;
  /** Key layout; `auto` (default) detects it from the first listing. */
  layout?: LayoutOption;
}

export class Replica {
  readonly store: ObjectStore;
  readonly prefix: string;
  private layoutValue: Layout | null;

  constructor(store: ObjectStore, opts: ReplicaOptions) {
    this.store = store;
    this.prefix = normalizePrefix(opts.prefix);
    this.layoutValue = opts.layout === undefined || opts.layout === "auto" ? null : opts.layout;
  }

  /** The layout in use, or null while it is still to be detected. */
  get layout(): Layout | null {
    return this.layoutValue;
  }

  get description(): string {
    return `${this.store.description}${this.prefix ? `/${this.prefix}` : ""}`;
  }

  private get base(): string {
    return this.prefix === "" ? "" : `${this.prefix}/`;
  }

  private toInfo(o: StoredObject, layout: Layout): LtxFileInfo | null {
    if (!o.key.startsWith(this.base)) return null;
    const parsed = parseLtxKey(o.key.slice(this.base.length), layout);
    if (!parsed) return null;
    const info: LtxFileInfo = { key: o.key, ...parsed, size: o.size, etag: o.etag, uploaded: o.uploaded };
    if (o.timestamp !== undefined) info.timestamp = o.timestamp;
    return info;
  }

  /**
   * Lists every LTX file of every level with one paginated listing of the
   * prefix, sorted by (level, minTXID, maxTXID). Detects the layout when auto:
   * the S3 layout wins when both shapes are present (it is what current
   * Litestream writes to object stores).
   */
  async listFiles(): Promise<LtxFileInfo[]> {
    const objects = await this.store.list(this.base);
    if (this.layoutValue) return sortFiles(objects.map((o) => this.toInfo(o, this.layoutValue as Layout)).filter(isInfo));
    const s3 = objects.map((o) => this.toInfo(o, "s3")).filter(isInfo);
    if (s3.length > 0) {
      this.layoutValue = "s3";
      return sortFiles(s3);
    }
    const file = objects.map((o) => this.toInfo(o, "file")).filter(isInfo);
    if (file.length > 0) this.layoutValue = "file";
    return sortFiles(file);
  }

  /**
   * Lists one level, starting after the files whose names sort at or before
   * `afterTxid` (cheap polling of L0: keys are fixed-width hex, so key order is
   * TXID order). Requires a known layout (call listFiles first when auto).
   */
  async listLevel(level: number, afterTxid = 0): Promise<LtxFileInfo[]> {
    const layout = this.layoutValue;
    if (!layout) return (await this.listFiles()).filter((f) => f.level === level && f.minTxid > afterTxid);
    const dir = levelDir(this.prefix, layout, level);
    const startAfter = afterTxid > 0 ? `${dir}${formatTxid(afterTxid)}-ffffffffffffffff.ltx` : undefined;
    const objects = await this.store.list(dir, startAfter ? { startAfter } : {});
    return sortFiles(objects.map((o) => this.toInfo(o, layout)).filter(isInfo));
  }

  /**
   * The level-0 file of exactly one TXID, if it exists: the file Litestream
   * writes next after `txid - 1` (every L0 file holds one TXID). One HEAD —
   * a Class B operation, where a listing is Class A — so a poll that finds
   * nothing new costs the cheapest request there is. Requires a known layout.
   */
  async probeL0(txid: number): Promise<LtxFileInfo | null> {
    const layout = this.layoutValue;
    if (!layout) throw new Error("probeL0 needs the replica's layout (list it first)");
    const key = `${levelDir(this.prefix, layout, 0)}${formatLtxFilename(txid, txid)}`;
    const o = await this.store.head(key);
    return o ? this.toInfo(o, layout) : null;
  }

  /** Reads and validates the 100-byte header; checks it matches the file name. */
  async readHeader(file: LtxFileInfo): Promise<LtxHeader> {
    const r = await this.store.getRange(file.key, 0, Math.min(HEADER_SIZE, file.size));
    return checkHeaderName(decodeHeader(r.bytes, file.key), file);
  }

  /**
   * Reads a file's header, trailer and where its page index lies, with one
   * suffix read (plus a 100-byte header read for files larger than the
   * suffix). `tail` holds the whole index when it fits in the suffix.
   */
  async readIndexHead(file: LtxFileInfo, suffix = DEFAULT_INDEX_SUFFIX): Promise<IndexHead> {
    const wantHeader = file.size > suffix;
    const [tailRes, header] = await Promise.all([
      this.store.getSuffix(file.key, suffix, file.size),
      wantHeader ? this.readHeader(file) : Promise.resolve(null),
    ]);
    const size = tailRes.size;
    if (size !== file.size) {
      throw new LtxError("LTX_TRUNCATED", `object is ${size} bytes, listing said ${file.size} (replaced while reading?)`, { file: file.key });
    }
    const tail = tailRes.bytes;
    const h = header ?? checkHeaderName(decodeHeader(tail, file.key), file);
    const { start, end } = locateFileIndex(tail, size, file.key);
    const tailStart = size - tail.length;
    // The trailer's post-apply checksum: what the next file's pre-apply checksum must equal (when both carry one).
    const postApplyChecksum = readU64(tail, tail.length - TRAILER_SIZE);
    return { header: h, postApplyChecksum, start, end, indexBytes: start >= tailStart ? tail.subarray(start - tailStart, end - tailStart) : null };
  }

  /**
   * Reads the page index from the tail with one suffix read (a second read
   * when the index is larger than the suffix) and, for files that fit in the
   * suffix, the header from the same bytes. Two requests otherwise.
   */
  async readIndex(file: LtxFileInfo, suffix = DEFAULT_INDEX_SUFFIX): Promise<{ header: LtxHeader; index: FileIndex; postApplyChecksum: bigint }> {
    const head = await this.readIndexHead(file, suffix);
    const opts = { file: file.key, commit: head.header.commit, pageSize: head.header.pageSize };
    const bytes = head.indexBytes ?? (await this.store.getRange(file.key, head.start, head.end - head.start)).bytes;
    return { header: head.header, index: decodeFileIndex(bytes, head.start, head.end, opts), postApplyChecksum: head.postApplyChecksum };
  }

  /** The page index of a file in batches, read in ranges of at most `rangeBytes` (a 100 GB snapshot's index is ~260 MB). */
  streamIndex(file: LtxFileInfo, head: IndexHead, rangeBytes = STREAM_RANGE_BYTES): AsyncGenerator<FileIndex> {
    const opts = { file: file.key, commit: head.header.commit, pageSize: head.header.pageSize };
    return streamFileIndex((o, l) => this.readRange(file, o, l), head.start, head.end, opts, rangeBytes);
  }

  /** Reads a byte range of a file (a run of page frames). */
  async readRange(file: LtxFileInfo, offset: number, length: number): Promise<Uint8Array> {
    return (await this.store.getRange(file.key, offset, length)).bytes;
  }

  /** Reads a whole file. */
  async readFile(file: LtxFileInfo): Promise<Uint8Array> {
    const r = await this.store.get(file.key);
    if (r.bytes.length !== file.size) {
      throw new LtxError("LTX_TRUNCATED", `object is ${r.bytes.length} bytes, listing said ${file.size}`, { file: file.key });
    }
    return r.bytes;
  }
}

function isInfo(x: LtxFileInfo | null): x is LtxFileInfo {
  return x !== null;
}

/** Header TXIDs must equal the TXIDs in the object name (spec §12). */
export function checkHeaderName(h: LtxHeader, file: Pick<LtxFileInfo, "key" | "minTxid" | "maxTxid">): LtxHeader {
  if (h.minTxid !== file.minTxid || h.maxTxid !== file.maxTxid) {
    throw new LtxError(
      "LTX_NAME_MISMATCH",
      `header TXIDs ${formatTxid(h.minTxid)}-${formatTxid(h.maxTxid)} do not match the file name`,
      { file: file.key, offset: 16 },
    );
  }
  return h;
}
