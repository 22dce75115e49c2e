/**
 * A replica that keeps changing while the benchmark runs, as Litestream
 * would make it: a real SQLite database (better-sqlite3, rollback journal)
 * is written to; after each transaction the pages that changed become an L0
 * LTX file (src/ltx/writer.ts) put into wrangler's local R2 while
 * `wrangler dev` runs; every so often the pending L0 files are compacted into
 * one L1 file, and L0 files compacted more than a retention period ago are
 * deleted, as Litestream's L0 retention does. Every file also goes to a
 * mirror directory, so the replica can be restored independently at the end
 * and compared with the database it was made from.
 *
 * The LTX files carry no database checksums (Litestream writes NoChecksum
 * files too); the Worker never needs them.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import type { LocalBucket } from "../src/cli/local-r2.ts";
import { putBytes } from "../src/cli/local-r2.ts";
import { formatLtxFilename } from "../src/ltx/txid.ts";
import { encodeLtxFile } from "../src/ltx/writer.ts";
import { levelDir } from "../src/replica/replica.ts";
import type { NativeDb, NativeLib } from "./native.ts";

export interface LiveWrite {
  txid: number;
  pages: number;
  bytes: number;
  /** When the file had landed in local R2 (performance.now()). */
  landedAt: number;
}

export class LiveReplica {
  readonly prefix: string;
  readonly db: NativeDb;
  readonly pageSize: number;
  /** The TXID of the newest file written. */
  txid: number;
  /** landedAt of every TXID written here. */
  readonly landed = new Map<number, number>();
  readonly #bucket: LocalBucket;
  readonly #dbPath: string;
  readonly #mirror: string;
  #prev: Uint8Array;
  /** Pages changed since the last compaction, and the TXIDs of their L0 files. */
  #pending = new Set<number>();
  #pendingFrom = 0;
  /** L0 keys covered by an L1 file, and when that L1 landed. */
  readonly #compacted: { keys: string[]; at: number }[] = [];
  #pendingKeys: string[] = [];
  files = { l0: 0, l1: 0, deleted: 0 };

  private constructor(o: { bucket: LocalBucket; prefix: string; dbPath: string; mirror: string; db: NativeDb; bytes: Uint8Array; pageSize: number; txid: number }) {
    this.#bucket = o.bucket;
    this.prefix = o.prefix;
    this.#dbPath = o.dbPath;
    this.#mirror = o.mirror;
    this.db = o.db;
    this.#prev = o.bytes;
    this.pageSize = o.pageSize;
    this.txid = o.txid;
  }

  /**
   * Follows the database file `dbPath`, whose replica (in R2 and the mirror)
   * is already at `txid` — or, with `snapshot`, writes its snapshot at TXID 1 first.
   */
  static async open(lib: NativeLib, o: { bucket: LocalBucket; prefix: string; dbPath: string; mirror: string; txid: number; snapshot: boolean }): Promise<LiveReplica> {
    const bytes = new Uint8Array(await readFile(o.dbPath));
    const pageSize = new DataView(bytes.buffer, bytes.byteOffset).getUint16(16, false) || 65536;
    const db = new lib.ctor(o.dbPath);
    // Rollback journal: the main file is complete after every commit (the first L0 carries page 1's new mode bytes).
    db.pragma("journal_mode = DELETE");
    const live = new LiveReplica({ ...o, db, bytes: o.snapshot ? new Uint8Array(0) : bytes, pageSize, txid: o.snapshot ? 0 : o.txid });
    if (o.snapshot) {
      const now = new Uint8Array(await readFile(o.dbPath));
      await live.#put(levelDir(o.prefix, "s3", 9) + formatLtxFilename(1, 1), encodeLtxFile({ pageSize, commit: now.length / pageSize, minTxid: 1, maxTxid: 1 }, pagesOf(now, pageSize, null)));
      live.#prev = now;
      live.txid = 1;
    }
    return live;
  }

  async #put(key: string, bytes: Uint8Array): Promise<void> {
    const path = join(this.#mirror, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    await putBytes(this.#bucket, key, bytes);
  }

  /**
   * Runs `change` in one transaction and ships the pages it changed as the
   * next L0 file; `beforeLand` runs after the commit and before the file is
   * put (what a reader may see at the new TXID must be known by then).
   */
  async write(change: (db: NativeDb) => void, beforeLand?: (txid: number) => void): Promise<LiveWrite> {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      change(this.db);
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
    const now = new Uint8Array(await readFile(this.#dbPath));
    const changed = [...pagesOf(now, this.pageSize, this.#prev)];
    const txid = this.txid + 1;
    const file = encodeLtxFile({ pageSize: this.pageSize, commit: now.length / this.pageSize, minTxid: txid, maxTxid: txid }, changed);
    const key = levelDir(this.prefix, "s3", 0) + formatLtxFilename(txid, txid);
    beforeLand?.(txid);
    await this.#put(key, file);
    const landedAt = performance.now();
    this.#prev = now;
    this.txid = txid;
    this.landed.set(txid, landedAt);
    if (this.#pending.size === 0) this.#pendingFrom = txid;
    for (const [pgno] of changed) this.#pending.add(pgno);
    this.#pendingKeys.push(key);
    this.files.l0++;
    return { txid, pages: changed.length, bytes: file.length, landedAt };
  }

  /** Compacts the L0 files written since the last compaction into one L1 file (their pages as of now). */
  async compact(): Promise<void> {
    if (this.#pending.size === 0) return;
    const pgnos = [...this.#pending].sort((a, b) => a - b);
    const pages = pgnos.map((p) => [p, this.#prev.subarray((p - 1) * this.pageSize, p * this.pageSize)] as const);
    const file = encodeLtxFile({ pageSize: this.pageSize, commit: this.#prev.length / this.pageSize, minTxid: this.#pendingFrom, maxTxid: this.txid }, pages);
    await this.#put(levelDir(this.prefix, "s3", 1) + formatLtxFilename(this.#pendingFrom, this.txid), file);
    this.#compacted.push({ keys: this.#pendingKeys, at: performance.now() });
    this.#pending = new Set();
    this.#pendingKeys = [];
    this.files.l1++;
  }

  /** Deletes the L0 files of compactions older than `retentionMs`. */
  async retire(retentionMs: number): Promise<void> {
    while (this.#compacted.length > 0 && performance.now() - (this.#compacted[0]?.at ?? 0) >= retentionMs) {
      const { keys } = this.#compacted.shift() as { keys: string[] };
      await this.#bucket.delete(keys);
      for (const k of keys) await rm(join(this.#mirror, k), { force: true });
      this.files.deleted += keys.length;
    }
  }

  /** The database file's bytes as of the newest TXID. */
  get bytes(): Uint8Array {
    return this.#prev;
  }

  close(): void {
    this.db.close();
  }
}

/** Pages of `now` that differ from `prev` (all of them when `prev` is null), as [pgno, bytes]. */
function* pagesOf(now: Uint8Array, pageSize: number, prev: Uint8Array | null): Generator<readonly [number, Uint8Array]> {
  for (let p = 1; p * pageSize <= now.length; p++) {
    const page = now.subarray((p - 1) * pageSize, p * pageSize);
    if (prev && p * pageSize <= prev.length && Buffer.compare(page, prev.subarray((p - 1) * pageSize, p * pageSize)) === 0) continue;
    yield [p, page] as const;
  }
}
