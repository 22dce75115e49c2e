/**
 * @module
 * The integrity ledger of one database's Durable Object: per LTX file
 * (key + ETag) whether its file checksum was verified, is pending (a large
 * file the background scrub has not finished), or failed (quarantined: never
 * served, re-checked with back-off), the scrub progress, and the admission
 * epoch it is served with. Persisted in DO SQLite so every file is verified
 * once across evictions, and mirrored in a bounded in-memory map.
 *
 * Epochs: every admission of a file's bytes gets an epoch from a counter
 * that only grows and is persisted before use (reserved in blocks, so it
 * costs one row write per {@link EPOCH_BLOCK} admissions); a counter with no
 * stored value starts at the current time in ms, past any epoch a wiped
 * object could have issued. So an epoch never repeats for a key + ETag, and
 * bytes cached under an earlier admission are unreachable after a re-admission.
 */
import type { ScrubProgress } from "./scrub.ts";
import type { ChunkFile } from "../page-index/chunk.ts";
import type { LtxFileInfo } from "../replica/replica.ts";
import type { CountedSql } from "./persist.ts";

export type FileStatus = "verified" | "pending" | "quarantined";

export interface FileRecord {
  key: string;
  etag: string;
  level: number;
  minTxid: number;
  maxTxid: number;
  size: number;
  epoch: number;
  status: FileStatus;
  /** Why it was quarantined (an LTX_ code and message). */
  code: string | null;
  message: string | null;
  /** When it was quarantined (ms). */
  since: number | null;
  /** Times it failed verification or continuity (drives the back-off). */
  failures: number;
  /** Earliest re-check of a quarantined file (ms). */
  nextCheckAt: number | null;
  /** Scrub progress of a pending file, or of a quarantined one being re-verified. */
  scrub: ScrubProgress | null;
}

/** Epochs reserved per counter write. */
export const EPOCH_BLOCK = 1024;
/** Most records kept; beyond it the oldest verified ones no index uses are forgotten (then verified again if needed). */
export const MAX_RECORDS = 20_000;
/** First re-check of a quarantined file after this; doubles per failure up to {@link RECHECK_MAX_MS}. */
export const RECHECK_BASE_MS = 60_000;
export const RECHECK_MAX_MS = 3_600_000;

type Row = {
  key: string;
  etag: string;
  level: number;
  min_txid: number;
  max_txid: number;
  size: number;
  epoch: number;
  status: string;
  code: string | null;
  message: string | null;
  since: number | null;
  failures: number;
  next_check_at: number | null;
  scrub: string | null;
};

const idOf = (f: { key: string; etag: string }) => `${f.key}\n${f.etag}`;

export class IntegrityLedger {
  private readonly sql: CountedSql;
  private readonly records = new Map<string, FileRecord>();
  private nextEpoch: number;
  private epochCeiling: number;

