/**
 * @module
 * Which TXIDs a replica can restore exactly: the TXIDs for which
 * `computeRestorePlan(files, {kind: "txid", txid})` succeeds, found in one
 * pass instead of one plan per candidate.
 *
 * Why one pass gives the planner's answer. The planner takes the newest
 * snapshot (level 9, MinTXID 1) at or below T, then extends greedily over
 * files of levels 0–8 whose MaxTXID ≤ T, always taking the one that reaches
 * furthest among those starting at or before the next TXID; it succeeds when
 * it lands on T exactly. Greedy interval covering reaches the furthest point
 * any chain of those files reaches, and every eligible file ends at or
 * before T, so it lands on T exactly when *some* chain from TXID 0 or a
 * snapshot ends at T (a chain from an older snapshot crosses the newer one
 * through a file the planner may take too). Hence T is restorable when:
 * - a snapshot ends at T, or
 * - a level 0–8 file ends at T and starts at or before R + 1, where R is a
 *   restorable TXID below T, or 0 (no snapshot needed from TXID 1).
 * Taking files by ascending MaxTXID, "some restorable R ≥ MinTXID − 1 below T"
 * is just "the largest restorable TXID so far ≥ MinTXID − 1".
 */
import type { PlanFile } from "../plan/plan.ts";
import { SNAPSHOT_LEVEL } from "../replica/replica.ts";

/** An inclusive run of consecutive restorable TXIDs. */
export interface TxidRange {
  min: number;
  max: number;
}

/** Every exactly restorable TXID, ascending (see the module comment for why this matches the planner). */
export function restorableTxids(files: readonly PlanFile[]): number[] {
  const usable = files
    .filter((f) => f.level !== SNAPSHOT_LEVEL || f.minTxid === 1)
    .slice()
    .sort((a, b) => a.maxTxid - b.maxTxid);
  const out: number[] = [];
  // Invariant: `reach` is the largest restorable TXID below the file being looked at (0: the empty database).
  let reach = 0;
  for (const f of usable) {
    if (f.maxTxid === reach) continue;
    const ok = f.level === SNAPSHOT_LEVEL || f.minTxid - 1 <= reach;
    if (!ok) continue;
    out.push(f.maxTxid);
    reach = f.maxTxid;
  }
  return out;
}

/** Ascending TXIDs as runs of consecutive values. */
export function txidRanges(txids: readonly number[]): TxidRange[] {
  const out: TxidRange[] = [];
  for (const t of txids) {
    const last = out[out.length - 1];
    if (last && t === last.max + 1) last.max = t;
    else out.push({ min: t, max: t });
  }
  return out;
}
