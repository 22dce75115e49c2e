/**
 * @module
 * `ltx-edge query`: read-only SQL against a replica without restoring it,
 * through the same path a Worker query takes — restore plan → page index →
 * {@link IndexPageSource} (no Cache API tier) → {@link SqlEngine} over the
 * read-only VFS — with wa-sqlite loaded by the Node provider. Only the
 * pages SQLite asks for are fetched, in 64 KiB-aligned range reads.
 *
 * Output: a table on stdout (plus a one-line summary on stderr), or with
 * `--json` the HTTP API's `{columns, rows, meta}` with the same lossless
 * value encoding.
 */
import { formatTxid } from "../ltx/txid.ts";
import { ApiError } from "../api/errors.ts";
import { SqlError } from "../sql/errors.ts";
import { rowsJson, valueJson, withRawFields } from "../api/json.ts";
import { DEFAULT_LIMITS } from "../api/limits.ts";
import { parseQueryRequest } from "../api/query-request.ts";
import { IndexPageSource, IsolateCaches, newFetchStats } from "../pages/page-fetcher.ts";
import { buildPageIndex, resolvePlan } from "../restore/restore.ts";
import { SqlEngine, type SqlValue, type StatementInput, type StatementResult } from "../sql/engine.ts";
import { type CommandSpec, type ParsedArgs, formatHelp, parseArgs } from "./args.ts";
import { badArgs } from "./errors.ts";
import { humanBytes, humanDuration } from "./format.ts";
import type { CliIo } from "./io.ts";
import { REPLICA_FLAGS, listOrFail, openReplica, parseLayout, s3OptionsFrom } from "./replica-url.ts";
import { targetFrom } from "./restore.ts";
import { nodeWasm } from "./wasm-node.ts";

const DEFAULT_MAX_ROWS = 10_000;
const DEFAULT_TIMEOUT_MS = 60_000;
/** Approximate JSON size cap of one result: far above any table worth printing, well below Node's heap. */
const MAX_RESULT_BYTES = 256 * 1024 * 1024;
/** Text cells longer than this are cut in the table (never in --json). */
const MAX_TEXT_CELL = 200;
/** Blob bytes shown in the table before the cut. */
const MAX_BLOB_CELL_BYTES = 16;

export const QUERY_SPEC: CommandSpec = {
  name: "query",
  positionals: ["<replica>", "<sql>"],
  flags: [
    { name: "params", value: "JSON", help: 'parameters: a JSON array (?, ?N) or object (:name, @name, $name), e.g. \'[42,"x"]\'' },
    { name: "txid", value: "TXID", help: "query the database as of this TXID; default: the newest" },
    { name: "timestamp", value: "TIME", help: "query the newest state at or before TIME: RFC 3339 (2026-01-02T03:04:05Z) or relative (-5m, -2h)" },
    { name: "json", help: "print {columns, rows, meta} as the HTTP API does" },
    { name: "max-rows", value: "N", help: `fail when the result has more than N rows (default ${DEFAULT_MAX_ROWS})` },
    { name: "timeout", value: "MS", help: `interrupt the query after MS milliseconds (default ${DEFAULT_TIMEOUT_MS})` },
    { name: "max-vm-steps", value: "N", help: "interrupt the query after N SQLite VM steps (default: derived from --timeout)" },
    ...REPLICA_FLAGS,
  ],
};

const HELP = formatHelp(
  QUERY_SPEC,
  "Run one read-only SQL statement against a replica without restoring it.",
  `<replica> is a directory, file:///path, or s3://bucket/prefix. The query runs in
the same engine as the Worker (wa-sqlite over a read-only VFS): only the pages
SQLite needs are read from the LTX files, as range reads.

Values in --params and --json use the HTTP API's encoding: INTEGER and REAL are
JSON numbers (a REAL always has a '.' or an exponent: 1.0 binds as REAL, 1 as
INTEGER), BLOBs are {"base64": "…"}; in --params, {"integer": "…"} and
{"real": …} force a type.

The Worker's guards apply: SQL text complexity, a SQLite VM-step budget
(SQL_CPU_LIMIT; it holds even when the clock does not move), the time limit
(SQL_TIMEOUT) and the SQLite heap limit (SQL_MEMORY_LIMIT).

The table shows NULL as NULL and BLOBs as x'hex' (long values are cut; use --json
for every byte). A summary (TXID, pages read, storage requests) goes to stderr.
Writes are refused with SQL_READONLY.`,
);

