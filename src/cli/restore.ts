/**
 * @module
 * `ltx-edge restore`: writes the database at a TXID or time exactly as
 * `litestream restore` would, streaming (restore-file.ts): pages go straight
 * to `<output>.tmp`, which is renamed over the output only when the whole
 * chain applied, so a failed restore never leaves a partial or wrong database.
 */
import { formatTxid, parseTxid } from "../ltx/txid.ts";
import { LATEST, type PlanTarget } from "../plan/plan.ts";
import type { RestoreProgress } from "../restore/restore.ts";
import { type CommandSpec, type ParsedArgs, formatHelp, parseArgs } from "./args.ts";
import { badArgs } from "./errors.ts";
import { humanBytes, humanDuration, isoTime } from "./format.ts";
import type { CliIo } from "./io.ts";
import { REPLICA_FLAGS, type ReplicaOptions, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";
import { checkOutput, restoreToFile } from "./restore-file.ts";

export const RESTORE_SPEC: CommandSpec = {
  name: "restore",
  positionals: ["<replica>", "<output.db>"],
  flags: [
    { name: "txid", value: "TXID", help: "restore this TXID (16 hex digits, 0x… hex, or decimal); default: the newest" },
    { name: "timestamp", value: "TIME", help: "restore the newest state at or before this RFC 3339 time, e.g. 2026-01-02T03:04:05Z" },
    { name: "force", help: "replace an existing output and remove its -wal, -shm and -journal files" },
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

Prints one summary line on stdout: TXID, pages, bytes, files applied, duration.`,
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

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;

/** Parses an RFC 3339 timestamp with an explicit zone into ms; throws a user error otherwise. */
export function parseTimestamp(text: string): number {
  const ms = RFC3339.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw badArgs(`--timestamp must be an RFC 3339 time with a zone, e.g. 2026-01-02T03:04:05Z; got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** Parses a user-given TXID; throws a user error otherwise. */
export function parseTxidArg(text: string, flag = "--txid"): number {
  const txid = parseTxid(text);
  if (txid === null) throw badArgs(`${flag} must be 16 hex digits, 0x-prefixed hex or a decimal number ≥ 1; got ${JSON.stringify(text)}`);
  return txid;
}

/** The plan target from --txid / --timestamp. */
export function targetFrom(args: ParsedArgs): PlanTarget {
  const txid = args.string("txid");
  const timestamp = args.string("timestamp");
  if (txid !== undefined && timestamp !== undefined) throw badArgs("restore: give --txid or --timestamp, not both");
  if (txid !== undefined) return { kind: "txid", txid: parseTxidArg(txid) };
  if (timestamp !== undefined) return { kind: "timestamp", timestamp: parseTimestamp(timestamp) };
  return LATEST;
}

interface Progress {
  onProgress?: (p: RestoreProgress) => void;
  /** Ends a half-drawn terminal line (before an error message). */
  end(): void;
}

function progressReporter(io: CliIo, force: boolean): Progress {
  const tty = io.stderr.isTTY === true;
  let open = false;
  const end = () => {
    if (open) io.stderr.write("\n");
    open = false;
  };
  if (!tty && !force) return { end };
  const onProgress = (p: RestoreProgress): void => {
    if (p.total <= 1) return;
    const name = p.file.key.split("/").slice(-2).join("/");
    const text = `restoring: ${p.done}/${p.total} files (${name})`;
    // On a terminal one line is rewritten in place; elsewhere every step gets its own line.
    if (!tty) return void io.stderr.write(`${text}\n`);
    io.stderr.write(`\r\x1b[K${text}`);
    open = true;
    if (p.done === p.total) end();
  };
  return { onProgress, end };
}

/** Restores a replica into a file. Throws user errors (CliError, PlanError, LtxError, StorageError). */
export async function restoreCommand(opts: RestoreCommandOptions, io: CliIo): Promise<RestoreSummary> {
  const started = performance.now();
  // Output clashes are refused before the replica is even listed.
  checkOutput(opts.output, opts.force);
  const replica = openReplica(opts.replica, opts.replicaOptions);
  const files = await listOrFail(replica, opts.replicaOptions.layout);
  const progress = progressReporter(io, opts.progress === true);
  try {
    const { onProgress } = progress;
    const r = await restoreToFile(replica, opts.output, {
      target: opts.target ?? LATEST,
      files,
      force: opts.force === true,
      ...(onProgress ? { onProgress } : {}),
      ...(io.onInterrupt ? { onInterrupt: io.onInterrupt } : {}),
    });
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

/** `ltx-edge restore …`: returns the exit code; throws user errors for main to print. */
export async function runRestore(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, RESTORE_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [replica, output] = args.positionals as [string, string];
  const summary = await restoreCommand(
    {
      replica,
      output,
      target: targetFrom(args),
      force: args.bool("force"),
      progress: args.bool("progress"),
      replicaOptions: { layout: parseLayout(args.string("layout"), "auto"), s3: s3OptionsFrom(args, io.env) },
    },
    io,
  );
  io.stdout.write(formatRestoreSummary(summary));
  return 0;
}
