/**
 * @module
 * What crosses the service binding between a consumer Worker (the client
 * module, `ltx-edge/d1`) and the `LtxEdge` entrypoint: one RPC, `query`, per
 * `all()`/`first()`/`raw()`/`run()` or `batch()`. Values travel by structured
 * clone, so INTEGER stays an exact bigint and BLOB a Uint8Array until the
 * client shapes them as D1 does. Types only: both sides import this file.
 */
import type { D1Meta, LtxMeta } from "./types.ts";

/** A bound parameter: D1's types plus bigint (an exact INTEGER). */
export type D1WireParam = null | number | bigint | string | boolean | Uint8Array;

/** A SQLite value as the engine returns it: INTEGER is a bigint, REAL a number. */
export type D1WireCell = null | number | bigint | string | Uint8Array;

export interface D1WireStatement {
  sql: string;
  /** Positional parameters (`?`, `?NNN`), as `bind(...)` received them. */
  params: D1WireParam[];
}

export interface D1WireOptions {
  /** The state of an open transaction (opaque, from the previous reply); null or absent outside one. */
  state?: string | null;
  /** A bookmark (TXID): read at least this state, waiting for the replica to reach it. */
  minTxid?: string | null;
  /** Read the newest state in storage: the replica is polled first (`withSession("first-primary")`). */
  newest?: boolean;
  /** Wait at most this long for `minTxid` (ms); it can only lower the deployment's `max_wait_ms`. */
  maxWaitMs?: number;
}

/**
 * One statement's result in D1's own interchange shape (what D1 answers its
 * binding with `resultsFormat=ROWS_AND_COLUMNS`): rows as arrays next to the
 * column names, and D1's metadata plus ltx-edge's.
 */
export interface D1WireResult {
  success: true;
  meta: D1Meta & LtxMeta;
  results: { columns: string[]; rows: D1WireCell[][] };
}

export interface D1WireError {
  /** ltx-edge's stable code (SQL_READONLY, SQL_SYNTAX, WAIT_TIMEOUT, …). */
  code: string;
  message: string;
  /** The statement that failed, or null when the call as a whole failed. */
  statementIndex: number | null;
}

export type D1WireReply =
  | {
      success: true;
      /** One per statement, all read at one TXID; transaction statements have no columns and no rows. */
      results: D1WireResult[];
      /** Pass back as `options.state` while `inTransaction`. */
      state: string;
      inTransaction: boolean;
    }
  | { success: false; error: D1WireError };

/** The RPC surface of the `LtxEdge` entrypoint as a consumer sees it. */
export interface LtxEdgeRpc {
  query(db: string, statements: D1WireStatement[], options?: D1WireOptions): Promise<D1WireReply>;
}
