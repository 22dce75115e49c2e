/**
 * @module
 * EngineInstance: one wa-sqlite instance with its LTX VFS, its open
 * connections (an LRU by database name) and the statement loop.
 *
 * Ownership: an instance is used by one execute() at a time — the holder of
 * its slot in the engine's lock. Everything a call touches (the VFS pins,
 * the connections, `#active` read by the authorizer and progress callbacks)
 * belongs to this instance, so a holder that outlived its slot (abandoned
 * after stalling) can only ever touch the instance it started on, which the
 * engine has already discarded.
 */

import * as SQLite from "@journeyapps/wa-sqlite";
import { LtxVfs } from "../vfs/ltx-vfs.ts";
import type { PageSource } from "../vfs/page-source.ts";
import { type SqliteBuild, type SqliteInstance, type SqliteWasmProvider, instantiateSqlite, limitHeap } from "../vfs/sqlite-module.ts";
import { readOnlyDenial } from "./authorizer.ts";
import { FastLaneMiss, SqlError } from "./errors.ts";
import { type ExecContext, isForeignError, mapSqliteError, progressVerdict, resetError, sqliteCodeOf, timeoutError } from "./exec-guards.ts";
import type { ExecResult, SqlValue, StatementInput, StatementResult } from "./types.ts";
import { bindParams, columnsSize, readColumn } from "./values.ts";
import { StatementCache, isPragma } from "./statement-cache.ts";
import { PROGRESS_OPS } from "./vm-budget.ts";

export interface InstanceOptions {
  build: SqliteBuild;
  wasm: SqliteWasmProvider | undefined;
  /** SQLite's hard heap limit, bytes. */
  heapLimitBytes: number;
  /** Open connections kept (LRU). */
  maxConnections: number;
}

interface Connection {
  readonly db: number;
  readonly pageSize: number;
  /** Statements that ran to completion, by SQL text (statement-cache.ts). */
  readonly stmts: StatementCache;
}

/** Prepared statements kept per connection (each a few KiB of the SQLite heap). */
const STATEMENTS_PER_CONNECTION = 32;

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

export class EngineInstance {
  readonly sqlite: SqliteInstance;
  readonly heapLimitBytes: number;
  readonly #vfs: LtxVfs;
  readonly #maxConnections: number;
  /** Page cache per connection, KiB: a quarter of the heap shared by all connections. */
  readonly #cacheKiB: number;
  /** Insertion order is recency order (oldest first). */
  readonly #connections = new Map<string, Connection>();
  /** The call in progress; read by the authorizer and progress callbacks. */
  #active: ExecContext | null = null;
  /** The connection the module's single authorizer/progress slot is installed for (see #installHooks). */
  #hooked: number | null = null;
  #broken: unknown = null;

