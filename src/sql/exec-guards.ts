/**
 * @module
 * The per-call guards of one execute(): its deadline and VM-step budget
 * (checked from SQLite's progress handler), its row and byte counters, and
 * the mapping of whatever SQLite or wasm threw onto stable {@link SqlError}
 * codes.
 */

import * as SQLite from "@journeyapps/wa-sqlite";
import { SqlError, prepareErrorCode } from "./errors.ts";
import type { ExecLimits } from "./types.ts";
import { PROGRESS_OPS, vmStepBudget } from "./vm-budget.ts";

export interface ExecContext {
  readonly limits: ExecLimits;
  /** Absolute deadline (ms since the epoch) of the whole call, queue wait included. */
  readonly deadline: number;
  /** VM steps the call may take (all statements together). */
  readonly maxVmSteps: number;
  /** The instance's SQLite heap limit, for messages. */
  readonly heapLimitBytes: number;
  /** Progress-handler calls so far (each one is PROGRESS_OPS VM steps). */
  ticks: number;
  /** Why the progress handler interrupted the statement, if it did. */
  stop: "cpu" | "timeout" | null;
  /** Why the authorizer last said no, for the error message. */
  denial: string | null;
  rows: number;
  bytes: number;
}

export function newExecContext(limits: ExecLimits, deadline: number, heapLimitBytes: number): ExecContext {
  return {
    limits,
    deadline,
    maxVmSteps: vmStepBudget(limits),
    heapLimitBytes,
    ticks: 0,
    stop: null,
    denial: null,
    rows: 0,
    bytes: 2,
  };
}

/**
 * The progress-handler verdict: non-zero interrupts the statement. The step
 * count comes first: it is the guard that works when the clock stands still.
 */
export function progressVerdict(ctx: ExecContext): number {
  ctx.ticks++;
  if (ctx.ticks * PROGRESS_OPS > ctx.maxVmSteps) {
    ctx.stop = "cpu";
    return 1;
  }
  if (Date.now() > ctx.deadline) {
    ctx.stop = "timeout";
    return 1;
  }
  return 0;
}

export function timeoutError(ctx: ExecContext): SqlError {
  return new SqlError("SQL_TIMEOUT", `query exceeded its ${ctx.limits.timeoutMs} ms time limit`);
}

function mib(bytes: number): string {
  return `${Math.round((bytes / 1048576) * 10) / 10} MiB`;
}

export function sqliteCodeOf(error: SQLite.SQLiteError): number {
  const code: unknown = error.code;
  return typeof code === "number" ? code : SQLite.SQLITE_ERROR;
}

/** A SQLite error as a coded SqlError; anything else is returned unchanged. */
export function mapSqliteError(error: unknown, ctx: ExecContext, phase: "prepare" | "step"): unknown {
  if (!(error instanceof SQLite.SQLiteError)) return error;
  const sqliteCode = sqliteCodeOf(error);
  const primary = sqliteCode & 0xff;
  const details = { sqliteCode, cause: error };
  if (primary === SQLite.SQLITE_INTERRUPT && ctx.stop === "cpu") {
    return new SqlError(
      "SQL_CPU_LIMIT",
      `query exceeded its CPU budget of ${ctx.maxVmSteps} SQLite VM steps; narrow it (WHERE, LIMIT, an index) or raise limits.max_vm_steps`,
      details,
    );
  }
  if (primary === SQLite.SQLITE_INTERRUPT && ctx.stop === "timeout") return new SqlError("SQL_TIMEOUT", timeoutError(ctx).message, details);
  if (primary === SQLite.SQLITE_NOMEM) {
    return new SqlError("SQL_MEMORY_LIMIT", `query needs more memory than the ${mib(ctx.heapLimitBytes)} SQLite may use (big sorts, DISTINCT or GROUP BY over large values)`, details);
  }
  if (primary === SQLite.SQLITE_TOOBIG) {
    // SQLITE_LIMIT_LENGTH is set below the heap limit: a value that big could only end in NOMEM.
    return new SqlError("SQL_MEMORY_LIMIT", `a string or BLOB would exceed the ${mib(ctx.heapLimitBytes / 2)} a single value may take`, details);
  }
  if (primary === SQLite.SQLITE_AUTH || ctx.denial !== null) {
    return new SqlError("SQL_READONLY", ctx.denial ?? error.message, details);
  }
  if (primary === SQLite.SQLITE_READONLY) {
    return new SqlError("SQL_READONLY", `read-only database: ${error.message}`, details);
  }
  if (phase === "prepare" && primary === SQLite.SQLITE_ERROR) {
    const code = prepareErrorCode(error.message);
    return new SqlError(code, code === "SQL_TOO_COMPLEX" ? `statement is too complex: ${error.message}` : error.message, details);
  }
  return new SqlError("SQL_ERROR", error.message, details);
}

/** True for a native stack overflow inside wasm (deep recursion in SQLite's parser or code generator). */
function isStackOverflow(error: unknown): boolean {
  return error instanceof Error && /call stack|stack overflow/i.test(error.message);
}

/**
 * The error for a call whose instance had to be thrown away. A stack
 * overflow is the statement's fault and would overflow again, so it is
 * SQL_TOO_COMPLEX (never retried). So is any trap while compiling: that is
 * recursion over the statement's own text, and an overflow of the shadow
 * stack in linear memory shows up as an arbitrary trap ("null function",
 * "memory access out of bounds"). Any other trap may be the instance's:
 * SQL_ENGINE_RESET, which the service retries once on a fresh instance.
 */
export function resetError(error: unknown, phase: "prepare" | "other"): SqlError {
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (phase === "prepare" || isStackOverflow(error)) {
    return new SqlError("SQL_TOO_COMPLEX", `statement nests too deeply for the SQLite engine (${detail}); simplify it`, { cause: error });
  }
  return new SqlError("SQL_ENGINE_RESET", `the SQLite engine failed and was reset (${detail})`, { cause: error });
}

/** Errors that did not come from SQLite's API or from us: traps, or exceptions unwound through wasm. */
export function isForeignError(error: unknown): boolean {
  return !(error instanceof SqlError) && !(error instanceof SQLite.SQLiteError);
}
