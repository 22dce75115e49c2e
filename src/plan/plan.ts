/**
 * @module
 * Restore planning (replica-layout.md §4): the newest eligible snapshot, then
 * the longest contiguous chain across all levels, choosing at each step the
 * file that reaches furthest among those that start at or before the next
 * TXID. Files may overlap; overlaying them in plan order is correct because
 * every file holds the newest version of each page it touches.
 *
 * Unlike upstream's per-level contiguity (Litestream #1460, #1084), the chain
 * never depends on one level being complete, so a follower cannot wedge on a
 * compaction that straddles its position.
 */
import { formatTxid } from "../ltx/txid.ts";
import { SNAPSHOT_LEVEL } from "../replica/replica.ts";
import { PlanError } from "./errors.ts";

/** The subset of file info planning needs. */
export interface PlanFile {
  level: number;
  minTxid: number;
  maxTxid: number;
}

export type PlanTarget =
  | { kind: "latest" }
  | { kind: "txid"; txid: number }
  /** The newest state whose every transaction is at or before `timestamp` (ms). */
  | { kind: "timestamp"; timestamp: number };

export const LATEST: PlanTarget = { kind: "latest" };

/** Ranking for candidates that cover the next TXID: reach furthest, then start earliest, then higher level. */
function better(a: PlanFile, b: PlanFile): boolean {
  if (a.maxTxid !== b.maxTxid) return a.maxTxid > b.maxTxid;
  if (a.minTxid !== b.minTxid) return a.minTxid < b.minTxid;
  return a.level > b.level;
}

/**
 * Extends a chain that currently ends at `fromTxid` with files of levels 0–8.
 * `eligible` filters files (target TXID / time). Returns the files appended.
 */
export function extendChain<F extends PlanFile>(files: readonly F[], fromTxid: number, eligible: (f: F) => boolean = () => true): F[] {
  const sorted = files.filter((f) => f.level !== SNAPSHOT_LEVEL && f.maxTxid > fromTxid && eligible(f)).sort((a, b) => a.minTxid - b.minTxid);
  const out: F[] = [];
  let current = fromTxid;
  let i = 0;
  let best: F | null = null;
  for (;;) {
    while (i < sorted.length) {
      const f = sorted[i] as F;
      if (f.minTxid > current + 1) break;
      if (f.maxTxid > current && (best === null || better(f, best))) best = f;
      i++;
    }
    if (best === null || best.maxTxid <= current) break;
    out.push(best);
    current = best.maxTxid;
    // Every file already passed ends at or before the new position (best had the largest max).
    best = null;
  }
  return out;
}

/** The newest eligible snapshot, then the longest chain from it (stopping at `stopAt` when the snapshot reaches it). */
function longestChain<F extends PlanFile>(files: readonly F[], eligible: (f: F) => boolean, stopAt: number | null = null): F[] {
  let snapshot: F | null = null;
  for (const f of files) {
    if (f.level !== SNAPSHOT_LEVEL || f.minTxid !== 1 || !eligible(f)) continue;
    if (snapshot === null || f.maxTxid > snapshot.maxTxid) snapshot = f;
  }
  const plan: F[] = snapshot ? [snapshot] : [];
  const start = snapshot ? snapshot.maxTxid : 0;
  if (start !== stopAt) plan.push(...extendChain(files, start, eligible));
  return plan;
}

/** The files that would take a chain ending at `reached` further. */
export function continuing<F extends PlanFile>(files: readonly F[], reached: number): F[] {
  return files.filter((f) => f.maxTxid > reached && f.minTxid <= reached + 1);
}

/** The latest plan that avoids some files, and which of those would have taken it further. */
export interface AvoidingPlan<F> {
  /** The longest chain without the avoided files (may be empty when one of them is needed from TXID 1). */
  plan: F[];
  /** Avoided files that continue the plan beyond where it ends: non-empty means newer state exists that the plan cannot reach. */
  blockedBy: F[];
}