  private constructor(sqlite: SqliteInstance, options: InstanceOptions) {
    this.sqlite = sqlite;
    this.heapLimitBytes = options.heapLimitBytes;
    this.#maxConnections = options.maxConnections;
    this.#cacheKiB = Math.max(64, Math.floor(options.heapLimitBytes / 4 / options.maxConnections / 1024));
    // The synchronous build cannot suspend: its VFS answers from memory or misses.
    this.#vfs = new LtxVfs(sqlite.module, { memoryOnly: sqlite.build === "sync" });
    sqlite.sqlite3.vfs_register(this.#vfs, false);
  }

  static async create(options: InstanceOptions, generation: number): Promise<EngineInstance> {
    const sqlite = await instantiateSqlite(options.build, generation, options.wasm);
    limitHeap(sqlite, options.heapLimitBytes);
    return new EngineInstance(sqlite, options);
  }

  /** Bytes of wasm linear memory (it grows and never shrinks). */
  get memoryBytes(): number {
    return this.sqlite.module.HEAPU8.byteLength;
  }

  /** The trap that made this instance unusable, or null. */
  get broken(): unknown {
    return this.#broken;
  }

  /** Runs every statement against `source` (one snapshot). The caller holds this instance. */
  async run(dbName: string, source: PageSource, statements: StatementInput[], ctx: ExecContext): Promise<ExecResult> {
    if (this.#broken !== null) throw resetError(this.#broken, "other");
    // The wait for the engine may have used up the whole deadline: no work at all then.
    if (Date.now() > ctx.deadline) throw timeoutError(ctx);
    this.#vfs.pin(dbName, source);
    try {
      const results: StatementResult[] = [];
      try {
        const conn = await this.#connection(dbName, source.pageSize);
        this.#installHooks(conn);
        this.#active = ctx;
        for (const [index, input] of statements.entries()) {
          if (Date.now() > ctx.deadline) throw timeoutError(ctx).atStatement(index);
          try {
            results.push(await this.#runStatement(conn, input, ctx));
          } catch (error) {
            throw error instanceof SqlError ? error.atStatement(index) : error;
          }
        }
      } catch (error) {
        throw await this.#settleFailure(dbName, error);
      } finally {
        if (this.#active === ctx) this.#active = null;
      }
      // A miss (memory-only VFS) voids the attempt, whatever SQLite made of the IOERR.
      if (this.#vfs.missed(dbName)) throw new FastLaneMiss();
      // A failed read must never be hidden behind a result, even if SQLite carried on.
      const late = this.#vfs.takeError(dbName);
      if (late) {
        await this.#dropConnection(dbName);
        throw late.error;
      }
      return { results, stats: { ...this.#vfs.stats(dbName), vmSteps: ctx.ticks * PROGRESS_OPS } };
    } finally {
      // From here on the source is unreachable from this instance.
      this.#vfs.unpin(dbName);
    }
  }

  /** Marks the instance unusable after a trap; returns the error for the caller. */
  #trap(error: unknown, phase: "prepare" | "other" = "other"): SqlError {
    this.#broken ??= error;
    return resetError(error, phase);
  }

  async #settleFailure(dbName: string, error: unknown): Promise<unknown> {
    if (isForeignError(error)) return this.#trap(error);
    if (this.#broken !== null) return error;
    // The connection stays: a miss is not its fault, and its page cache is the fast lane's best asset.
    if (this.#vfs.missed(dbName)) return new FastLaneMiss();
    const kept = this.#vfs.takeError(dbName);
    if (kept) {
      await this.#dropConnection(dbName);
      return kept.error;
    }
    const sqliteCode =
      error instanceof SqlError ? error.sqliteCode : error instanceof SQLite.SQLiteError ? sqliteCodeOf(error) : undefined;
    if (sqliteCode !== undefined && isConnectionSuspect(sqliteCode)) await this.#dropConnection(dbName);
    if (error instanceof SQLite.SQLiteError) {
      return new SqlError("SQL_ERROR", error.message, { sqliteCode: sqliteCodeOf(error), cause: error });
    }
    return error;
  }

  async #connection(dbName: string, pageSize: number): Promise<Connection> {
    const existing = this.#connections.get(dbName);
    if (existing && existing.pageSize === pageSize) {
      this.#connections.delete(dbName);
      this.#connections.set(dbName, existing);
      return existing;
    }
    // A new page size means a rewritten file (VACUUM on the primary): start clean.
    if (existing) await this.#dropConnection(dbName);

    const { sqlite3 } = this.sqlite;
    const db = await sqlite3.open_v2(dbName, SQLite.SQLITE_OPEN_READONLY, this.#vfs.name);
    try {
      sqlite3.limit(db, SQLite.SQLITE_LIMIT_ATTACHED, 0);
      // No single value may take more than half the heap: bigger ones could only end in NOMEM.
      sqlite3.limit(db, SQLite.SQLITE_LIMIT_LENGTH, Math.floor(this.heapLimitBytes / 2));
      // The build defaults to file-backed temp storage, which the VFS refuses; sorts and temp
      // b-trees stay in memory, under the heap limit. The page cache gets a fixed share of it.
      await sqlite3.exec(db, `PRAGMA temp_store = MEMORY; PRAGMA cache_size = -${this.#cacheKiB}`);
    } catch (error) {
      if (!isForeignError(error)) await sqlite3.close(db).catch(() => undefined);
      throw error;
    }
    const conn: Connection = { db, pageSize, stmts: new StatementCache(STATEMENTS_PER_CONNECTION) };
    this.#connections.set(dbName, conn);
    for (const oldest of this.#connections.keys()) {
      if (this.#connections.size <= this.#maxConnections) break;
      await this.#dropConnection(oldest);
    }
    return conn;
  }

  async #dropConnection(dbName: string): Promise<void> {
    const conn = this.#connections.get(dbName);
    if (!conn) return;
    this.#connections.delete(dbName);
    if (this.#hooked === conn.db) this.#hooked = null;
    try {
      // A connection with live statements cannot close.
      for (const stmt of conn.stmts.drain()) await this.sqlite.sqlite3.finalize(stmt);
      await this.sqlite.sqlite3.close(conn.db);
    } catch (error) {
      if (isForeignError(error)) this.#trap(error);
    }
  }

  /**
   * wa-sqlite keeps a single JS-side slot for the authorizer and for the
   * progress handler per module (setting them for one connection unregisters
   * the previous connection's), so both are re-installed whenever a call
   * uses another connection than the last one. The callbacks only read
   * `#active`, so they are right for any connection.
   */
  #installHooks(conn: Connection): void {
    // Still installed for this connection from its last call: nothing to redo (a tiny query's setup).
    if (this.#hooked === conn.db) return;
    this.#hooked = conn.db;
    const { sqlite3 } = this.sqlite;
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

  readonly #progress = (): number => {
    const ctx = this.#active;
    return ctx === null ? 0 : progressVerdict(ctx);
  };

  /** Prepares exactly one statement; anything but whitespace/comments/semicolons after it is an error. */
  async #prepareSingle(db: number, sql: string, ctx: ExecContext): Promise<number> {
    const { sqlite3 } = this.sqlite;
    ctx.denial = null;
    const iterator = sqlite3.statements(db, sql, { unscoped: true })[Symbol.asyncIterator]();
    let first: IteratorResult<number>;
    try {
      first = await iterator.next();
    } catch (error) {
      throw isForeignError(error) ? this.#trap(error, "prepare") : mapSqliteError(error, ctx, "prepare");
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
        if (isForeignError(error)) throw this.#trap(error, "prepare");
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
      // After a trap nothing in this instance may be touched again.
      if (this.#broken === null) {
        await iterator.return?.();
        if (failure !== undefined) await sqlite3.finalize(stmt);
      }
    }
  }

  async #runStatement(conn: Connection, input: StatementInput, ctx: ExecContext): Promise<StatementResult> {
    const { sqlite3, module } = this.sqlite;
    // A statement that ran before on this connection skips parsing and code generation.
    const kept = conn.stmts.take(input.sql);
    const stmt = kept ?? (await this.#prepareSingle(conn.db, input.sql, ctx));
    // PRAGMAs are not kept: some answer from values fixed when they were prepared.
    const keepable = kept !== undefined || !isPragma(input.sql);
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
      let rc = await sqlite3.step(stmt);
      // Columns only after the first step: a statement whose schema changed since it was
      // prepared (ALTER TABLE on the primary, a newer snapshot) is prepared again inside it.
      const columns = sqlite3.column_names(stmt);
      reserve(columnsSize(columns));
      const rows: SqlValue[][] = [];
      for (; rc === SQLite.SQLITE_ROW; rc = await sqlite3.step(stmt)) {
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
      if ((failure === undefined || !isForeignError(failure)) && this.#broken === null) {
        if (failure === undefined && keepable) await this.#keep(conn, input.sql, stmt);
        else await sqlite3.finalize(stmt);
      }
    }
  }

  /** Gives a statement that ran to completion back to its connection's cache, reset; finalizes what that evicts. */
  async #keep(conn: Connection, sql: string, stmt: number): Promise<void> {
    const { sqlite3 } = this.sqlite;
    try {
      await sqlite3.reset(stmt);
      sqlite3.clear_bindings(stmt);
    } catch (error) {
      if (!isForeignError(error)) await sqlite3.finalize(stmt);
      return;
    }
    for (const old of conn.stmts.give(sql, stmt)) await sqlite3.finalize(old);
  }
}