export function queryHelp(): string {
  return HELP;
}

export interface QueryMeta {
  txid: number;
  txid_hex: string;
  position_time: string | null;
  rows_returned: number;
  pages_read: number;
  vfs_reads: number;
  storage_requests: number;
  bytes_fetched: number;
  index_ms: number;
  exec_ms: number;
  engine: string;
}

export interface QueryOutput {
  result: StatementResult;
  meta: QueryMeta;
}

function positiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw badArgs(`--${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * `--params` text with every top-level bare number spelled the way the HTTP
 * API's typed forms do, so `1.0` binds as REAL and `9007199254740993` stays
 * exact even where JSON.parse cannot see a number's source text (Node 20).
 */
export function typedParamsText(json: string): string {
  let depth = 0;
  return json.replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[[\]{}]/g, (tok) => {
    if (tok === "[" || tok === "{") depth++;
    else if (tok === "]" || tok === "}") depth--;
    else if (depth === 1 && !tok.startsWith('"')) {
      if (/[.eE]/.test(tok)) return `{"real":${tok}}`;
      if (!Number.isSafeInteger(Number(tok))) return `{"integer":"${tok}"}`;
    }
    return tok;
  });
}

/** The statement with its parameters, validated exactly as the HTTP API does. */
export function statementFrom(sql: string, paramsJson: string | undefined): StatementInput {
  let params: unknown;
  if (paramsJson !== undefined) {
    try {
      params = JSON.parse(typedParamsText(paramsJson)) as unknown;
    } catch (e) {
      throw badArgs(`--params is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  try {
    const req = parseQueryRequest({ sql, ...(params !== undefined ? { params } : {}) }, "query", DEFAULT_LIMITS);
    return req.statements[0] as StatementInput;
  } catch (e) {
    // A request the API would refuse (ApiError), or SQL text the guard refuses (SqlError): the user's arguments.
    if (e instanceof ApiError || e instanceof SqlError) throw badArgs(`${e.code}: ${e.message.replace(/^body\.params/, "--params").replace(/^body\./, "")}`);
    throw e;
  }
}

/** Runs one statement against a replica; throws user errors (CliError, PlanError, LtxError, StorageError, SqlError). */
export async function queryCommand(args: ParsedArgs, io: CliIo): Promise<QueryOutput> {
  const [spec, sql] = args.positionals as [string, string];
  if (args.string("txid") !== undefined && args.string("timestamp") !== undefined) throw badArgs("query: give --txid or --timestamp, not both");
  const target = targetFrom(args);
  const statement = statementFrom(sql, args.string("params"));
  const maxRows = positiveInt(args.string("max-rows"), "max-rows", DEFAULT_MAX_ROWS);
  const timeoutMs = positiveInt(args.string("timeout"), "timeout", DEFAULT_TIMEOUT_MS);
  // 0: the step budget is derived from the timeout, as in the Worker.
  const maxVmSteps = positiveInt(args.string("max-vm-steps"), "max-vm-steps", 0);
  const layout = parseLayout(args.string("layout"), "auto");
  const replica = openReplica(spec, { layout, s3: s3OptionsFrom(args, io.env) });

  const t0 = performance.now();
  const files = await listOrFail(replica, layout);
  const { plan } = await resolvePlan(replica, target, files);
  const index = await buildPageIndex(replica, plan);
  const indexMs = performance.now() - t0;

  // Created after the index, so a bad replica or TXID fails before any wasm is compiled.
  const engine = await SqlEngine.create({ wasm: nodeWasm, maxConnections: 1 });
  const stats = newFetchStats();
  const source = new IndexPageSource(index, {
    db: "cli",
    store: replica.store,
    // One query per process: caches only need to hold its working set.
    caches: IsolateCaches.fromBudget(80 * 1024 * 1024),
    edgeCache: null,
    maxStorageRequests: Number.MAX_SAFE_INTEGER,
    stats,
  });
  const t1 = performance.now();
  // The Worker's guards: VM-step budget, deadline, SQLite heap limit (the engine's defaults).
  const r = await engine.execute("cli", source, [statement], { maxRows, maxResultBytes: MAX_RESULT_BYTES, timeoutMs, maxVmSteps });
  const result = r.results[0] as StatementResult;
  return {
    result,
    meta: {
      txid: index.txid,
      txid_hex: formatTxid(index.txid),
      position_time: index.timestamp > 0 ? new Date(index.timestamp).toISOString() : null,
      rows_returned: result.rows.length,
      pages_read: stats.pagesRead,
      vfs_reads: r.stats.vfsReads,
      storage_requests: stats.storageRequests,
      bytes_fetched: stats.bytesFetched,
      index_ms: Math.round(indexMs),
      exec_ms: Math.round(performance.now() - t1),
      engine: engine.build,
    },
  };
}

