/**
 * @module
 * `ltx-edge/d1`: a replica behind the `LtxEdge` service binding, as a D1
 * database. Code written for D1 — and ORMs' D1 drivers (drizzle-orm/d1,
 * kysely-d1) — reads it unchanged.
 *
 * @example
 * ```ts
 * // wrangler.toml of the consumer:
 * //   [[services]]
 * //   binding = "LTX"
 * //   service = "ltx-edge"
 * //   entrypoint = "LtxEdge"
 * import { createD1 } from "ltx-edge/d1";
 *
 * const db = createD1(env.LTX, "app");
 * const user = await db.prepare("SELECT * FROM users WHERE id = ?").bind(7).first();
 * const session = db.withSession(request.headers.get("x-bookmark") ?? "first-unconstrained");
 * const { results } = await session.prepare("SELECT * FROM orders WHERE user_id = ?").bind(7).all();
 * response.headers.set("x-bookmark", session.getBookmark() ?? "");
 * ```
 *
 * Reads only: writes fail with `D1_ERROR: … read-only replica …`. Each
 * `all()`/`first()`/`raw()`/`run()` and each `batch()` is one RPC and reads
 * one snapshot. `BEGIN … COMMIT` (as drizzle's `db.transaction()` sends it)
 * pins the snapshot of its first read until COMMIT or ROLLBACK; that state
 * lives in the object `createD1` returned, so create one per request.
 */
import { formatTxid, parseTxid } from "../ltx/txid.ts";
import type {
  CreateD1Options,
  D1Database,
  D1DatabaseSession,
  D1ExecResult,
  D1Meta,
  D1PreparedStatement,
  D1Result,
  D1SessionBookmark,
  D1SessionConstraint,
  LtxMeta,
} from "./types.ts";
import type { D1WireCell, D1WireError, D1WireOptions, D1WireParam, D1WireResult, D1WireStatement, LtxEdgeRpc } from "./wire.ts";

export type * from "./types.ts";

/** The service binding to the `LtxEdge` entrypoint; a binding typed as a plain `Fetcher` is accepted too. */
export type LtxEdgeBinding = LtxEdgeRpc | { fetch(...args: never[]): unknown };

/** An error as D1 throws them (`D1_ERROR: <message>`), with ltx-edge's stable code (SQL_READONLY, WAIT_TIMEOUT, …). */
export class D1Error extends Error {
  readonly code: string;
  /** The statement of a batch that failed, when one did. */
  readonly statementIndex: number | null;
  constructor(kind: "D1_ERROR" | "D1_TYPE_ERROR" | "D1_COLUMN_NOTFOUND" | "D1_EXEC_ERROR" | "D1_DUMP_ERROR", message: string, code: string, statementIndex: number | null = null) {
    super(`${kind}: ${message}`, { cause: new Error(message) });
    this.name = "Error";
    this.code = code;
    this.statementIndex = statementIndex;
  }
}

type Ok = Extract<Awaited<ReturnType<LtxEdgeRpc["query"]>>, { success: true }>;

interface SessionAnchor {
  /** The newest TXID read or given; later calls read at least this. */
  bookmark: number | null;
  /** "first-primary": the first read polls the replica for its newest TXID. */
  newestFirst: boolean;
}

/** The state every statement of one database object or session shares: an open transaction, a bookmark. */
class Connection {
  /** The state of an open transaction, as the last reply gave it; null outside one. */
  private state: string | null = null;

  constructor(
    private readonly rpc: LtxEdgeRpc,
    private readonly db: string,
    readonly options: CreateD1Options,
    readonly session: SessionAnchor | null,
  ) {}

