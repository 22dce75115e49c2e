/**
 * @module
 * The Durable Object's integrity policy over its {@link IntegrityLedger}:
 * which files plans must avoid, quarantining files that fail verification or
 * continuity, refusing to hand out an index that names one, re-checking
 * quarantined files with back-off, and running the background scrub.
 *
 * Invariant: an index handed to Workers names only files whose ledger record
 * is not quarantined and whose epoch is the record's current one
 * ({@link Integrity.assertServable}); a re-admitted file therefore reaches
 * Workers only through a rebuild that re-points its pages to the new epoch.
 */
import { CodedError } from "../errors.ts";
import { formatTxid } from "../ltx/txid.ts";
import type { ChunkFile } from "../page-index/chunk.ts";

/** What the integrity policy needs to know of an index: the files it reads and its position. */
export interface IndexFiles {
  readonly files: readonly ChunkFile[];
  readonly txid: number;
}
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { type FilePart, FileRejected, type IndexBuilder, SMALL_FILE_BYTES, type BuiltIndex, rejectionOf } from "./index-builder.ts";
import { type FileRecord, IntegrityLedger, fileOf } from "./ledger.ts";
import type { CountedSql } from "./persist.ts";
import type { IntegrityStatus, QuarantinedFile, ScrubStepReport } from "./protocol.ts";
import { verifyStep } from "./scrub.ts";

/** Files one rebuild may quarantine before it gives up (each costs a re-plan). */
export const MAX_REJECTIONS_PER_BUILD = 8;
/** Quarantined files listed in status. */
const STATUS_LIST = 50;

export class IntegrityError extends CodedError {}

const same = (a: { key: string; etag: string }, b: { key: string; etag: string }) => a.key === b.key && a.etag === b.etag;

export class Integrity {
  readonly ledger: IntegrityLedger;
  private readonly builder: IndexBuilder;
  private readonly replica: () => Replica;
  /** Told about every newly quarantined file (the DO voids time-travel indexes that use it). */
  onQuarantine: (f: LtxFileInfo) => void = () => undefined;
  scrubbedBytes = 0;

  constructor(sql: CountedSql, builder: IndexBuilder, replica: () => Replica) {
    this.ledger = new IntegrityLedger(sql);
    this.builder = builder;
    this.replica = replica;
    builder.verifiedBefore = (f) => this.ledger.get(f)?.status === "verified";
  }

  /** Plans must not use it. */
  readonly avoid = (f: LtxFileInfo): boolean => this.ledger.isQuarantined(f);

  /** The epoch a file is applied with (recording whether its checksum was verified on the way in). */
  readonly admit = (f: LtxFileInfo, part: FilePart): number => this.ledger.admit(f, part.verified);

  quarantine(r: FileRejected): FileRecord {
    const rec = this.ledger.quarantine(r.file, { code: r.code, message: r.message });
    this.builder.forget(r.file);
    this.onQuarantine(r.file);
    return rec;
  }

  /**
   * Builds the plan `planFor` returns, quarantining each file that fails and
   * re-planning without it (at most {@link MAX_REJECTIONS_PER_BUILD} times).
   * `built` is null when the plan is empty (every way on is quarantined).
   */
  async buildAvoiding<P extends { plan: LtxFileInfo[] }>(planFor: () => P): Promise<{ planned: P; built: BuiltIndex | null }> {
    for (let round = 0; ; round++) {
      const planned = planFor();
      if (planned.plan.length === 0) return { planned, built: null };
      try {
        return { planned, built: await this.builder.build(planned.plan, this.admit) };
      } catch (e) {
        if (!(e instanceof FileRejected) || round >= MAX_REJECTIONS_PER_BUILD) throw e;
        this.quarantine(e);
      }
    }
  }

  /** Throws LTX_QUARANTINED when `index` names a file that must not be served. */
  assertServable(index: IndexFiles): void {
    for (const f of index.files) {
      const why = this.ledger.blocks(f);
      if (why === null) continue;
      throw new IntegrityError(
        "LTX_QUARANTINED",
        `the state at TXID ${formatTxid(index.txid)} needs ${f.key}, which is out of service (${why}); no other file covers its pages. ` +
          "Reads resume when the file verifies again (repaired in place) or a compacted file replaces it",
      );
    }
  }

  /** True when `index` names a file that was re-admitted under a new epoch since (the index must be rebuilt). */
  hasStaleEpochs(index: IndexFiles): boolean {
    return index.files.some((f) => {
      const rec = this.ledger.get(f);
      return rec !== undefined && rec.status !== "quarantined" && rec.epoch !== f.epoch;
    });
  }

