/**
 * @module
 * What crosses the service binding between a consumer Worker (the client
 * module, `ltx-edge/d1`) and the `LtxEdge` entrypoint: one RPC, `query`, per
 * `all()`/`first()`/`raw()`/`run()` or `batch()`. Values travel by structured
 * clone, so INTEGER stays an exact bigint and BLOB a Uint8Array until the
 * client shapes them as D1 does. Types only: both sides import this file.
 */

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

export interface D1WireResult {
  columns: string[];
  rows: D1WireCell[][];
  rowsRead: number;
}

/** Metadata of one call (all its statements read one snapshot). */
export interface D1WireMeta {
  /** The TXID read, or null when no statement needed the database (only BEGIN/COMMIT…). */
  txid: number | null;
  servedFrom: "live" | "time_travel" | null;
  /** When the snapshot's newest LTX file was written (ms since the epoch), if known. */
  positionTime: number | null;
  replicaState: string | null;
  /** ms since the Durable Object last confirmed the live position (null for time travel or before a poll). */
  stalenessMs: number | null;
  /** Database size at that TXID, bytes. */
  sizeBytes: number;
  durationMs: number;
  sqlMs: number;
  indexMs: number;
  engineCalls: number;
  storageRequests: number;
  cacheOps: number;
  bytesFetched: number;
  isolateHits: number;
  cacheHits: number;
  cacheMisses: number;
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
      ok: true;
      /** One per statement; transaction statements have no columns and no rows. */
      results: D1WireResult[];
      meta: D1WireMeta;
      /** Pass back as `options.state` while `inTransaction`. */
      state: string;
      inTransaction: boolean;
    }
  | { ok: false; error: D1WireError };

/** The RPC surface of the `LtxEdge` entrypoint as a consumer sees it. */
export interface LtxEdgeRpc {
  query(db: string, statements: D1WireStatement[], options?: D1WireOptions): Promise<D1WireReply>;
}
