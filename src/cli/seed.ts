/**
 * @module
 * `ltx-edge seed`: copies every LTX file of a replica into wrangler's local
 * R2 (the state `wrangler dev` reads), under `<name>/` in Litestream's S3
 * layout (`<name>/<level as %04x>/<min>-<max>.ltx`), which is where the
 * Worker serves database `<name>` from by default. A replica in the file
 * layout (`ltx/<level>/`) is converted on the way.
 *
 * Every file's header is read and checked against its name before anything
 * is written; a copy that fails half-way removes what it wrote.
 */
import { isValidName } from "../config/databases.ts";
import { decodeHeader } from "../ltx/header.ts";
import { formatLtxFilename, formatTxid } from "../ltx/txid.ts";
import { type Layout, type LtxFileInfo, type Replica, checkHeaderName, levelDir } from "../replica/replica.ts";
import { type CommandSpec, type FlagSpec, formatHelp, parseArgs } from "./args.ts";
import { CliError, badArgs } from "./errors.ts";
import { humanBytes, humanDuration } from "./format.ts";
import type { CliIo } from "./io.ts";
import { type ProgressState, progressFor } from "./progress.ts";
import { type LocalR2, deletePrefix, hasObjects, openLocalR2, putBytes } from "./local-r2.ts";
import { REPLICA_FLAGS, type ReplicaOptions, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";
import { locateProject, persistDir, readBucketName } from "./wrangler-config.ts";

/** Flags shared by the commands that touch wrangler's local state. */
export const LOCAL_STATE_FLAGS: readonly FlagSpec[] = [
  { name: "persist-to", value: "DIR", help: "wrangler's local state directory, as for wrangler dev --persist-to (default <project>/.wrangler/state)" },
  { name: "config", value: "PATH", help: "the project's wrangler.toml (default: found from the current directory upwards)" },
];

export const SEED_SPEC: CommandSpec = {
  name: "seed",
  positionals: ["<replica>"],
  flags: [
    { name: "db", value: "NAME", help: "database name: the Worker serves it at /db/NAME (required)" },
    { name: "force", help: "delete the objects already under NAME/ first" },
    { name: "progress", help: "print progress on stderr even when it is not a terminal" },
    ...LOCAL_STATE_FLAGS,
    ...REPLICA_FLAGS,
  ],
};

const HELP = formatHelp(
  SEED_SPEC,
  "Copy a replica into wrangler's local R2, so `wrangler dev` serves it as database NAME.",
  `<replica> is a directory (the one holding ltx/<level>/ or <%04x level>/ folders),
file:///path, or s3://bucket/prefix.

Files are stored in the local bucket of the BUCKET binding of wrangler.toml
(its bucket_name) as NAME/<level as %04x>/<min>-<max>.ltx, the layout
Litestream writes to S3 and R2; a file-layout replica is converted. The data
lands where wrangler dev keeps it: <persist dir>/v3/r2, written through
Miniflare. NAME must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ without "..".
A database that already has objects is refused unless --force is given.

It works while wrangler dev runs: the Worker finds a new database on its next
request and rebuilds its index when a database was replaced.`,
);

export function seedHelp(): string {
  return HELP;
}

export interface SeedOptions {
  replica: string;
  /** Database name: the folder in the bucket. */
  name: string;
  replicaOptions: ReplicaOptions;
  /** Wrangler persist dir (the one holding v3/); default from the project. */
  persistTo?: string;
  /** wrangler.toml path; default found from `cwd`. */
  config?: string;
  /** Directory relative paths are resolved against (default process.cwd()). */
  cwd?: string;
  force?: boolean;
  /** Called after each file is copied. */
  onProgress?: (p: ProgressState) => void;
}

export interface SeedSummary {
  name: string;
  source: string;
  /** Layout of the source replica. */
  sourceLayout: Layout;
  bucketName: string;
  /** The wrangler persist dir. */
  persistDir: string;
  /** Where Miniflare keeps the bucket data. */
  r2Dir: string;
  files: number;
  bytes: number;
  minTxid: number;
  maxTxid: number;
  /** Files per level, by level. */
  levels: Record<number, number>;
  /** Objects deleted by --force. */
  replaced: number;
  /** Keys written, in copy order. */
  keys: string[];
  durationMs: number;
}

/** Throws a user error unless the name is one the Worker accepts. */
export function checkDatabaseName(name: string | undefined): string {
  if (name === undefined || name === "") throw badArgs("seed: --db NAME is required (the Worker serves the replica at /db/NAME)");
  if (!isValidName(name)) {
    throw badArgs(`invalid database name ${JSON.stringify(name)}: use 1-128 of A-Z a-z 0-9 _ . - starting with a letter or digit, without ".."`);
  }
  return name;
}

/** The S3-layout key of a file under a database folder. */
export function seedKey(name: string, file: Pick<LtxFileInfo, "level" | "minTxid" | "maxTxid">): string {
  return `${levelDir(name, "s3", file.level)}${formatLtxFilename(file.minTxid, file.maxTxid)}`;
}

/** A listed replica whose every header was read and checked. */
export interface SeedSource {
  replica: Replica;
  files: LtxFileInfo[];
}

/** Header reads in flight at once (they are tiny; S3 latency dominates). */
const HEADER_CONCURRENCY = 8;

/**
 * Lists the replica and checks every file's header against its name, so a
 * wrong or foreign file stops the seed before local R2 is even opened.
 */
export async function prepareSource(opts: Pick<SeedOptions, "replica" | "replicaOptions">): Promise<SeedSource> {
  const replica = openReplica(opts.replica, opts.replicaOptions);
  const files = await listOrFail(replica, opts.replicaOptions.layout);
  for (let i = 0; i < files.length; i += HEADER_CONCURRENCY) {
    await Promise.all(files.slice(i, i + HEADER_CONCURRENCY).map((f) => replica.readHeader(f)));
  }
  return { replica, files };
}

/** Copies a replica into an already opened local R2 bucket. */
export async function seedInto(r2: LocalR2, opts: SeedOptions, dir: string, source?: SeedSource): Promise<SeedSummary> {
  const started = performance.now();
  const name = checkDatabaseName(opts.name);
  const { replica, files } = source ?? (await prepareSource(opts));
  const prefix = `${name}/`;
  let replaced = 0;
  if (await hasObjects(r2.bucket, prefix)) {
    if (!opts.force) {
      throw new CliError(
        "CLI_DATABASE_EXISTS",
        `database ${name} already exists in local R2 bucket ${r2.bucketName} (${r2.r2Dir}); pass --force to replace it`,
      );
    }
    replaced = await deletePrefix(r2.bucket, prefix);
  }
  const keys: string[] = [];
  let bytes = 0;
  const levels: Record<number, number> = {};
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  try {
    for (const f of files) {
      const data = await replica.readFile(f);
      checkHeaderName(decodeHeader(data, f.key), f);
      const key = seedKey(name, f);
      await putBytes(r2.bucket, key, data);
      keys.push(key);
      bytes += data.length;
      levels[f.level] = (levels[f.level] ?? 0) + 1;
      opts.onProgress?.({ bytes, totalBytes, items: keys.length, totalItems: files.length });
    }
  } catch (e) {
    // Leave no half-copied database behind for the Worker to serve.
    await deletePrefix(r2.bucket, prefix).catch(() => undefined);
    throw e;
  }
  return {
    name,
    source: replica.description,
    sourceLayout: replica.layout ?? "s3",
    bucketName: r2.bucketName,
    persistDir: dir,
    r2Dir: r2.r2Dir,
    files: files.length,
    bytes,
    minTxid: Math.min(...files.map((f) => f.minTxid)),
    maxTxid: Math.max(...files.map((f) => f.maxTxid)),
    levels,
    replaced,
    keys,
    durationMs: performance.now() - started,
  };
}

/** Resolves the project, bucket and persist dir, opens local R2 and seeds. */
export async function seedCommand(opts: SeedOptions): Promise<SeedSummary> {
  const name = checkDatabaseName(opts.name);
  const cwd = opts.cwd ?? process.cwd();
  const project = locateProject(cwd, opts.config);
  const bucketName = readBucketName(project);
  const dir = persistDir(project, cwd, opts.persistTo);
  const source = await prepareSource(opts);
  const r2 = await openLocalR2(dir, bucketName);
  try {
    return await seedInto(r2, { ...opts, name }, dir, source);
  } finally {
    await r2.dispose();
  }
}

/** What was copied, for humans. */
export function formatSeedSummary(s: SeedSummary): string {
  const levels = Object.entries(s.levels)
    .map(([level, n]) => `L${level}: ${n}`)
    .join(", ");
  const lines = [
    `seeded database ${s.name}: ${s.files} LTX file${s.files === 1 ? "" : "s"}, ${s.bytes} bytes (${humanBytes(s.bytes)}) in ${humanDuration(s.durationMs)}`,
    `  from:  ${s.source} (${s.sourceLayout} layout)`,
    `  to:    local R2 bucket ${s.bucketName}, keys ${s.name}/<level %04x>/<min>-<max>.ltx, in ${s.r2Dir}`,
    `  TXIDs: ${formatTxid(s.minTxid)}-${formatTxid(s.maxTxid)} (${levels})`,
  ];
  if (s.replaced > 0) lines.push(`  replaced ${s.replaced} existing object${s.replaced === 1 ? "" : "s"} (--force)`);
  return `${lines.join("\n")}\n`;
}

/** `ltx-edge seed …` */
export async function runSeed(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, SEED_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [replica] = args.positionals as [string];
  const persistTo = args.string("persist-to");
  const config = args.string("config");
  const progress = progressFor(io, "seeding", { forced: args.bool("progress") });
  let summary: SeedSummary;
  try {
    summary = await seedCommand({
      replica,
      name: checkDatabaseName(args.string("db")),
      replicaOptions: { layout: parseLayout(args.string("layout"), "auto"), s3: s3OptionsFrom(args, io.env) },
      ...(persistTo !== undefined ? { persistTo } : {}),
      ...(config !== undefined ? { config } : {}),
      force: args.bool("force"),
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.end();
  }
  io.stdout.write(formatSeedSummary(summary));
  return 0;
}
