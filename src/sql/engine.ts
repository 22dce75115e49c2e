/**
 * @module
 * SqlEngine: read-only SQL over a {@link PageSource} snapshot, in wa-sqlite.
 *
 * - One wasm instance per engine, used by one call at a time (FIFO mutex);
 *   100 concurrent execute() calls simply queue.
 * - One open connection per database name (LRU of a few). Each execute()
 *   pins its PageSource in the VFS, and SQLite's own page cache survives
 *   between calls until the patched change counter (the TXID) moves.
 * - Read-only three times over: SQLITE_OPEN_READONLY, an authorizer
 *   allowlist, and sqlite3_stmt_readonly(); the VFS refuses writes as well.
 * - Errors: a PageSource error is rethrown as is; everything else is a
 *   {@link SqlError} with a stable code. A wasm trap discards the instance
 *   and its connections (SQL_ENGINE_RESET); the next call gets a fresh one.
 */

import * as SQLite from "@journeyapps/wa-sqlite";
import { LtxVfs } from "../vfs/ltx-vfs.ts";
import { assertPageSourceShape, type PageSource } from "../vfs/page-source.ts";
import { SqliteRuntime, type SqliteBuild, type SqliteInstance, type SqliteWasmProvider } from "../vfs/sqlite-module.ts";
import { readOnlyDenial } from "./authorizer.ts";
import { SqlError } from "./errors.ts";
import type { ExecLimits, ExecResult, SqlValue, StatementInput, StatementResult } from "./types.ts";
import { bindParams, columnsSize, readColumn } from "./values.ts";

export { SqlError, type SqlErrorCode } from "./errors.ts";
export type { ExecLimits, ExecResult, ExecStats, SqlParam, SqlValue, StatementInput, StatementResult } from "./types.ts";

/** VM instructions between progress-handler checks of the deadline. */
const PROGRESS_OPS = 1000;
/** SQLITE_LIMIT_LENGTH: the largest string/BLOB a query may build or read (keeps one value far from the isolate's memory limit). */
const MAX_VALUE_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS = 4;
const MAX_DB_NAME_LENGTH = 256;

export interface SqlEngineOptions {
  /** Force a wa-sqlite build (tests); default: JSPI when available, else Asyncify. */
  build?: SqliteBuild;
  /** Open connections kept per engine (LRU); each holds up to ~2 MB of page cache. */
  maxConnections?: number;
  /** Where wa-sqlite's loader and wasm come from; default: the workerd provider (the CLI passes a Node one). */
  wasm?: SqliteWasmProvider;
}

interface Connection {
  readonly db: number;
  readonly pageSize: number;
}

interface InstanceState {
  readonly instance: SqliteInstance;
  readonly vfs: LtxVfs;
  /** Insertion order is recency order (oldest first). */
  readonly connections: Map<string, Connection>;
}

interface ExecContext {
  readonly limits: ExecLimits;
  readonly deadline: number;
  timedOut: boolean;
  /** Why the authorizer last said no, for the error message. */
  denial: string | null;
  rows: number;
  bytes: number;
}

/** Errors that did not come from SQLite's API or from us: traps, or exceptions unwound through wasm. */
function isForeignError(error: unknown): boolean {
  return !(error instanceof SqlError) && !(error instanceof SQLite.SQLiteError);
}

function sqliteCodeOf(error: SQLite.SQLiteError): number {
  const code: unknown = error.code;
  return typeof code === "number" ? code : SQLite.SQLITE_ERROR;
}

/** Result codes after which a connection's state is not worth trusting. */
function isConnectionSuspect(code: number): boolean {
  const primary = code & 0xff;
  return (
    primary === SQLite.SQLITE_IOERR ||
    primary === SQLite.SQLITE_CORRUPT ||
    primary === SQLite.SQLITE_NOTADB ||
    primary === SQLite.SQLITE_NOMEM ||
    primary === SQLite.SQLITE_CANTOPEN
  );
}

