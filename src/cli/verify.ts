/**
 * @module
 * `ltx-edge verify`: downloads and fully decodes every LTX file (frames,
 * page index, file checksum), checks header TXIDs against the names, checks
 * that the latest restore plan resolves without a gap and that the page
 * index built from it covers every page. One line per problem, naming the
 * file; exit 1 when there is any.
 */
import { decodeLtxFile } from "../ltx/decoder.ts";
import { LtxError } from "../ltx/errors.ts";
import { formatTxid } from "../ltx/txid.ts";
import { PlanError } from "../plan/errors.ts";
import { LATEST, computeRestorePlan } from "../plan/plan.ts";
import { type Layout, type LtxFileInfo, checkHeaderName } from "../replica/replica.ts";
import { StorageError } from "../replica/types.ts";
import { FETCH_CONCURRENCY, buildPageIndex } from "../restore/restore.ts";
import { mapPool } from "../restore/pool.ts";
import { type CommandSpec, formatHelp, parseArgs } from "./args.ts";
import { humanBytes } from "./format.ts";
import type { CliIo } from "./io.ts";
import { reachablePlan } from "./info.ts";
import { progressFor } from "./progress.ts";
import { REPLICA_FLAGS, type ReplicaOptions, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";

export const VERIFY_SPEC: CommandSpec = {
  name: "verify",
  positionals: ["<replica>"],
  flags: [
    { name: "json", help: "print one JSON object (fields below)" },
    { name: "progress", help: "print progress on stderr even when it is not a terminal" },
    ...REPLICA_FLAGS,
  ],
};

const HELP = formatHelp(
  VERIFY_SPEC,
  "Check every LTX file of a replica and its latest restore plan.",
  `Every file is downloaded and decoded: header, page frames (LZ4), page index,
file checksum, and header TXIDs against the file name. Then the latest restore
plan must resolve without a gap, and the page index built from it must cover
every page of the database.

Prints one line per problem ("FAIL <file>: CODE …", or "FAIL plan: …") and a
summary; exits 1 when there is any problem, 0 otherwise.

JSON fields: ok (boolean), replica, layout, files, bytes, newestTxid (end of the
checked plan, or null), planFiles, pages (pages indexed, or null),
problems: [{file (null for the plan), code, message, offset (or null)}].`,
);

export function verifyHelp(): string {
  return HELP;
}

export interface VerifyProblem {
  /** Object key of the file, or null for a replica-wide (plan) problem. */
  file: string | null;
  code: string;
  message: string;
  offset: number | null;
}

/** The `verify --json` object; field names are stable. */
export interface VerifyReport {
  ok: boolean;
  replica: string;
  layout: Layout;
  files: number;
  bytes: number;
  newestTxid: string | null;
  planFiles: number;
  pages: number | null;
  problems: VerifyProblem[];
}

/** LtxError messages end with "(file at offset N)"; the report has columns for those. */
function bareMessage(e: LtxError): string {
  const where = [e.file, e.offset !== undefined ? `offset ${e.offset}` : undefined].filter((x) => x !== undefined).join(" at ");
  let m = e.message;
  for (const suffix of [` (${where})`, ` (offset ${e.offset})`]) if (where && m.endsWith(suffix)) m = m.slice(0, -suffix.length);
  return m;
}

/** A problem for a known error kind; anything else is a bug and propagates. */
function problemOf(e: unknown, file: string | null): VerifyProblem {
  if (e instanceof LtxError) return { file: e.file ?? file, code: e.code, message: bareMessage(e), offset: e.offset ?? null };
  if (e instanceof StorageError) return { file: e.key ?? file, code: e.code, message: e.message, offset: null };
  if (e instanceof PlanError) return { file, code: e.code, message: e.message, offset: null };
  throw e;
}

async function checkFile(read: (f: LtxFileInfo) => Promise<Uint8Array>, f: LtxFileInfo): Promise<VerifyProblem | null> {
  try {
    const bytes = await read(f);
    const decoded = decodeLtxFile(bytes, { file: f.key });
    checkHeaderName(decoded.header, f);
    return null;
  } catch (e) {
    return problemOf(e, f.key);
  }
}

/**
 * Verifies a replica. Throws user errors only when it cannot be read at all
 * (missing, empty). With `io`, shows progress on stderr (a terminal, or any
 * stderr when `progress`).
 */
export async function verifyCommand(spec: string, replicaOptions: ReplicaOptions, io?: CliIo, progress = false): Promise<VerifyReport> {
  const replica = openReplica(spec, replicaOptions);
  const files = await listOrFail(replica, replicaOptions.layout);
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const bar = io ? progressFor(io, "verifying", { forced: progress }) : null;
  let done = 0;
  let bytes = 0;
  // Bad files come back as problems, not exceptions, so the progress line always gets its final newline.
  const fileProblems = await mapPool(files, FETCH_CONCURRENCY, async (f) => {
    const p = await checkFile((x) => replica.readFile(x), f);
    done++;
    bytes += f.size;
    bar?.update({ bytes, totalBytes, items: done, totalItems: files.length });
    return p;
  });
  const problems = fileProblems.filter((p): p is VerifyProblem => p !== null);

  // The latest plan; when it has a gap, still check the part that can be restored.
  let plan: LtxFileInfo[];
  try {
    plan = computeRestorePlan(files, LATEST);
  } catch (e) {
    problems.push(problemOf(e, null));
    plan = reachablePlan(files);
  }
  let pages: number | null = null;
  if (plan.length > 0) {
    try {
      const index = await buildPageIndex(replica, plan);
      pages = index.pageCount;
    } catch (e) {
      const p = problemOf(e, null);
      // A broken file already reported above breaks the index build the same way.
      if (!problems.some((q) => q.file !== null && q.file === p.file)) problems.push(p);
    }
  }
  const last = plan[plan.length - 1];
  return {
    ok: problems.length === 0,
    replica: replica.description,
    layout: replica.layout ?? "file",
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    newestTxid: last ? formatTxid(last.maxTxid) : null,
    planFiles: plan.length,
    pages,
    problems,
  };
}

/** One line per problem, then a summary line. */
export function formatVerify(r: VerifyReport): string {
  const lines = r.problems.map(
    (p) => `FAIL ${p.file ?? "plan"}: ${p.code}${p.offset !== null ? ` at offset ${p.offset}` : ""}: ${p.message}`,
  );
  const scope = `${r.files} file${r.files === 1 ? "" : "s"} (${humanBytes(r.bytes)}) in ${r.replica}`;
  if (r.ok) {
    lines.push(`OK: verified ${scope}; latest plan: ${r.planFiles} file${r.planFiles === 1 ? "" : "s"} to TXID ${r.newestTxid}, ${r.pages} pages indexed`);
  } else {
    const bad = new Set(r.problems.flatMap((p) => (p.file === null ? [] : [p.file]))).size;
    const where = [bad > 0 ? `${bad} file${bad === 1 ? "" : "s"}` : "", r.problems.some((p) => p.file === null) ? "the plan" : ""];
    const n = r.problems.length;
    lines.push(`FAILED: ${n} problem${n === 1 ? "" : "s"} in ${where.filter(Boolean).join(" and ")} after checking ${scope}`);
  }
  return `${lines.join("\n")}\n`;
}

/** `ltx-edge verify …`: 0 when the replica is sound, 1 when any problem was found. */
export async function runVerify(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, VERIFY_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const report = await verifyCommand(
    args.positionals[0] as string,
    { layout: parseLayout(args.string("layout"), "auto"), s3: s3OptionsFrom(args, io.env) },
    io,
    args.bool("progress"),
  );
  io.stdout.write(args.bool("json") ? `${JSON.stringify(report)}\n` : formatVerify(report));
  return report.ok ? 0 : 1;
}