  /** The error for a replica whose newer state is reachable only through quarantined files; `live` is what the DO holds. */
  blockedError(blockedBy: readonly LtxFileInfo[], live: IndexFiles | null): IntegrityError {
    const why = blockedBy.map((f) => {
      const rec = this.ledger.get(f);
      return `${f.key} (TXIDs ${formatTxid(f.minTxid)}-${formatTxid(f.maxTxid)}: ${rec?.code ?? "quarantined"})`;
    });
    const now =
      live === null
        ? "nothing can be served"
        : live.files.some((f) => this.ledger.blocks(f) !== null)
          ? `the state at TXID ${formatTxid(live.txid)} uses them too, so nothing is served`
          : `serving TXID ${formatTxid(live.txid)}`;
    return new IntegrityError("LTX_QUARANTINED", `newer state is only in quarantined files: ${why.join("; ")}; ${now} until they verify or are replaced`);
  }

  /**
   * Re-checks quarantined files of a full listing whose back-off has passed
   * (all when `force`): small ones are read and verified now, large ones
   * start a re-verification in the scrub. Returns the files re-admitted.
   */
  async recheck(listed: readonly LtxFileInfo[], now: number, force = false): Promise<LtxFileInfo[]> {
    const readmitted: LtxFileInfo[] = [];
    for (const rec of this.ledger.dueRechecks(listed, now, force)) {
      const f = listed.find((x) => same(x, rec)) ?? fileOf(rec);
      if (f.size > SMALL_FILE_BYTES) {
        this.ledger.startRecheck(f);
        continue;
      }
      try {
        const part = await this.builder.read(f, { fresh: true });
        if (!part.verified) {
          this.ledger.startRecheck(f); // too many pages to decode here: the scrub verifies it in steps
          continue;
        }
        this.ledger.readmit(f);
        readmitted.push(f);
      } catch (e) {
        const r = rejectionOf(e, f);
        if (!r) throw e;
        this.quarantine(r);
      }
    }
    return readmitted;
  }

  /** Whether the scrub has work left. */
  get scrubPending(): number {
    return this.ledger.scrubQueue().length;
  }

  /**
   * One scrub step on the file that needs it most (files `inUse` first, then
   * re-checks, then the rest). Null when nothing is left. Storage errors
   * other than not-found propagate.
   */
  async scrubStep(inUse: (f: { key: string; etag: string }) => boolean): Promise<ScrubStepReport | null> {
    const rec = this.nextToScrub(inUse);
    if (!rec) return null;
    const f = fileOf(rec);
    const recheck = rec.status === "quarantined";
    const r = await verifyStep(f, rec.scrub, this.builder, this.replica().store);
    this.scrubbedBytes += r.read.length;
    const report = (outcome: ScrubStepReport["outcome"], code?: string): ScrubStepReport => ({
      key: f.key,
      etag: f.etag,
      offset: r.read.offset,
      length: r.read.length,
      outcome,
      ...(code !== undefined ? { code } : {}),
    });
    switch (r.kind) {
      case "progress":
        this.ledger.saveScrub(f, r.progress ?? rec.scrub);
        return report("progress");
      case "verified":
        if (!recheck) {
          this.ledger.markVerified(f);
          return report("verified");
        }
        this.ledger.readmit(f);
        return report("readmitted");
      case "bad":
        this.quarantine(r.rejection);
        return report(recheck ? "still-bad" : "quarantined", r.rejection.code);
      case "gone":
        this.ledger.forget(f);
        this.builder.forget(f);
        return report("gone");
    }
  }

  private nextToScrub(inUse: (f: { key: string; etag: string }) => boolean): FileRecord | undefined {
    const queue = this.ledger.scrubQueue();
    return queue.find((r) => r.status === "pending" && inUse(r)) ?? queue.find((r) => r.status === "quarantined") ?? queue[0];
  }

  describe(inUse: (f: { key: string; etag: string }) => boolean): { quarantined: QuarantinedFile[]; integrity: IntegrityStatus } {
    const q = this.ledger.quarantined().sort((a, b) => (b.since ?? 0) - (a.since ?? 0));
    const next = this.nextToScrub(inUse);
    const c = this.ledger.counts();
    return {
      quarantined: q.slice(0, STATUS_LIST).map((r) => ({
        key: r.key,
        etag: r.etag,
        level: r.level,
        minTxid: r.minTxid,
        maxTxid: r.maxTxid,
        code: r.code ?? "LTX_QUARANTINED",
        message: r.message ?? "",
        since: r.since ?? 0,
        failures: r.failures,
        nextCheckAt: r.nextCheckAt,
        rechecking: r.scrub !== null,
      })),
      integrity: {
        verified: c.verified,
        pending: c.pending,
        quarantined: c.quarantined,
        scrub: next ? { key: next.key, offset: next.scrub?.pos ?? 0, size: next.size } : null,
        scrubbedBytes: this.scrubbedBytes,
      },
    };
  }
}
