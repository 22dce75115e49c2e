/**
 * @module
 * `ltx-edge info`: what a replica holds (layout, levels, sizes) and what it
 * can restore: every exactly restorable TXID as ranges (src/restore/restorable.ts),
 * the newest and oldest, the database shape at the newest, and the gap when
 * the latest plan has one (reported, not fatal).
 */
import { formatTxid } from "../ltx/txid.ts";
import { PlanError } from "../plan/errors.ts";
import { LATEST, computeRestorePlan } from "../plan/plan.ts";
import type { Layout, LtxFileInfo } from "../replica/replica.ts";
import { restorableTxids, txidRanges } from "../restore/restorable.ts";
import { type CommandSpec, formatHelp, parseArgs } from "./args.ts";
import { humanBytes, isoTime, keyValues } from "./format.ts";
import type { CliIo } from "./io.ts";
import { REPLICA_FLAGS, type ReplicaOptions, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";

export const INFO_SPEC: CommandSpec = {
  name: "info",
  positionals: ["<replica>"],
  flags: [{ name: "json", help: "print one JSON object (fields below)" }, ...REPLICA_FLAGS],
};

const HELP = formatHelp(
  INFO_SPEC,
  "Describe a Litestream replica: levels, sizes, and the restorable TXID range.",
  `JSON fields (TXIDs are 16-hex-digit strings, times ISO 8601, sizes in bytes):
  replica      where the replica was read from
  layout       "file" (ltx/<level>/) or "s3" (<%04x level>/)
  files        number of LTX files; bytes: their total size
  maxTxid      highest TXID in any file name
  levels       [{level, files, bytes, minTxid, maxTxid}], ascending level
  newestTxid   newest TXID the latest restore plan reaches (null: none)
  timestamp    header time of that state; pageSize, commit (pages),
               dbSize (commit * pageSize) describe the database there
  planFiles    number of files in that plan
  oldestTxid   oldest TXID that can be restored exactly (null: none)
  restorable   {count, of, ranges: [{min, max}]}: every TXID that can be
               restored exactly (count of the 'of' TXIDs 1..maxTxid), as
               ranges of consecutive TXIDs
  gap          null, or {code, message} when restoring the latest state
               fails (e.g. PLAN_GAP: missing TXIDs after newestTxid)`,
);

export function infoHelp(): string {
  return HELP;
}

export interface LevelInfo {
  level: number;
  files: number;
  bytes: number;
  minTxid: string;
  maxTxid: string;
}

/** The `info --json` object; field names are stable. */
export interface ReplicaInfo {
  replica: string;
  layout: Layout;
  files: number;
  bytes: number;
  maxTxid: string;
  levels: LevelInfo[];
  newestTxid: string | null;
  timestamp: string | null;
  pageSize: number | null;
  commit: number | null;
  dbSize: number | null;
  planFiles: number;
  oldestTxid: string | null;
  restorable: RestorableSummary;
  gap: { code: string; message: string } | null;
}

/** The exactly restorable TXIDs: `count` of the `of` TXIDs 1..maxTxid, as runs of consecutive TXIDs. */
export interface RestorableSummary {
  count: number;
  of: number;
  ranges: { min: string; max: string }[];
}

/**
 * The chain "latest" would use, minus its gap check: a time target under
 * which every file is eligible runs the same snapshot-and-chain search but
 * does not reject files beyond a gap. Empty when no chain starts at TXID 1.
 */
export function reachablePlan<F extends LtxFileInfo>(files: readonly F[]): F[] {
  try {
    return computeRestorePlan(files, { kind: "timestamp", timestamp: Number.POSITIVE_INFINITY }, () => 0);
  } catch (e) {
    if (e instanceof PlanError) return [];
    throw e;
  }
}

function levelsOf(files: readonly LtxFileInfo[]): LevelInfo[] {
  const by = new Map<number, LtxFileInfo[]>();
  for (const f of files) {
    const list = by.get(f.level);
    if (list) list.push(f);
    else by.set(f.level, [f]);
  }
  return [...by.entries()]
    .sort(([a], [b]) => a - b)
    .map(([level, fs]) => ({
      level,
      files: fs.length,
      bytes: fs.reduce((n, f) => n + f.size, 0),
      // Loops, not Math.min(...spread): a level may hold more files than the argument limit.
      minTxid: formatTxid(fs.reduce((n, f) => Math.min(n, f.minTxid), Number.POSITIVE_INFINITY)),
      maxTxid: formatTxid(fs.reduce((n, f) => Math.max(n, f.maxTxid), 0)),
    }));
}

/** Collects {@link ReplicaInfo}. Throws user errors for a missing or empty replica. */
export async function infoCommand(spec: string, replicaOptions: ReplicaOptions): Promise<ReplicaInfo> {
  const replica = openReplica(spec, replicaOptions);
  const files = await listOrFail(replica, replicaOptions.layout);
  let gap: ReplicaInfo["gap"] = null;
  try {
    computeRestorePlan(files, LATEST);
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
    gap = { code: e.code, message: e.message };
  }
  const plan = reachablePlan(files);
  const last = plan[plan.length - 1];
  const header = last ? await replica.readHeader(last) : null;
  const ok = restorableTxids(files);
  const maxTxid = files.reduce((n, f) => Math.max(n, f.maxTxid), 0);
  return {
    replica: replica.description,
    layout: replica.layout ?? "file",
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    maxTxid: formatTxid(maxTxid),
    levels: levelsOf(files),
    newestTxid: last ? formatTxid(last.maxTxid) : null,
    timestamp: header ? isoTime(header.timestamp) : null,
    pageSize: header ? header.pageSize : null,
    commit: header ? header.commit : null,
    dbSize: header ? header.commit * header.pageSize : null,
    planFiles: plan.length,
    oldestTxid: ok.length > 0 ? formatTxid(ok[0] as number) : null,
    restorable: {
      count: ok.length,
      of: maxTxid,
      ranges: txidRanges(ok).map((r) => ({ min: formatTxid(r.min), max: formatTxid(r.max) })),
    },
    gap,
  };
}

/** The human-readable form of {@link ReplicaInfo}. */
export function formatInfo(info: ReplicaInfo): string {
  const layoutShape = info.layout === "file" ? "ltx/<level>/" : "<%04x level>/";
  const levelWidth = Math.max(...info.levels.map((l) => String(l.files).length));
  const levels = info.levels
    .map((l) => `  L${l.level}  ${String(l.files).padStart(levelWidth)} file${l.files === 1 ? " " : "s"}  ${l.minTxid}-${l.maxTxid}  ${humanBytes(l.bytes)}\n`)
    .join("");
  const rows: [string, string][] = [
    ["replica", info.replica],
    ["layout", `${info.layout} (${layoutShape})`],
    ["files", `${info.files} (${info.bytes} bytes, ${humanBytes(info.bytes)}), TXIDs up to ${info.maxTxid}`],
  ];
  const tail: [string, string][] = [
    ["newest TXID", info.newestTxid === null ? "none" : `${info.newestTxid} (${info.timestamp}), plan of ${info.planFiles} file${info.planFiles === 1 ? "" : "s"}`],
    ["oldest TXID", info.oldestTxid ?? "none"],
  ];
  if (info.pageSize !== null && info.commit !== null && info.dbSize !== null) {
    tail.push(["page size", `${info.pageSize} bytes`], ["database", `${info.commit} pages, ${info.dbSize} bytes (${humanBytes(info.dbSize)})`]);
  }
  tail.push(["gap", info.gap === null ? "none: the newest TXID is restorable" : `${info.gap.code}: ${info.gap.message}`]);
  const r = info.restorable;
  const n = r.ranges.length;
  tail.push(["restorable", `${r.count} of ${r.of} TXIDs${n > 0 ? `, in ${n} range${n === 1 ? "" : "s"}:` : ""}`]);
  const width = Math.max(...[...rows, ...tail].map(([k]) => k.length));
  return `${keyValues(rows, width)}levels:\n${levels}${keyValues(tail, width)}${formatRanges(r.ranges)}`;
}

/** Ranges shown in the text output; --json lists them all. */
const MAX_RANGES_SHOWN = 20;

/** One range per line (a single TXID alone), the middle elided beyond {@link MAX_RANGES_SHOWN}. */
function formatRanges(ranges: RestorableSummary["ranges"]): string {
  const line = (r: { min: string; max: string }) => `  ${r.min === r.max ? r.min : `${r.min}-${r.max}`}\n`;
  if (ranges.length <= MAX_RANGES_SHOWN) return ranges.map(line).join("");
  const half = MAX_RANGES_SHOWN / 2;
  const hidden = ranges.length - MAX_RANGES_SHOWN;
  return `${ranges.slice(0, half).map(line).join("")}  … ${hidden} more range${hidden === 1 ? "" : "s"} (info --json lists them all)\n${ranges.slice(-half).map(line).join("")}`;
}

/** `ltx-edge info …`: returns the exit code; throws user errors for main to print. */
export async function runInfo(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, INFO_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const info = await infoCommand(args.positionals[0] as string, {
    layout: parseLayout(args.string("layout"), "auto"),
    s3: s3OptionsFrom(args, io.env),
  });
  io.stdout.write(args.bool("json") ? `${JSON.stringify(info)}\n` : formatInfo(info));
  return 0;
}
