/**
 * @module
 * Public types of the SQL engine (values, statements, results, limits).
 */

/** A SQLite value as returned: INTEGER is always bigint (exact to 64 bits), REAL is number. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/**
 * A bindable value. Binding rules: bigint → INTEGER (must fit in int64);
 * number → INTEGER when it is a safe integer, else REAL (so pass a bigint for
 * integers beyond 2^53, and note 1.0 === 1 binds as INTEGER); boolean → 0/1;
 * string → TEXT; Uint8Array → BLOB (empty stays an empty BLOB); null → NULL.
 */
export type SqlParam = SqlValue | boolean | SqlReal;

/**
 * A number that binds as REAL even when it is integral — Hrana's `float`
 * values and the HTTP API's `{"real": …}` — so `SELECT ? / 2` with 7.0 is 3.5.
 */
export class SqlReal {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

export interface StatementInput {
  /** Exactly one statement; trailing whitespace, semicolons and comments are fine. */
  sql: string;
  /** Positional (`?`, `?N` by index) or named (`:a`, `@a`, `$a`; keys with or without the prefix). */
  params?: SqlParam[] | Record<string, SqlParam>;
}

export interface StatementResult {
  columns: string[];
  /**
   * Declared column types. Always null with the shipped wa-sqlite builds:
   * they are compiled with SQLITE_OMIT_DECLTYPE (no sqlite3_column_decltype).
   */
  columnTypes: (string | null)[];
  rows: SqlValue[][];
  /** Rows produced by this statement (equals rows.length). */
  rowsRead: number;
}

export interface ExecLimits {
  /** Maximum rows over all statements of one execute() call. */
  maxRows: number;
  /** Maximum approximate JSON size of all results of one execute() call. */
  maxResultBytes: number;
  /**
   * Time budget of one execute() call, ms: it sets the default `deadline`
   * and, unless `maxVmSteps` is given, the VM-step budget.
   */
  timeoutMs: number;
  /**
   * SQLite VM steps all statements of one execute() may take together
   * (SQL_CPU_LIMIT beyond); 0 or absent derives it from `timeoutMs`. This is
   * the CPU guard that holds where the clock stands still during CPU work.
   */
  maxVmSteps?: number;
  /**
   * Absolute deadline, ms since the epoch, covering the wait for the engine
   * and the execution (SQL_TIMEOUT beyond). Default: the time execute() is
   * called plus `timeoutMs`.
   */
  deadline?: number;
  /** Calls allowed to wait for the engine before this one is refused with ENGINE_BUSY (default 32). */
  maxQueued?: number;
}

export interface ExecStats {
  /** PageSource.readPage calls. */
  pagesRead: number;
  /** VFS xRead calls made by SQLite. */
  vfsReads: number;
  /** SQLite VM steps the call took (to PROGRESS_OPS resolution): deduct it to share one budget over several calls. */
  vmSteps: number;
  /**
   * Where the call ran (set by the engine): "fast" — the synchronous build,
   * every page in memory; "main" — a suspending build; "fallback" — the fast
   * lane met a page not in memory, and the call ran again on the main lane.
   */
  lane?: "fast" | "main" | "fallback";
}

export interface ExecResult {
  results: StatementResult[];
  stats: ExecStats;
}