function mapSqliteError(error: unknown, ctx: ExecContext, phase: "prepare" | "step"): unknown {
  if (!(error instanceof SQLite.SQLiteError)) return error;
  const sqliteCode = sqliteCodeOf(error);
  const primary = sqliteCode & 0xff;
  const details = { sqliteCode, cause: error };
  if (primary === SQLite.SQLITE_INTERRUPT && ctx.timedOut) {
    return new SqlError("SQL_TIMEOUT", `query exceeded its ${ctx.limits.timeoutMs} ms time limit`, details);
  }
  if (primary === SQLite.SQLITE_AUTH || ctx.denial !== null) {
    return new SqlError("SQL_READONLY", ctx.denial ?? error.message, details);
  }
  if (primary === SQLite.SQLITE_READONLY) {
    return new SqlError("SQL_READONLY", `read-only database: ${error.message}`, details);
  }
  if (phase === "prepare" && primary === SQLite.SQLITE_ERROR) {
    return new SqlError("SQL_SYNTAX", error.message, details);
  }
  return new SqlError("SQL_ERROR", error.message, details);
}

function validateDbName(dbName: string): void {
  if (typeof dbName !== "string" || dbName.length === 0 || dbName.length > MAX_DB_NAME_LENGTH) {
    throw new RangeError(`database name must be a string of 1..${MAX_DB_NAME_LENGTH} characters`);
  }
  // ":memory:" and "" bypass the VFS; "file:" would be URI syntax; NUL truncates in C.
  if (dbName === ":memory:" || dbName.startsWith("file:") || dbName.includes("\0")) {
    throw new RangeError(`invalid database name ${JSON.stringify(dbName)}`);
  }
}

function validateLimits(limits: ExecLimits): void {
  for (const key of ["maxRows", "maxResultBytes", "timeoutMs"] as const) {
    const v = limits[key];
    if (typeof v !== "number" || !(v >= 0)) throw new RangeError(`limits.${key} must be a non-negative number`);
  }
}

export class SqlEngine {
  readonly build: SqliteBuild;
  readonly #runtime: SqliteRuntime;
  readonly #maxConnections: number;
  #state: InstanceState | null = null;
  /** The execute() in progress; read by the authorizer and progress callbacks. */
  #active: ExecContext | null = null;
  #resets = 0;

  private constructor(runtime: SqliteRuntime, maxConnections: number) {
    this.#runtime = runtime;
    this.build = runtime.build;
    this.#maxConnections = maxConnections;
  }

  static async create(options: SqlEngineOptions = {}): Promise<SqlEngine> {
    const runtime = await SqliteRuntime.create({
      ...(options.build !== undefined ? { build: options.build } : {}),
      ...(options.wasm !== undefined ? { wasm: options.wasm } : {}),
    });
    return new SqlEngine(runtime, Math.max(1, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS));
  }

  /** How many times the wasm instance was thrown away after a trap. */
  get resets(): number {
    return this.#resets;
  }

  /** Calls holding or waiting for the engine. */
  get queueLength(): number {
    return this.#runtime.queueLength;
  }

  /** Runs every statement against the same PageSource (one snapshot), serialized with other calls on this instance. */
  async execute(
    dbName: string,
    source: PageSource,
    statements: StatementInput[],
    limits: ExecLimits,
  ): Promise<ExecResult> {
    validateDbName(dbName);
    assertPageSourceShape(source);
    validateLimits(limits);
    if (!Array.isArray(statements) || statements.some((s) => typeof s?.sql !== "string")) {
      throw new TypeError("statements must be an array of { sql: string, params? }");
    }
    return this.#runtime.exclusive((instance) => this.#executeExclusive(instance, dbName, source, statements, limits));
  }