  async call(statements: D1WireStatement[]): Promise<Ok> {
    const opts: D1WireOptions = { state: this.state };
    const s = this.session;
    if (s?.bookmark != null) opts.minTxid = formatTxid(s.bookmark);
    else if (s?.newestFirst) opts.newest = true;
    if (this.options.maxWaitMs !== undefined) opts.maxWaitMs = this.options.maxWaitMs;
    let reply: Awaited<ReturnType<LtxEdgeRpc["query"]>>;
    try {
      reply = await this.rpc.query(this.db, statements, opts);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new D1Error("D1_ERROR", `the call to ltx-edge's LtxEdge entrypoint failed (bind it with entrypoint = "LtxEdge"): ${why}`, "BINDING_ERROR");
    }
    if (!reply.success) throw errorOf(reply.error);
    this.state = reply.inTransaction ? reply.state : null;
    const txid = reply.results[0]?.meta.txid ?? null;
    if (s && txid !== null && (s.bookmark === null || txid > s.bookmark)) s.bookmark = txid;
    return reply;
  }
}

function errorOf(e: D1WireError): D1Error {
  return new D1Error("D1_ERROR", `${e.message}: ${e.code}`, e.code, e.statementIndex);
}

/** D1's binding rules (plus bigint, bound as an exact INTEGER); anything else is a D1_TYPE_ERROR, thrown by bind(). */
function toParam(v: unknown): D1WireParam {
  if (v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean" || typeof v === "bigint") return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  if (Array.isArray(v) && v.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b < 256)) return Uint8Array.from(v as number[]);
  const shown = typeof v === "object" ? Object.prototype.toString.call(v) : String(v);
  throw new D1Error("D1_TYPE_ERROR", `Type '${typeof v}' not supported for value '${shown}'`, "SQL_BAD_PARAMS");
}

/** A value as D1 returns it: INTEGER as a number (or bigint if asked), BLOB as an array of bytes. */
function toValue(v: D1WireCell, integers: "number" | "bigint"): unknown {
  if (typeof v === "bigint") return integers === "bigint" ? v : Number(v);
  if (v instanceof Uint8Array) return Array.from(v);
  return v;
}

function rowObject(columns: string[], row: D1WireCell[], integers: "number" | "bigint"): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) o[columns[i] as string] = toValue(row[i] ?? null, integers);
  return o;
}

function resultOf<T>(r: D1WireResult, integers: "number" | "bigint"): D1Result<T> {
  const { columns, rows } = r.results;
  return { success: true, meta: r.meta as D1Meta & LtxMeta & Record<string, unknown>, results: rows.map((row) => rowObject(columns, row, integers) as T) };
}

class PreparedStatement implements D1PreparedStatement {
  constructor(
    private readonly conn: Connection,
    readonly sql: string,
    readonly params: D1WireParam[] = [],
  ) {}

  bind(...values: unknown[]): D1PreparedStatement {
    return new PreparedStatement(this.conn, this.sql, values.map(toParam));
  }

  private async one(): Promise<D1WireResult> {
    const reply = await this.conn.call([{ sql: this.sql, params: this.params }]);
    const r = reply.results[0];
    if (!r) throw new D1Error("D1_ERROR", "ltx-edge answered without a result", "INTERNAL");
    return r;
  }

  first<T = unknown>(colName: string): Promise<T | null>;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  async first<T>(colName?: string): Promise<T | null> {
    const { columns, rows } = (await this.one()).results;
    const row = rows[0];
    if (row === undefined) return null;
    const o = rowObject(columns, row, this.conn.options.integers ?? "number");
    if (colName === undefined) return o as T;
    if (!(colName in o)) throw new D1Error("D1_COLUMN_NOTFOUND", `Column not found (${colName})`, "COLUMN_NOT_FOUND");
    return o[colName] as T;
  }

  async run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.all<T>();
  }

  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return resultOf<T>(await this.one(), this.conn.options.integers ?? "number");
  }

  raw<T = unknown[]>(options: { columnNames: true }): Promise<[string[], ...T[]]>;
  raw<T = unknown[]>(options?: { columnNames?: false }): Promise<T[]>;
  async raw<T>(options?: { columnNames?: boolean }): Promise<[string[], ...T[]] | T[]> {
    const { columns, rows } = (await this.one()).results;
    const integers = this.conn.options.integers ?? "number";
    const out = rows.map((row) => row.map((v) => toValue(v, integers)) as T);
    return options?.columnNames ? [columns, ...out] : out;
  }
}

