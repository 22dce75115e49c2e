/**
 * @module
 * SqlError: every failure of the SQL engine that is not an error thrown by the
 * PageSource itself (those are rethrown unchanged) carries one stable code.
 */

import { CodedError } from "../errors.ts";

export type SqlErrorCode =
  /** Malformed SQL or any prepare-time error (including "no such table"/"no such column"). */
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
  /** Too many calls already wait for this engine; retry shortly. */
  | "ENGINE_BUSY"
  /** More than one statement in one StatementInput. */
  | "SQL_MULTIPLE_STATEMENTS"
  /** Parameter count/name mismatch or an unsupported parameter type. */
  | "SQL_BAD_PARAMS"
  /** The wasm instance trapped (not a stack overflow) and was replaced; the call may be retried. */
  | "SQL_ENGINE_RESET"
  /** Any other SQLite error (runtime errors, corrupt data, ...). */
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
