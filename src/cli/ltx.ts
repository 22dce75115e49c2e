/**
 * @module
 * `ltx-edge ltx`: lists a replica's LTX files per level, like `litestream
 * ltx` — level, min/max TXID, size — with the header time (`created`) and
 * the store's time (`modified`) of each. All levels by default; `-level N`
 * narrows to one.
 */
import { SNAPSHOT_LEVEL } from "../replica/replica.ts";
import { type CommandSpec, formatHelp, parseArgs } from "./args.ts";
import { badArgs } from "./errors.ts";
import { type FileRow, fileRows, formatFileTable, headerTimes } from "./file-table.ts";
import type { CliIo } from "./io.ts";
import { REPLICA_FLAGS, type ReplicaOptions, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";

export const LTX_SPEC: CommandSpec = {
  name: "ltx",
  positionals: ["<replica>"],
  flags: [
    { name: "level", value: "N|all", help: `only this level (0-${SNAPSHOT_LEVEL}); default all` },
    { name: "json", help: "print a JSON array of files (fields below)" },
    ...REPLICA_FLAGS,
  ],
};

const HELP = formatHelp(
  LTX_SPEC,
  "List the LTX files of a replica, level by level (as `litestream ltx`).",
  `Columns: level, min_txid, max_txid, size (bytes), created (the LTX header
timestamp: when the file's newest transaction committed, what --timestamp
compares against) and modified (when the store last wrote the object, which
is what Litestream's own "created" column shows). Files are ordered by level,
then TXID. Unlike litestream ltx, every level is listed unless -level is given.

Reading "created" costs one 100-byte header read per file (a few in parallel).

JSON: [{level, name, min_txid, max_txid, size, created, modified, key}], TXIDs as
16 hex digits, times ISO 8601.`,
);

export function ltxHelp(): string {
  return HELP;
}

/** Parses `-level`: a level number or `all` (null). */
export function parseLevel(text: string | undefined): number | null {
  if (text === undefined || text === "all") return null;
  if (!/^\d+$/.test(text) || Number(text) > SNAPSHOT_LEVEL) throw badArgs(`--level must be 0-${SNAPSHOT_LEVEL} or all; got ${JSON.stringify(text)}`);
  return Number(text);
}

/** The files of a replica (optionally one level) as rows, ordered by level then TXID. */
export async function ltxCommand(spec: string, replicaOptions: ReplicaOptions, level: number | null = null): Promise<FileRow[]> {
  const replica = openReplica(spec, replicaOptions);
  const files = (await listOrFail(replica, replicaOptions.layout))
    .filter((f) => level === null || f.level === level)
    .sort((a, b) => a.level - b.level || a.minTxid - b.minTxid || a.maxTxid - b.maxTxid);
  return fileRows(files, await headerTimes(replica, files));
}

/** `ltx-edge ltx …`: returns the exit code; throws user errors for main to print. */
export async function runLtx(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, LTX_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const level = parseLevel(args.string("level"));
  const rows = await ltxCommand(args.positionals[0] as string, { layout: parseLayout(args.string("layout"), "auto"), s3: s3OptionsFrom(args, io.env) }, level);
  io.stdout.write(args.bool("json") ? `${JSON.stringify(rows)}\n` : formatFileTable(rows));
  return 0;
}