async function batchOn<T>(conn: Connection, statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
  if (!Array.isArray(statements)) throw new D1Error("D1_ERROR", "batch() takes an array of prepared statements", "BAD_REQUEST");
  if (statements.length === 0) return [];
  const wire = statements.map((s, i) => {
    if (!(s instanceof PreparedStatement)) throw new D1Error("D1_ERROR", `batch()[${i}] is not a statement prepared by ltx-edge/d1`, "BAD_REQUEST", i);
    return { sql: s.sql, params: s.params };
  });
  const reply = await conn.call(wire);
  return reply.results.map((r) => resultOf<T>(r, conn.options.integers ?? "number"));
}

class Session implements D1DatabaseSession {
  constructor(private readonly conn: Connection) {}

  prepare(query: string): D1PreparedStatement {
    return new PreparedStatement(this.conn, query);
  }

  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    return batchOn<T>(this.conn, statements);
  }

  getBookmark(): D1SessionBookmark | null {
    const b = this.conn.session?.bookmark ?? null;
    return b === null ? null : formatTxid(b);
  }
}

class Database implements D1Database {
  private readonly conn: Connection;

  constructor(
    private readonly rpc: LtxEdgeRpc,
    private readonly db: string,
    private readonly options: CreateD1Options,
  ) {
    this.conn = new Connection(rpc, db, options, null);
  }

  prepare(query: string): D1PreparedStatement {
    return new PreparedStatement(this.conn, query);
  }

  batch<T = unknown>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
    return batchOn<T>(this.conn, statements);
  }

  async exec(query: string): Promise<D1ExecResult> {
    const line = String(query).trim().split("\n")[0] ?? "";
    throw new D1Error(
      "D1_EXEC_ERROR",
      `Error in line 1: ${line}: ltx-edge serves a read-only replica: exec() runs SQL scripts; read with prepare().all() or batch()`,
      "SQL_READONLY",
    );
  }

  withSession(constraintOrBookmark: D1SessionBookmark | D1SessionConstraint = "first-unconstrained"): D1DatabaseSession {
    const anchor: SessionAnchor = { bookmark: null, newestFirst: constraintOrBookmark === "first-primary" };
    if (constraintOrBookmark !== "first-primary" && constraintOrBookmark !== "first-unconstrained") {
      const txid = typeof constraintOrBookmark === "string" ? parseTxid(constraintOrBookmark) : null;
      if (txid === null) {
        throw new D1Error("D1_ERROR", `invalid bookmark ${JSON.stringify(constraintOrBookmark)}: give "first-primary", "first-unconstrained" or a bookmark from getBookmark() (a TXID)`, "INVALID_TXID");
      }
      anchor.bookmark = txid;
    }
    return new Session(new Connection(this.rpc, this.db, this.options, anchor));
  }

  async dump(): Promise<ArrayBuffer> {
    throw new D1Error("D1_DUMP_ERROR", "dump() is not supported; copy the database with `ltx-edge restore <replica> <out.db>`", "NOT_SUPPORTED");
  }
}

/**
 * A D1 database reading `databaseName` through `binding` (the service binding
 * to ltx-edge's `LtxEdge` entrypoint). Create one per request: an open
 * transaction's state lives in it.
 */
export function createD1(binding: LtxEdgeBinding, databaseName: string, options: CreateD1Options = {}): D1Database {
  if ((typeof binding !== "object" && typeof binding !== "function") || binding === null) throw new TypeError("createD1: binding must be the service binding to ltx-edge (entrypoint = \"LtxEdge\")");
  if (typeof databaseName !== "string" || databaseName === "") throw new TypeError("createD1: databaseName must be a non-empty string");
  const integers = options.integers ?? "number";
  if (integers !== "number" && integers !== "bigint") throw new TypeError('createD1: options.integers must be "number" or "bigint"');
  if (options.maxWaitMs !== undefined && !(Number.isFinite(options.maxWaitMs) && options.maxWaitMs >= 0)) {
    throw new TypeError("createD1: options.maxWaitMs must be a non-negative number of milliseconds");
  }
  // Any property of an RPC stub is callable, so the binding is taken as it is; a wrong one fails on the first call.
  return new Database(binding as LtxEdgeRpc, databaseName, { ...options, integers });
}
