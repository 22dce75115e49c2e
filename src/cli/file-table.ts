/**
 * @module
 * LTX files as rows, for `ltx-edge ltx` and `restore -dry-run`: the columns
 * Litestream prints (level, min/max TXID, size) plus two times — `created`,
 * the LTX header timestamp (when the file's newest transaction committed;
 * what `-timestamp` compares against), and `modified`, when the store last
 * wrote the object (what Litestream's own `created` column shows).
 */
import { formatLtxFilename, formatTxid } from "../ltx/txid.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { FETCH_CONCURRENCY } from "../restore/restore.ts";
import { mapPool } from "../restore/pool.ts";
import { isoTime, rfc3339Seconds, table } from "./format.ts";

/** One file, as `ltx --json` and `restore -dry-run -json` print it (snake_case, like Litestream's JSON). */
export interface FileRow {
  level: number;
  name: string;
  min_txid: string;
  max_txid: string;
  size: number;
  /** LTX header timestamp, ISO 8601 with milliseconds. */
  created: string;
  /** Store's last-modified time, ISO 8601 ("unknown" when the store has none). */
  modified: string;
  key: string;
}

/**
 * Header timestamps of `files`, by key: from the listing when the store
 * carries them (R2 metadata), else one 100-byte header read per file, a few
 * in parallel.
 */
export async function headerTimes(replica: Replica, files: readonly LtxFileInfo[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await mapPool(files, FETCH_CONCURRENCY, async (f) => {
    out.set(f.key, f.timestamp ?? (await replica.readHeader(f)).timestamp);
  });
  return out;
}

/** Rows for `files`, in the given order. */
export function fileRows(files: readonly LtxFileInfo[], times: ReadonlyMap<string, number>): FileRow[] {
  return files.map((f) => ({
    level: f.level,
    name: formatLtxFilename(f.minTxid, f.maxTxid),
    min_txid: formatTxid(f.minTxid),
    max_txid: formatTxid(f.maxTxid),
    size: f.size,
    created: isoTime(times.get(f.key) ?? Number.NaN),
    modified: f.uploaded > 0 ? isoTime(f.uploaded) : "unknown",
    key: f.key,
  }));
}

/** The text table: a header line, then one line per file. */
export function formatFileTable(rows: readonly FileRow[], opts: { name?: boolean } = {}): string {
  const secs = (iso: string) => (iso === "unknown" ? iso : rfc3339Seconds(Date.parse(iso)));
  const head = ["level", ...(opts.name ? ["file"] : []), "min_txid", "max_txid", "size", "created", "modified"];
  const body = rows.map((r) => [String(r.level), ...(opts.name ? [r.name] : []), r.min_txid, r.max_txid, String(r.size), secs(r.created), secs(r.modified)]);
  return table([head, ...body]);
}