  async #executeExclusive(
    instance: SqliteInstance,
    dbName: string,
    source: PageSource,
    statements: StatementInput[],
    limits: ExecLimits,
  ): Promise<ExecResult> {
    let state: InstanceState;
    try {
      state = this.#stateFor(instance);
    } catch (error) {
      throw this.#reset(instance, error);
    }
    const ctx: ExecContext = {
      limits,
      deadline: Date.now() + limits.timeoutMs,
      timedOut: false,
      denial: null,
      rows: 0,
      bytes: 2,
    };
    state.vfs.pin(dbName, source);
    try {
      const results: StatementResult[] = [];
      try {
        const conn = await this.#connection(state, dbName, source.pageSize);
        this.#installHooks(state, conn);
        this.#active = ctx;
        for (const [index, input] of statements.entries()) {
          try {
            results.push(await this.#runStatement(state, conn, input, ctx));
          } catch (error) {
            throw error instanceof SqlError ? error.atStatement(index) : error;
          }
        }
      } catch (error) {
        throw await this.#settleFailure(state, dbName, error);
      } finally {
        // Only ours to clear: a call that outlived a reset must not blank a newer call's context.
        if (this.#active === ctx) this.#active = null;
      }
      // A failed read must never be hidden behind a result, even if SQLite carried on.
      const late = state.vfs.takeError(dbName);
      if (late) {
        await this.#dropConnection(state, dbName);
        throw late.error;
      }
      return { results, stats: state.vfs.stats(dbName) };
    } finally {
      // From here on the source is unreachable from this engine.
      state.vfs.unpin(dbName);
    }
  }

  #stateFor(instance: SqliteInstance): InstanceState {
    if (this.#state?.instance === instance) return this.#state;
    const vfs = new LtxVfs(instance.module);
    instance.sqlite3.vfs_register(vfs, false);
    this.#state = { instance, vfs, connections: new Map() };
    return this.#state;
  }

  /** Discards the instance and everything opened in it; returns the error to throw. */
  #reset(instance: SqliteInstance, error: unknown): SqlError {
    this.#runtime.discard(instance);
    if (this.#state?.instance === instance) this.#state = null;
    this.#resets++;
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new SqlError("SQL_ENGINE_RESET", `the SQLite engine failed and was reset (${detail})`, {
      cause: error,
    });
  }

  async #settleFailure(state: InstanceState, dbName: string, error: unknown): Promise<unknown> {
    if (isForeignError(error)) return this.#reset(state.instance, error);
    const kept = state.vfs.takeError(dbName);
    if (kept) {
      await this.#dropConnection(state, dbName);
      return kept.error;
    }
    const sqliteCode =
      error instanceof SqlError ? error.sqliteCode : error instanceof SQLite.SQLiteError ? sqliteCodeOf(error) : undefined;
    if (sqliteCode !== undefined && isConnectionSuspect(sqliteCode)) await this.#dropConnection(state, dbName);
    if (error instanceof SQLite.SQLiteError) {
      return new SqlError("SQL_ERROR", error.message, { sqliteCode: sqliteCodeOf(error), cause: error });
    }
    return error;
  }

  async #connection(state: InstanceState, dbName: string, pageSize: number): Promise<Connection> {
    const existing = state.connections.get(dbName);
    if (existing && existing.pageSize === pageSize) {
      state.connections.delete(dbName);
      state.connections.set(dbName, existing);
      return existing;
    }
    // A new page size means a rewritten file (VACUUM on the primary): start clean.
    if (existing) await this.#dropConnection(state, dbName);

    const { sqlite3 } = state.instance;
    const db = await sqlite3.open_v2(dbName, SQLite.SQLITE_OPEN_READONLY, state.vfs.name);
    try {
      sqlite3.limit(db, SQLite.SQLITE_LIMIT_ATTACHED, 0);
      sqlite3.limit(db, SQLite.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES);
      // The build defaults to file-backed temp storage, which the VFS refuses; sorts and temp b-trees stay in memory.
      await sqlite3.exec(db, "PRAGMA temp_store = MEMORY");
    } catch (error) {
      if (!isForeignError(error)) await sqlite3.close(db).catch(() => undefined);
      throw error;
    }
    const conn: Connection = { db, pageSize };
    state.connections.set(dbName, conn);
    for (const oldest of state.connections.keys()) {
      if (state.connections.size <= this.#maxConnections) break;
      await this.#dropConnection(state, oldest);
    }
    return conn;
  }

  async #dropConnection(state: InstanceState, dbName: string): Promise<void> {
    const conn = state.connections.get(dbName);
    if (!conn) return;
    state.connections.delete(dbName);
    try {
      await state.instance.sqlite3.close(conn.db);
    } catch (error) {
      if (isForeignError(error)) this.#reset(state.instance, error);
    }
  }

  /**
   * wa-sqlite keeps a single JS-side slot for the authorizer and for the
   * progress handler per module (setting them for one connection unregisters
   * the previous connection's), so both are re-installed on every execute.
   * The callbacks only read `#active`, so they are correct for any connection.
   */
  #installHooks(state: InstanceState, conn: Connection): void {
    const { sqlite3 } = state.instance;
    sqlite3.set_authorizer(conn.db, this.#authorize, null);
    sqlite3.progress_handler(conn.db, PROGRESS_OPS, this.#progress, null);
  }

  readonly #authorize = (_app: unknown, action: number, p3: string | null, p4: string | null): number => {
    const ctx = this.#active;
    if (ctx === null) return SQLite.SQLITE_DENY;
    const reason = readOnlyDenial(action, p3 ?? "", p4 ?? "");
    if (reason === null) return SQLite.SQLITE_OK;
    ctx.denial ??= reason;
    return SQLite.SQLITE_DENY;
  };

  /** Date.now() advances during CPU work in local workerd; in production it only moves across I/O. */
  readonly #progress = (): number => {
    const ctx = this.#active;
    if (ctx !== null && Date.now() > ctx.deadline) {
      ctx.timedOut = true;
      return 1;
    }
    return 0;
  };

  /** Prepares exactly one statement; anything but whitespace/comments/semicolons after it is an error. */
  async #prepareSingle(sqlite3: SQLiteAPI, db: number, sql: string, ctx: ExecContext): Promise<number> {
    ctx.denial = null;
    const iterator = sqlite3.statements(db, sql, { unscoped: true })[Symbol.asyncIterator]();
    let first: IteratorResult<number>;
    try {
      first = await iterator.next();
    } catch (error) {
      throw mapSqliteError(error, ctx, "prepare");
    }
    if (first.done) {
      throw new SqlError("SQL_SYNTAX", "no SQL statement to run");
    }
    const stmt = first.value;
    let failure: unknown;
    try {
      // Compile the tail: nothing (whitespace, comments, semicolons) is fine;
      // a statement, or even text that fails to compile, is a second statement.
      let tail: IteratorResult<number> | null;
      try {
        tail = await iterator.next();
      } catch (error) {
        if (isForeignError(error)) throw error;
        tail = null;
      }
      if (tail === null || !tail.done) {
        if (tail !== null) await sqlite3.finalize(tail.value);
        throw new SqlError("SQL_MULTIPLE_STATEMENTS", "only one SQL statement is allowed per statement entry");
      }
      ctx.denial = null;
      return stmt;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      await iterator.return?.();
      if (failure !== undefined && !isForeignError(failure)) await sqlite3.finalize(stmt);
    }
  }

  async #runStatement(
    state: InstanceState,
    conn: Connection,
    input: StatementInput,
    ctx: ExecContext,
  ): Promise<StatementResult> {
    const { sqlite3, module } = state.instance;
    const stmt = await this.#prepareSingle(sqlite3, conn.db, input.sql, ctx);
    const reserve = (bytes: number): void => {
      ctx.bytes += bytes;
      if (ctx.bytes > ctx.limits.maxResultBytes) {
        throw new SqlError("SQL_RESULT_TOO_LARGE", `result exceeds ${ctx.limits.maxResultBytes} bytes`);
      }
    };
    let failure: unknown;
    try {
      // Belt and braces behind the authorizer: SQLite's own verdict on the compiled program.
      if (module.ccall("sqlite3_stmt_readonly", "number", ["number"], [stmt]) === 0) {
        throw new SqlError("SQL_READONLY", "statement would modify the database");
      }
      bindParams(sqlite3, module, stmt, input.params);
      const columns = sqlite3.column_names(stmt);
      reserve(columnsSize(columns));
      const rows: SqlValue[][] = [];
      while ((await sqlite3.step(stmt)) === SQLite.SQLITE_ROW) {
        if (ctx.rows >= ctx.limits.maxRows) {
          throw new SqlError("SQL_TOO_MANY_ROWS", `result has more than ${ctx.limits.maxRows} rows`);
        }
        ctx.rows++;
        reserve(3);
        const row = new Array<SqlValue>(columns.length);
        for (let i = 0; i < columns.length; i++) row[i] = readColumn(sqlite3, module, stmt, i, reserve);
        rows.push(row);
      }
      return { columns, columnTypes: columns.map(() => null), rows, rowsRead: rows.length };
    } catch (error) {
      failure = error;
      throw mapSqliteError(error, ctx, "step");
    } finally {
      if (failure === undefined || !isForeignError(failure)) await sqlite3.finalize(stmt);
    }
  }
}
