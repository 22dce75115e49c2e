/**
 * @module
 * One D1 call (`all()`, `first()`, `raw()`, `run()` or `batch()`): every
 * statement reads ONE snapshot, through the same machinery as a Hrana
 * pipeline (src/hrana/snapshot.ts: pinned snapshots, time travel once the
 * live index has moved on, one budget for the call), with D1's batch rule on
 * top: the call fails with the first statement that fails, in order.
 *
 * Transaction statements (BEGIN of any mode, COMMIT, ROLLBACK, SAVEPOINT…)
 * never reach SQLite: they change the stream state that the client carries
 * from call to call (the Hrana baton format), and the snapshot of an open
 * transaction is pinned by its first read. Writes fail in the engine with
 * SQL_READONLY, inside a transaction or not.
 */
import { decodeBaton, encodeBaton, newStreamState, type StreamState, cloneState } from "../session/baton.ts";
import { type Outcome, type RunContext, SnapshotRunner, statementError } from "../session/snapshot.ts";
import { parseControl } from "../session/sql-text.ts";
import { applyControl } from "../session/transaction.ts";
import { ApiError, toApiError } from "../api/errors.ts";
import { formatTxid, parseTxid } from "../ltx/txid.ts";
import { sqlTextProblem } from "../sql/text-guard.ts";
import type { SqlParam, StatementInput } from "../sql/types.ts";
import { newestTxid } from "./newest.ts";
import type { D1Meta, LtxMeta } from "./types.ts";
import type { D1WireOptions, D1WireReply, D1WireResult, D1WireStatement } from "./wire.ts";

/** A failure that ends the call, with the statement it belongs to (null: the call as a whole). */
class CallError extends Error {
  constructor(
    readonly error: ApiError,
    readonly statementIndex: number | null,
  ) {
    super(error.message);
  }
}

function param(v: unknown, where: string): SqlParam {
  if (v === null || typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  throw new ApiError("SQL_BAD_PARAMS", `${where}: unsupported value of type ${v === undefined ? "undefined" : typeof v}; bind null, a number, bigint, string, boolean or bytes`);
}

/** Checks what the binder sent: the RPC is trusted to be ours, but the values are the application's. */
function statementsOf(raw: unknown, ctx: RunContext): D1WireStatement[] {
  if (!Array.isArray(raw)) throw new ApiError("BAD_REQUEST", "statements must be an array");
  if (raw.length === 0) throw new ApiError("BAD_REQUEST", "no SQL statements to run");
  const max = ctx.limits.maxStatements;
  if (raw.length > max) throw new ApiError("TOO_MANY_STATEMENTS", `batch has ${raw.length} statements; the limit is ${max}`);
  return raw.map((s: unknown, i) => {
    const o = s as Partial<D1WireStatement> | null;
    if (typeof o !== "object" || o === null || typeof o.sql !== "string" || !Array.isArray(o.params) || Object.keys(o).some((k) => k !== "sql" && k !== "params")) {
      throw new CallError(new ApiError("BAD_REQUEST", `statements[${i}] must be {sql, params} and nothing else`), i);
    }
    if (o.params.length > ctx.limits.maxParams) {
      throw new CallError(new ApiError("TOO_MANY_PARAMS", `statement has ${o.params.length} parameters; the limit is ${ctx.limits.maxParams}`), i);
    }
    return { sql: o.sql, params: o.params };
  });
}

const OPTION_KEYS = new Set(["state", "minTxid", "newest", "maxWaitMs"]);

/** The call's options, checked: unknown keys and wrong types are refused, naming the field. */
function optionsOf(raw: unknown): D1WireOptions {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new ApiError("BAD_REQUEST", "options must be an object");
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!OPTION_KEYS.has(k)) throw new ApiError("BAD_REQUEST", `unknown option ${k}; allowed: ${[...OPTION_KEYS].join(", ")}`);
  const optional = (k: string, ok: (v: unknown) => boolean, what: string): void => {
    if (o[k] !== undefined && o[k] !== null && !ok(o[k])) throw new ApiError("BAD_REQUEST", `options.${k} must be ${what}`);
  };
  optional("state", (v) => typeof v === "string", "a string (the state of the previous reply)");
  optional("minTxid", (v) => typeof v === "string", "a TXID string");
  optional("newest", (v) => typeof v === "boolean", "a boolean");
  optional("maxWaitMs", (v) => typeof v === "number" && Number.isFinite(v) && v >= 0, "a non-negative number of milliseconds");
  return o as D1WireOptions;
}

/** The TXID this call must read at least: the session's bookmark, or the newest in storage. */
async function minTxidOf(ctx: RunContext, options: D1WireOptions): Promise<number | null> {
  let min: number | null = null;
  if (options.minTxid !== undefined && options.minTxid !== null) {
    min = parseTxid(options.minTxid);
    if (min === null) throw new ApiError("INVALID_TXID", `invalid bookmark ${JSON.stringify(options.minTxid)}: a bookmark is a TXID (16 hex digits, as getBookmark() returns it)`);
  }
  if (options.newest === true) min = Math.max(min ?? 0, await newestTxid(ctx.env, ctx.cfg.name));
  return min;
}