/**
 * The latest restore plan over the files `avoid` does not reject (quarantined
 * or foreign files). Where the chain without them stops short of what the
 * replica holds because an avoided file is the only way on, returns the
 * prefix and names those files in `blockedBy` instead of failing; a gap no
 * avoided file explains still throws {@link PlanError}.
 */
export function planAvoiding<F extends PlanFile>(files: readonly F[], avoid: (f: F) => boolean): AvoidingPlan<F> {
  const usable = files.filter((f) => !avoid(f));
  const avoided = files.filter(avoid);
  const blocking = (plan: F[]): F[] => continuing(avoided, plan.length > 0 ? (plan[plan.length - 1] as F).maxTxid : 0);
  try {
    const plan = usable.length > 0 ? computeRestorePlan(usable) : [];
    return { plan, blockedBy: blocking(plan) };
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
    const plan = longestChain(usable, () => true);
    const blockedBy = blocking(plan);
    if (blockedBy.length === 0) throw e;
    return { plan, blockedBy };
  }
}

/**
 * Computes the restore plan for a target. `timestampOf` gives a file's
 * timestamp (LTX header Timestamp, ms) and is required for time targets.
 * Throws {@link PlanError} with a message naming the missing TXID range.
 */
export function computeRestorePlan<F extends PlanFile>(
  files: readonly F[],
  target: PlanTarget = LATEST,
  timestampOf?: (f: F) => number,
): F[] {
  if (files.length === 0) throw new PlanError("PLAN_NO_FILES", "the replica holds no LTX files");
  if (target.kind === "timestamp" && !timestampOf) throw new Error("computeRestorePlan: timestampOf is required for time targets");
  const eligible = (f: F): boolean => {
    if (target.kind === "txid" && f.maxTxid > target.txid) return false;
    if (target.kind === "timestamp" && (timestampOf as (f: F) => number)(f) > target.timestamp) return false;
    return true;
  };
  const plan = longestChain(files, eligible, target.kind === "txid" ? target.txid : null);
  const reached = plan.length > 0 ? (plan[plan.length - 1] as F).maxTxid : 0;

  if (target.kind === "txid") {
    if (reached !== target.txid) {
      let end = 0;
      for (const f of files) end = Math.max(end, f.maxTxid);
      if (target.txid > end) {
        throw new PlanError("PLAN_TXID_NOT_AVAILABLE", `TXID ${formatTxid(target.txid)} is not restorable: past the end of the replica, which ends at TXID ${formatTxid(end)}`);
      }
      throw new PlanError(
        "PLAN_TXID_NOT_AVAILABLE",
        `TXID ${formatTxid(target.txid)} is not restorable: ` +
          (plan.length === 0
            ? "no file chain starts at TXID 1 at or below it"
            : `the files present reach ${formatTxid(reached)} exactly, and none ends at the target (compacted or removed by retention)`),
      );
    }
    return plan;
  }
  if (plan.length === 0) {
    if (target.kind === "timestamp") {
      throw new PlanError("PLAN_TIME_NOT_AVAILABLE", `no restorable state at or before ${new Date(target.timestamp).toISOString()}`);
    }
    const first = Math.min(...files.map((f) => f.minTxid));
    throw new PlanError("PLAN_GAP", `no snapshot and no file starting at TXID 1: missing TXIDs ${formatTxid(1)}-${formatTxid(first - 1)}`);
  }
  if (target.kind === "latest") {
    let nextMin = Infinity;
    for (const f of files) if (f.minTxid > reached + 1 && f.minTxid < nextMin) nextMin = f.minTxid;
    if (nextMin !== Infinity) {
      throw new PlanError(
        "PLAN_GAP",
        `non-contiguous replica: missing TXIDs ${formatTxid(reached + 1)}-${formatTxid(nextMin - 1)} (the chain reaches ${formatTxid(reached)}, the next file starts at ${formatTxid(nextMin)})`,
      );
    }
  }
  return plan;
}
