/**
 * @module
 * SqlError: every failure of the SQL engine that is not an error thrown by the
 * PageSource itself (those are rethrown unchanged) carries one stable code.
 */

import { CodedError } from "../errors.ts";

export type SqlErrorCode =
  /** Malformed SQL: SQLite's parser or tokenizer refused the text, or there is no statement at all. */
  | "SQL_SYNTAX"
  /** The statement would write, change settings, attach, or call a forbidden function. */
  | "SQL_READONLY"
  | "SQL_TOO_MANY_ROWS"
  | "SQL_RESULT_TOO_LARGE"
  /** The execute() deadline passed, while running or while waiting for the engine. */
  | "SQL_TIMEOUT"
  /** Interrupted after its budget of SQLite VM steps (the CPU guard that needs no clock). */
  | "SQL_CPU_LIMIT"
  /** SQLite ran out of its heap limit, or a value outgrew SQLITE_LIMIT_LENGTH. */
  | "SQL_MEMORY_LIMIT"
  /** The statement nests too deeply for the wasm stack (refused by SQLite's limits, or it overflowed and the instance was reset). */
  | "SQL_TOO_COMPLEX"
  /** The statement's text is longer than the deployment allows (checked before it reaches SQLite). */
  | "SQL_TOO_LONG"
  /** Too many calls already wait for this engine; retry shortly. */
  | "ENGINE_BUSY"
  /** More than one statement in one StatementInput. */
  | "SQL_MULTIPLE_STATEMENTS"
  /** Parameter count/name mismatch or an unsupported parameter type. */
  | "SQL_BAD_PARAMS"
  /** The wasm instance trapped (not a stack overflow) and was replaced; the call may be retried. */
  | "SQL_ENGINE_RESET"
  /**
   * Any other SQLite error: well-formed SQL that does not fit this database
   * ("no such table/column/function", wrong argument counts, misused
   * aggregates — which may depend on the snapshot read), runtime errors,
   * corrupt data, ...
   */
  | "SQL_ERROR";

export interface SqlErrorDetails {
  /** SQLite result code, when the error came from SQLite. */
  sqliteCode?: number;
  /** Index of the failing statement in the execute() call. */
  statementIndex?: number;
  cause?: unknown;
}

export class SqlError extends CodedError<SqlErrorCode> {
  readonly sqliteCode: number | undefined;
  readonly statementIndex: number | undefined;

  constructor(code: SqlErrorCode, message: string, details: SqlErrorDetails = {}) {
    super(code, message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.sqliteCode = details.sqliteCode;
    this.statementIndex = details.statementIndex;
  }

  /** The same error tagged with the statement it belongs to. */
  atStatement(index: number): SqlError {
    if (this.statementIndex !== undefined) return this;
    return new SqlError(this.code, this.message, {
      sqliteCode: this.sqliteCode,
      statementIndex: index,
      cause: this.cause,
    });
  }
}

/** Prepare-time errors that are SQLite's own depth and size limits, not syntax. */
const TOO_COMPLEX = /^(Recursion limit|parser stack overflow|Expression tree is too large|too many terms in compound SELECT|at most \d+ tables in a join|too many arguments on function|LIKE or GLOB pattern too complex)/i;

/**
 * Messages of SQLite's tokenizer and parser (sqlite3RunParser and the
 * grammar's error action): the text is not SQL. Name resolution and every
 * later check ("no such table", "no such column", "wrong number of
 * arguments") run on a parsed statement and are not syntax errors.
 */
const SYNTAX = /^near "[\s\S]*": syntax error$|^incomplete input$|^unrecognized token: |^variable number must be between |^hex literal too big: |^unsupported use of NULLS (FIRST|LAST)$/;

/** The code of an error SQLite reported while preparing a statement, from its message. */
export function prepareErrorCode(message: string): "SQL_TOO_COMPLEX" | "SQL_SYNTAX" | "SQL_ERROR" {
  if (TOO_COMPLEX.test(message)) return "SQL_TOO_COMPLEX";
  return SYNTAX.test(message) ? "SQL_SYNTAX" : "SQL_ERROR";
}

/**
 * Internal to the engine, never seen by callers: a fast-lane attempt read a
 * page that was not in memory, so its outcome (result or error) is thrown
 * away and the call runs again on the main lane.
 */
export class FastLaneMiss extends Error {
  constructor() {
    super("the fast lane needed a page that was not in memory");
    this.name = "FastLaneMiss";
  }
}

/** Internal to the engine: a lane could not load its wasm instance (the cause says why). */
export class LaneUnavailable extends Error {
  constructor(build: string, cause: unknown) {
    super(`the ${build} build could not be loaded: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "LaneUnavailable";
  }
}
