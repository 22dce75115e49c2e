/**
 * @module
 * The D1 shapes `ltx-edge/d1` implements, declared here so the package's
 * types stand alone (a consumer may use `wrangler types` instead of
 * `@cloudflare/workers-types`). They are written to match Cloudflare's
 * declarations member for member: the objects `createD1` returns are
 * assignable to `D1Database`, `D1DatabaseSession` and `D1PreparedStatement`
 * of `@cloudflare/workers-types` (test/workers/d1-binding.test.ts checks it),
 * so ORMs typed against those accept them.
 */

/** D1's result metadata. Reads never change anything: `changes`, `last_row_id`, `rows_written` are 0. */
export interface D1Meta {
  duration: number;
  size_after: number;
  rows_read: number;
  rows_written: number;
  last_row_id: number;
  changed_db: boolean;
  changes: number;
  served_by_region?: string;
  served_by_colo?: string;
  served_by_primary?: boolean;
  timings?: { sql_duration_ms: number };
  total_attempts?: number;
}

/** What ltx-edge adds to D1's metadata: where the snapshot came from and what it cost (for the whole call). */
export interface LtxMeta {
  served_by: "ltx-edge";
  /** The TXID read (a number), and as Litestream prints it; also the session bookmark. */
  txid: number | null;
  txid_hex: string | null;
  /** "live", or "time_travel" when an open transaction's snapshot is no longer the live one. */
  served_from: "live" | "time_travel" | null;
  /** When the snapshot's newest LTX file was written (ISO 8601). */
  position_time: string | null;
  replica_state: string | null;
  /** ms since the Durable Object last confirmed the live position (null for time travel). */
  staleness_ms: number | null;
  index_ms: number;
  storage_requests: number;
  cache_ops: number;
  bytes_fetched: number;
  isolate_hits: number;
  cache_hits: number;
  cache_misses: number;
}

export interface D1Response {
  success: true;
  meta: D1Meta & Record<string, unknown>;
  error?: never;
}

export type D1Result<T = unknown> = D1Response & { results: T[] };

export interface D1ExecResult {
  count: number;
  duration: number;
}

export type D1SessionConstraint = "first-primary" | "first-unconstrained";

/** A TXID as 16 hex digits (what getBookmark() returns); `0x…` and decimal are accepted too. */
export type D1SessionBookmark = string;

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  first<T = unknown>(colName: string): Promise<T | null>;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  run<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  raw<T = unknown[]>(options: { columnNames: true }): Promise<[string[], ...T[]]>;
  raw<T = unknown[]>(options?: { columnNames?: false }): Promise<T[]>;
}

export interface D1DatabaseSession {
  prepare(query: string): D1PreparedStatement;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  /** The newest TXID this session has read (or was given), as 16 hex digits; null before its first read. */
  getBookmark(): D1SessionBookmark | null;
}

export interface D1Database {
  prepare(query: string): D1PreparedStatement;
  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]>;
  /** Always fails: exec() runs SQL scripts, and a replica is read-only. */
  exec(query: string): Promise<D1ExecResult>;
  withSession(constraintOrBookmark?: D1SessionBookmark | D1SessionConstraint): D1DatabaseSession;
  /** Always fails (D1 deprecated it too): copy a database with `ltx-edge restore`. */
  dump(): Promise<ArrayBuffer>;
}

export interface CreateD1Options {
  /**
   * How INTEGER values come back: "number" (D1's behaviour; beyond ±2^53 they
   * lose precision, as in D1) or "bigint" (every INTEGER exact).
   */
  integers?: "number" | "bigint";
  /** The longest a session waits for its bookmark, ms (it can only lower the deployment's max_wait_ms). */
  maxWaitMs?: number;
}