  constructor(sql: CountedSql) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS integrity (
      key TEXT NOT NULL, etag TEXT NOT NULL, level INTEGER NOT NULL, min_txid INTEGER NOT NULL, max_txid INTEGER NOT NULL,
      size INTEGER NOT NULL, epoch INTEGER NOT NULL, status TEXT NOT NULL, code TEXT, message TEXT, since INTEGER,
      failures INTEGER NOT NULL, next_check_at INTEGER, scrub TEXT, PRIMARY KEY (key, etag))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS integrity_meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`);
    const stored = sql.exec<{ v: number }>(`SELECT v FROM integrity_meta WHERE k = 'epoch_ceiling'`)[0]?.v;
    // Everything below a stored ceiling may have been issued: continue above it.
    this.nextEpoch = stored ?? Date.now();
    this.epochCeiling = this.nextEpoch;
    for (const r of sql.exec<Row>(`SELECT * FROM integrity`)) this.records.set(idOf(r), fromRow(r));
  }

  get(f: { key: string; etag: string }): FileRecord | undefined {
    return this.records.get(idOf(f));
  }

  get size(): number {
    return this.records.size;
  }

  /** Kept out of plans and service. */
  isQuarantined(f: { key: string; etag: string }): boolean {
    return this.get(f)?.status === "quarantined";
  }

  /**
   * The epoch to serve a file with, recording it on first sight as verified
   * (its checksum was checked on the way in) or pending (the scrub will).
   */
  admit(f: LtxFileInfo, verified: boolean): number {
    const rec = this.get(f);
    if (rec) {
      if (verified && rec.status === "pending") this.save({ ...rec, status: "verified", scrub: null });
      return rec.epoch;
    }
    const fresh: FileRecord = {
      ...describeFile(f),
      epoch: this.issueEpoch(),
      status: verified ? "verified" : "pending",
      code: null,
      message: null,
      since: null,
      failures: 0,
      nextCheckAt: null,
      scrub: null,
    };
    this.save(fresh);
    return fresh.epoch;
  }

  /** Files of an index loaded from storage that the ledger does not know (objects older than it): pending, with their epoch. */
  adoptUnknown(files: readonly ChunkFile[]): void {
    for (const f of files) {
      if (this.get(f)) continue;
      this.save({ ...describeFile(f), epoch: f.epoch, status: "pending", code: null, message: null, since: null, failures: 0, nextCheckAt: null, scrub: null });
    }
  }

  markVerified(f: { key: string; etag: string }): void {
    const rec = this.get(f);
    if (rec && rec.status === "pending") this.save({ ...rec, status: "verified", scrub: null });
  }

  /** Quarantines a file (known or not) for `error`; the back-off doubles with every failure. */
  quarantine(f: LtxFileInfo | FileRecord, error: { code: string; message: string }, now = Date.now()): FileRecord {
    const rec = this.get(f);
    const failures = (rec?.failures ?? 0) + 1;
    const next: FileRecord = {
      ...describeFile(f),
      epoch: rec?.epoch ?? this.issueEpoch(),
      status: "quarantined",
      code: error.code,
      message: error.message,
      since: now,
      failures,
      nextCheckAt: now + Math.min(RECHECK_MAX_MS, RECHECK_BASE_MS * 2 ** Math.min(failures - 1, 16)),
      scrub: null,
    };
    this.save(next);
    return next;
  }

  /** A quarantined file verified again: back in service under a new epoch (bytes cached before are unreachable). */
  readmit(f: { key: string; etag: string }): number {
    const rec = this.get(f);
    if (!rec) throw new RangeError(`readmit: unknown file ${f.key}`);
    const epoch = this.issueEpoch();
    this.save({ ...rec, epoch, status: "verified", code: null, message: null, since: null, nextCheckAt: null, scrub: null });
    return epoch;
  }

  /** Persists scrub progress (one row write per step). */
  saveScrub(f: { key: string; etag: string }, progress: ScrubProgress | null): void {
    const rec = this.get(f);
    if (rec) this.save({ ...rec, scrub: progress });
  }

  /** Why a file of an index must not be served now, or null. */
  blocks(f: ChunkFile): string | null {
    const rec = this.get(f);
    if (!rec) return null;
    if (rec.status === "quarantined") return `${rec.code}: ${rec.message}`;
    if (rec.epoch !== f.epoch) return `it was re-admitted (epoch ${rec.epoch}) and the index still names epoch ${f.epoch}`;
    return null;
  }

  /** Quarantined files of the listing whose back-off has passed (all of them when `force`). */
  dueRechecks(listed: readonly LtxFileInfo[], now: number, force = false): FileRecord[] {
    const out: FileRecord[] = [];
    for (const f of listed) {
      const rec = this.get(f);
      if (rec?.status === "quarantined" && rec.scrub === null && (force || (rec.nextCheckAt ?? 0) <= now)) out.push(rec);
    }
    return out;
  }

  /** Records with verification work left: pending files, and quarantined ones being re-verified. */
  scrubQueue(): FileRecord[] {
    return [...this.records.values()].filter((r) => r.status === "pending" || (r.status === "quarantined" && r.scrub !== null));
  }

  /** Starts re-verifying a quarantined (large) file in the background scrub. */
  startRecheck(f: { key: string; etag: string }): void {
    const rec = this.get(f);
    if (rec?.status === "quarantined") this.save({ ...rec, scrub: { pos: 0, frame: 0, crc: { lo: 0xffffffff, hi: 0xffffffff } } });
  }

  /** The file is gone from the store: nothing to verify or re-check. */
  forget(f: { key: string; etag: string }): void {
    if (!this.records.delete(idOf(f))) return;
    this.sql.exec(`DELETE FROM integrity WHERE key = ? AND etag = ?`, f.key, f.etag);
  }

  /**
   * After a full listing: forgets files no longer listed (unless `inUse`),
   * then, beyond {@link MAX_RECORDS}, the oldest verified ones not in use.
   */
  prune(listed: readonly LtxFileInfo[], inUse: (f: { key: string; etag: string }) => boolean): void {
    const present = new Set(listed.map(idOf));
    for (const rec of [...this.records.values()]) if (!present.has(idOf(rec)) && !inUse(rec)) this.forget(rec);
    if (this.records.size <= MAX_RECORDS) return;
    for (const rec of [...this.records.values()]) {
      if (this.records.size <= MAX_RECORDS) break;
      if (rec.status === "verified" && !inUse(rec)) this.forget(rec);
    }
  }

  quarantined(): FileRecord[] {
    return [...this.records.values()].filter((r) => r.status === "quarantined");
  }

  counts(): Record<FileStatus, number> {
    const c: Record<FileStatus, number> = { verified: 0, pending: 0, quarantined: 0 };
    for (const r of this.records.values()) c[r.status]++;
    return c;
  }

  private issueEpoch(): number {
    if (this.nextEpoch >= this.epochCeiling) {
      // Reserve before handing out: a crash after this wastes at most a block, never repeats one.
      this.epochCeiling = this.nextEpoch + EPOCH_BLOCK;
      this.sql.exec(`INSERT OR REPLACE INTO integrity_meta (k, v) VALUES ('epoch_ceiling', ?)`, this.epochCeiling);
    }
    return this.nextEpoch++;
  }

  private save(rec: FileRecord): void {
    // Map order is insertion order: re-inserting keeps recently touched records last (pruned last).
    this.records.delete(idOf(rec));
    this.records.set(idOf(rec), rec);
    this.sql.exec(
      `INSERT OR REPLACE INTO integrity (key, etag, level, min_txid, max_txid, size, epoch, status, code, message, since, failures, next_check_at, scrub)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      rec.key,
      rec.etag,
      rec.level,
      rec.minTxid,
      rec.maxTxid,
      rec.size,
      rec.epoch,
      rec.status,
      rec.code,
      rec.message,
      rec.since,
      rec.failures,
      rec.nextCheckAt,
      rec.scrub ? JSON.stringify(rec.scrub) : null,
    );
  }
}

function describeFile(f: Pick<LtxFileInfo, "key" | "etag" | "level" | "minTxid" | "maxTxid" | "size">) {
  return { key: f.key, etag: f.etag, level: f.level, minTxid: f.minTxid, maxTxid: f.maxTxid, size: f.size };
}

function fromRow(r: Row): FileRecord {
  const status: FileStatus = r.status === "verified" || r.status === "quarantined" ? r.status : "pending";
  return {
    key: r.key,
    etag: r.etag,
    level: r.level,
    minTxid: r.min_txid,
    maxTxid: r.max_txid,
    size: r.size,
    epoch: r.epoch,
    status,
    code: r.code,
    message: r.message,
    since: r.since,
    failures: r.failures,
    nextCheckAt: r.next_check_at,
    scrub: r.scrub ? (JSON.parse(r.scrub) as ScrubProgress) : null,
  };
}

/** A record as the listing entry the replica layer reads it by. */
export function fileOf(rec: FileRecord): LtxFileInfo {
  return { key: rec.key, etag: rec.etag, level: rec.level, minTxid: rec.minTxid, maxTxid: rec.maxTxid, size: rec.size, uploaded: 0 };
}
