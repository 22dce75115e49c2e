/**
 * @module
 * `ltx-edge restore`: writes the database at a TXID or time exactly as
 * `litestream restore` would, streaming (restore-file.ts): pages go straight
 * to `<output>.tmp`, which is renamed over the output only when the whole
 * chain applied, so a failed restore never leaves a partial or wrong database.
 *
 * Takes Litestream's command line too: `restore -o out.db -txid … <replica>`,
 * `-timestamp`, `-if-db-not-exists`, `-if-replica-exists`, `-dry-run`,
 * `-force`, `-json`.
 */
import { existsSync } from "node:fs";
import { formatTxid } from "../ltx/txid.ts";
import { PlanError } from "../plan/errors.ts";
import { LATEST, type PlanTarget } from "../plan/plan.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { resolvePlan } from "../restore/restore.ts";
import { restorableTxids } from "../restore/restorable.ts";
import { type CommandSpec, formatHelp, parseArgs } from "./args.ts";
import { badArgs, errorCode, formatError } from "./errors.ts";
import { humanBytes, humanDuration, isoTime } from "./format.ts";
import type { CliIo } from "./io.ts";
import { progressFor } from "./progress.ts";
import { REPLICA_FLAGS, type ReplicaOptions, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";
import { dryRunPlan, formatDryRun } from "./restore-dry-run.ts";
import { checkOutput, restoreToFile } from "./restore-file.ts";
import { targetFrom } from "./target.ts";

export { parseTimestamp, parseTxidArg, targetFrom } from "./target.ts";

export const RESTORE_SPEC: CommandSpec = {
  name: "restore",
  positionals: ["<replica>"],
  optional: ["<output.db>"],
  usage: ["restore [flags] -o <output.db> <replica>", "restore <replica> <output.db> [flags]"],
  flags: [
    { name: "output", value: "PATH", aliases: ["o"], help: "write the database here (or give it after <replica>)" },
    { name: "txid", value: "TXID", help: "restore this TXID (16 hex digits, 0x… hex, or decimal); default: the newest" },
    { name: "timestamp", value: "TIME", help: "restore the newest state at or before TIME: RFC 3339 (2026-01-02T03:04:05Z) or relative (-5m, -2h)" },
    { name: "force", help: "replace an existing output and remove its -wal, -shm and -journal files" },
    { name: "if-db-not-exists", help: "exit 0 without restoring when the output already exists" },
    { name: "if-replica-exists", help: "exit 0 without restoring when the replica holds nothing to restore (no files, TXID or time not available)" },
    { name: "dry-run", help: "print the restore plan (files, TXID range, bytes) and write nothing" },
    { name: "json", help: "print the summary (or the dry-run plan) as JSON" },
    { name: "progress", help: "print progress on stderr even when it is not a terminal" },
    ...REPLICA_FLAGS,
  ],
};

const HELP = formatHelp(
  RESTORE_SPEC,
  "Restore the database held by a Litestream replica into <output.db>.",
  `<replica> is a directory (the one holding ltx/<level>/ or <%04x level>/ folders),
file:///path, or s3://bucket/prefix.

The database is written to <output.db>.tmp, truncated, fsynced and renamed into
place, so an interrupted or failed restore leaves no partial database. An
existing <output.db> (or a leftover <output.db>-wal, -shm or -journal, which
SQLite would apply to the new file) is never overwritten without --force.

Prints one summary line on stdout: TXID, pages, bytes, files applied, duration
(with --json: {db_path, replica, txid, timestamp, page_size, pages, bytes,
files, duration_ms}). On a terminal, progress (bytes, rate, ETA) goes to stderr.

Litestream's flags work as written for litestream restore; its -config, -f,
-parallelism and -integrity-check are refused with the reason.`,
);

export function restoreHelp(): string {
  return HELP;
}

export interface RestoreCommandOptions {
  replica: string;
  output: string;
  target?: PlanTarget;
  force?: boolean;
  /** Show progress even when stderr is not a terminal. */
  progress?: boolean;
  replicaOptions: ReplicaOptions;
  /** The replica already opened and its plan for `target` resolved (saves listing it again). */
  resolved?: ResolvedRestore;
}

export interface RestoreSummary {
  output: string;
  txid: number;
  /** Header timestamp of the newest applied file (ms). */
  timestamp: number;
  pageSize: number;
  /** Database size in pages. */
  pages: number;
  bytes: number;
  files: number;
  durationMs: number;
}

/** An opened replica, its listing and the plan for a target. */
export interface ResolvedRestore {
  replica: Replica;
  files: LtxFileInfo[];
  plan: LtxFileInfo[];
}

/**
 * Opens and lists the replica and resolves the plan. A TXID that is not
 * restorable gets the nearest restorable ones added to its message.
 */
export async function resolveRestore(spec: string, replicaOptions: ReplicaOptions, target: PlanTarget): Promise<ResolvedRestore> {
  const replica = openReplica(spec, replicaOptions);
  const files = await listOrFail(replica, replicaOptions.layout);
  try {
    return { replica, files, plan: (await resolvePlan(replica, target, files)).plan };
  } catch (e) {
    if (e instanceof PlanError && e.code === "PLAN_TXID_NOT_AVAILABLE" && target.kind === "txid") throw withNearest(e, files, target.txid);
    throw e;
  }
}

/** The error with the restorable TXIDs just below and above the target named (when the target is inside the replica). */
function withNearest(e: PlanError, files: readonly LtxFileInfo[], txid: number): PlanError {
  const ok = restorableTxids(files);
  const below = ok.filter((t) => t < txid).pop();
  const above = ok.find((t) => t > txid);
  if (above === undefined) return e;
  const near = [below !== undefined ? `${formatTxid(below)} below` : null, `${formatTxid(above)} above`].filter(Boolean).join(", ");
  return new PlanError(e.code, `${e.message}; nearest restorable: ${near} ('ltx-edge info' lists them all)`, { cause: e });
}

/** Restores a replica into a file. Throws user errors (CliError, PlanError, LtxError, StorageError). */
export async function restoreCommand(opts: RestoreCommandOptions, io: CliIo): Promise<RestoreSummary> {
  const started = performance.now();
  // Output clashes are refused before the replica is even listed.
  checkOutput(opts.output, opts.force);
  const target = opts.target ?? LATEST;
  const { replica, files, plan } = opts.resolved ?? (await resolveRestore(opts.replica, opts.replicaOptions, target));
  const progress = progressFor(io, "restoring", { forced: opts.progress === true });
  try {
    const r = await restoreToFile(replica, opts.output, {
      target,
      files,
      plan,
      force: opts.force === true,
      onProgress: (p) => progress.update({ bytes: p.bytes, totalBytes: p.totalBytes, items: p.done, totalItems: p.total }),
      ...(io.onInterrupt ? { onInterrupt: io.onInterrupt } : {}),
    });
    progress.finish();
    return {
      output: r.output,
      txid: r.txid,
      timestamp: r.timestamp,
      pageSize: r.pageSize,
      pages: r.commit,
      bytes: r.bytes,
      files: r.plan.length,
      durationMs: performance.now() - started,
    };
  } catch (e) {
    progress.end();
    throw e;
  }
}

/** One line: what was restored. */
export function formatRestoreSummary(s: RestoreSummary): string {
  return (
    `restored ${s.output}: TXID ${formatTxid(s.txid)} (${isoTime(s.timestamp)}), ${s.pages} pages of ${s.pageSize} bytes ` +
    `(${s.bytes} bytes, ${humanBytes(s.bytes)}) from ${s.files} file${s.files === 1 ? "" : "s"} in ${humanDuration(s.durationMs)}\n`
  );
}

/** The `restore --json` object: Litestream's db_path, replica, txid and duration_ms, and the database's shape. */
export function restoreJson(s: RestoreSummary, replica: string): string {
  return `${JSON.stringify({
    db_path: s.output,
    replica,
    txid: formatTxid(s.txid),
    timestamp: isoTime(s.timestamp),
    page_size: s.pageSize,
    pages: s.pages,
    bytes: s.bytes,
    files: s.files,
    duration_ms: Math.round(s.durationMs),
  })}\n`;
}

/** Errors that mean "nothing to restore here", which -if-replica-exists turns into exit 0 (Litestream's ErrTxNotAvailable). */
const NOTHING_TO_RESTORE = new Set(["CLI_NOT_FOUND", "CLI_NO_FILES", "PLAN_NO_FILES", "PLAN_TXID_NOT_AVAILABLE", "PLAN_TIME_NOT_AVAILABLE"]);

/** `ltx-edge restore …`: returns the exit code; throws user errors for main to print. */
export async function runRestore(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, RESTORE_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [replica, second] = args.positionals as [string, string | undefined];
  const flagged = args.string("output");
  if (flagged !== undefined && second !== undefined) throw badArgs("restore: give the output as -o PATH or after <replica>, not both");
  const output = flagged ?? second;
  const dryRun = args.bool("dry-run");
  if (output === undefined && !dryRun) throw badArgs("restore: missing the output: -o <output.db> (see 'ltx-edge restore --help')");
  if (output === "") throw badArgs("restore: the output path is empty");
  const target = targetFrom(args);
  const force = args.bool("force");
  const replicaOptions: ReplicaOptions = { layout: parseLayout(args.string("layout"), "auto"), s3: s3OptionsFrom(args, io.env) };

  if (output !== undefined && !dryRun) {
    if (args.bool("if-db-not-exists") && existsSync(output)) {
      io.stdout.write(`${output} already exists, skipping the restore (-if-db-not-exists)\n`);
      return 0;
    }
    checkOutput(output, force);
  }
  let resolved: ResolvedRestore;
  try {
    resolved = await resolveRestore(replica, replicaOptions, target);
  } catch (e) {
    const code = errorCode(e);
    if (!args.bool("if-replica-exists") || code === undefined || !NOTHING_TO_RESTORE.has(code)) throw e;
    io.stdout.write(`nothing to restore, skipping (-if-replica-exists): ${formatError(e).replace(/^ltx-edge: error: /, "")}\n`);
    return 0;
  }
  if (dryRun) {
    const plan = await dryRunPlan(replica, output, resolved.replica, resolved.plan);
    io.stdout.write(args.bool("json") ? `${JSON.stringify(plan)}\n` : formatDryRun(plan));
    return 0;
  }
  const summary = await restoreCommand(
    { replica, output: output as string, target, force, progress: args.bool("progress"), replicaOptions, resolved },
    io,
  );
  io.stdout.write(args.bool("json") ? restoreJson(summary, resolved.replica.description) : formatRestoreSummary(summary));
  return 0;
}