/** `{columns, rows, meta}` with the HTTP API's lossless value encoding. */
export function formatQueryJson(out: QueryOutput): string {
  return `${withRawFields({ meta: out.meta }, { columns: JSON.stringify(out.result.columns), rows: rowsJson(out.result.rows, "number") })}\n`;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Text on one line (control characters would break the row apart or move the cursor), cut when long. */
function oneLineText(v: string): string {
  const flat = v.replace(/[\x00-\x1f\x7f]/g, (c) => (c === "\n" ? "\\n" : c === "\t" ? "\\t" : c === "\r" ? "\\r" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
  return flat.length > MAX_TEXT_CELL ? `${flat.slice(0, MAX_TEXT_CELL - 1)}…` : flat;
}

/** One table cell: printable on one line, cut when long. */
export function cellText(v: SqlValue): string {
  if (v === null) return "NULL";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? valueJson(v, "number") : String(v);
  if (typeof v === "string") return oneLineText(v);
  if (v.length <= MAX_BLOB_CELL_BYTES) return `x'${hex(v)}'`;
  return `x'${hex(v.subarray(0, MAX_BLOB_CELL_BYTES))}…' (${v.length} bytes)`;
}

/** A plain-text table: header, rule, rows (numbers right-aligned), row count. */
export function formatTable(result: StatementResult): string {
  const columns = result.columns.map(oneLineText);
  const { rows } = result;
  const count = `(${rows.length} row${rows.length === 1 ? "" : "s"})\n`;
  if (columns.length === 0) return count;
  const cells = rows.map((row) => row.map(cellText));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] ?? "").length)));
  const line = (parts: string[]) => parts.join(" | ").trimEnd();
  const out = [line(columns.map((c, i) => c.padEnd(widths[i] ?? 0))), widths.map((w) => "-".repeat(w)).join("-+-")];
  rows.forEach((row, r) => {
    const texts = cells[r] ?? [];
    out.push(
      line(
        row.map((v, i) => {
          const t = texts[i] ?? "";
          const w = widths[i] ?? 0;
          return typeof v === "number" || typeof v === "bigint" ? t.padStart(w) : t.padEnd(w);
        }),
      ),
    );
  });
  return `${out.join("\n")}\n${count}`;
}

function summaryLine(m: QueryMeta): string {
  return (
    `TXID ${m.txid_hex}${m.position_time ? ` (${m.position_time})` : ""}: ${m.pages_read} pages read, ` +
    `${m.storage_requests} storage request${m.storage_requests === 1 ? "" : "s"} (${humanBytes(m.bytes_fetched)}), ` +
    `index ${humanDuration(m.index_ms)}, query ${humanDuration(m.exec_ms)}\n`
  );
}

/** `ltx-edge query …`: returns the exit code; throws user errors for main to print. */
export async function runQuery(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, QUERY_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const out: QueryOutput = await queryCommand(args, io);
  if (args.bool("json")) {
    io.stdout.write(formatQueryJson(out));
  } else {
    io.stdout.write(formatTable(out.result));
    io.stderr.write(summaryLine(out.meta));
  }
  return 0;
}