/** D1's metadata of one statement, and ltx-edge's of the call (the snapshot and what it cost). */
function metaOf(runner: SnapshotRunner, startedAt: number, rowsRead: number): D1Meta & LtxMeta {
  const o = runner.last;
  const t = runner.totals;
  const root = o?.snapshot.held.root ?? null;
  const txid = runner.pin?.txid ?? null;
  const since = o?.snapshot.servedFrom === "live" ? o.freshness.sinceLastPollMs : null;
  return {
    served_by: "ltx-edge",
    served_by_primary: false,
    duration: Date.now() - startedAt,
    timings: { sql_duration_ms: t.execMs },
    changes: 0,
    last_row_id: 0,
    changed_db: false,
    size_after: root ? root.commit * root.pageSize : 0,
    rows_read: rowsRead,
    rows_written: 0,
    total_attempts: Math.max(1, t.calls),
    txid,
    txid_hex: txid === null ? null : formatTxid(txid),
    served_from: runner.servedFrom,
    position_time: root && root.timestamp > 0 ? new Date(root.timestamp).toISOString() : null,
    replica_state: o?.snapshot.replicaState ?? null,
    staleness_ms: o && since !== null && since !== undefined ? since + o.snapshot.isolateAgeMs : null,
    index_ms: t.indexMs,
    storage_requests: t.storageRequests,
    cache_ops: t.cacheOps,
    bytes_fetched: t.bytesFetched,
    isolate_hits: t.isolateHits,
    cache_hits: t.cacheHits,
    cache_misses: t.cacheMisses,
  };
}

/**
 * One statement of the call: transaction control is applied to `state` now,
 * anything else is checked and queued for the engine. Returns the statement's
 * failure, if it fails before reaching the engine.
 */
function prepare(ctx: RunContext, state: StreamState, s: D1WireStatement, i: number, engine: { index: number; input: StatementInput }[]): CallError | null {
  const control = parseControl(s.sql);
  if (control) {
    const err = s.params.length > 0 ? new ApiError("SQL_BAD_PARAMS", "transaction statements take no parameters") : applyControl(state, control);
    return err ? new CallError(err, i) : null;
  }
  const problem = sqlTextProblem(s.sql, ctx.limits, `statements[${i}]`);
  if (problem) return new CallError(toApiError(problem), i);
  try {
    engine.push({ index: i, input: { sql: s.sql, params: s.params.map((v, j) => param(v, `parameter ${j + 1}`)) } });
    return null;
  } catch (e) {
    return new CallError(statementError(e), i);
  }
}

/** Runs one call; every failure is answered as data ({success: false}), so codes survive the RPC boundary. */
export async function runD1(ctx: RunContext, rawStatements: unknown, rawOptions: unknown): Promise<D1WireReply> {
  const startedAt = Date.now();
  try {
    const options = optionsOf(rawOptions);
    const statements = statementsOf(rawStatements, ctx);
    const initial: StreamState = options.state ? decodeBaton(options.state, ctx.cfg.name) : newStreamState(ctx.cfg.name);
    const state = cloneState(initial);
    // Transaction statements change only the state; the rest goes to the engine, all on one snapshot.
    const engine: { index: number; input: StatementInput }[] = [];
    let failed: CallError | null = null;
    for (const [i, s] of statements.entries()) {
      failed = prepare(ctx, state, s, i, engine);
      if (failed) break;
    }
    // Only statements before the first failing one matter: D1 fails a batch with its first failing statement.
    const needed = engine.filter((e) => failed === null || e.index < (failed.statementIndex ?? 0));
    const outcomes = new Map<number, Outcome>();
    const limits = typeof options.maxWaitMs !== "number" ? ctx.limits : { ...ctx.limits, maxWaitMs: Math.max(0, Math.min(ctx.limits.maxWaitMs, options.maxWaitMs)) };
    const run: RunContext = { ...ctx, limits };
    // Without a statement for the engine (BEGIN, COMMIT…) nothing is read: no bookmark wait, no poll.
    const minTxid = needed.length > 0 ? await minTxidOf(run, options) : null;
    const runner = new SnapshotRunner(run, initial.autocommit ? null : initial.pin, minTxid);
    if (needed.length > 0) {
      const got = await runner.runAll(needed.map((e) => e.input));
      needed.forEach((e, j) => outcomes.set(e.index, got[j] as Outcome));
    }
    for (const e of needed) {
      const o = outcomes.get(e.index);
      if (o && !o.ok) throw new CallError(o.error, e.index);
    }
    if (failed) throw failed;
    // A transaction's snapshot is the first one it read; outside a transaction nothing is pinned.
    state.pin = state.autocommit ? null : (initial.pin ?? runner.pin);
    state.floor = null;
    state.seq = initial.seq + 1;
    const results = statements.map((_, i): D1WireResult => {
      const o = outcomes.get(i);
      const r = o?.ok ? o.result : null;
      return { success: true, meta: metaOf(runner, startedAt, r?.rowsRead ?? 0), results: { columns: r?.columns ?? [], rows: r?.rows ?? [] } };
    });
    return { success: true, results, state: encodeBaton(state), inTransaction: !state.autocommit };
  } catch (e) {
    const err = e instanceof CallError ? e : new CallError(statementError(e), null);
    return { success: false, error: { code: err.error.code, message: err.error.message, statementIndex: err.statementIndex } };
  }
}
