/**
 * @module
 * `restore -dry-run`: the plan a restore would apply, printed the way
 * `litestream restore -dry-run` prints it (source, target, TXID range, then
 * the files to fetch), or as JSON with Litestream's field names.
 */
import { formatTxid } from "../ltx/txid.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { type FileRow, fileRows, formatFileTable, headerTimes } from "./file-table.ts";
import { humanBytes } from "./format.ts";

/** The `restore -dry-run -json` object. */
export interface DryRunPlan {
  source: string;
  /** The output path, or null when none was given. */
  target_path: string | null;
  replica: string;
  min_txid: string;
  max_txid: string;
  /** Total bytes to fetch. */
  bytes: number;
  files: FileRow[];
}

/** Describes a resolved, non-empty plan. */
export async function dryRunPlan(source: string, output: string | undefined, replica: Replica, plan: readonly LtxFileInfo[]): Promise<DryRunPlan> {
  const first = plan[0];
  const last = plan[plan.length - 1];
  return {
    source,
    target_path: output ?? null,
    replica: replica.description,
    min_txid: first ? formatTxid(first.minTxid) : "",
    max_txid: last ? formatTxid(last.maxTxid) : "",
    bytes: plan.reduce((n, f) => n + f.size, 0),
    files: fileRows(plan, await headerTimes(replica, plan)),
  };
}

/** Litestream's text layout of a dry run. */
export function formatDryRun(p: DryRunPlan): string {
  return (
    "Restore plan:\n" +
    `  source: ${p.source}\n` +
    `  target: ${p.target_path ?? "(none given)"}\n` +
    `  replica: ${p.replica}\n` +
    `  txid range: ${p.min_txid} - ${p.max_txid}\n` +
    `  bytes: ${p.bytes} (${humanBytes(p.bytes)}) in ${p.files.length} file${p.files.length === 1 ? "" : "s"}\n` +
    "\nFiles to fetch:\n" +
    formatFileTable(p.files, { name: true })
  );
}
