/**
 * @module
 * The Hrana-over-HTTP (JSON) request structures this server accepts, parsed
 * from untrusted JSON. Unknown fields are ignored (the spec's forward
 * compatibility rule). A malformed structure fails the whole pipeline with
 * 400 BAD_REQUEST; argument values are checked later, per statement, so a bad
 * value fails only its own statement.
 */
import { ApiError } from "../api/errors.ts";

export interface StmtReq {
  sql: string | null;
  sqlId: number | null;
  /** Raw Hrana values, converted when the statement runs. */
  args: unknown[];
  namedArgs: { name: string; value: unknown }[];
  wantRows: boolean;
  /** libSQL extension: the client has seen this replication index (our TXID). */
  replicationIndex: number | null;
}

export type BatchCond =
  | { type: "ok"; step: number }
  | { type: "error"; step: number }
  | { type: "not"; cond: BatchCond }
  | { type: "and"; conds: BatchCond[] }
  | { type: "or"; conds: BatchCond[] }
  | { type: "is_autocommit" };

export interface BatchStep {
  condition: BatchCond | null;
  stmt: StmtReq;
}

export type StreamRequest =
  | { type: "close" }
  | { type: "execute"; stmt: StmtReq }
  | { type: "batch"; steps: BatchStep[]; replicationIndex: number | null }
  | { type: "sequence"; sql: string | null; sqlId: number | null; replicationIndex: number | null }
  | { type: "describe"; sql: string | null; sqlId: number | null; replicationIndex: number | null }
  | { type: "store_sql"; sqlId: number; sql: string }
  | { type: "close_sql"; sqlId: number }
  | { type: "get_autocommit" };

export interface PipelineReq {
  baton: string | null;
  requests: StreamRequest[];
}

/** Deepest nesting of batch conditions accepted (the JSON is untrusted; recursion must stay shallow). */
const MAX_COND_DEPTH = 32;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(message: string): ApiError {
  return new ApiError("BAD_REQUEST", message);
}

function int32(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) throw bad(`${where} must be a 32-bit integer`);
  return v;
}

function optString(v: unknown, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw bad(`${where} must be a string`);
  return v;
}

function optInt32(v: unknown, where: string): number | null {
  return v === undefined || v === null ? null : int32(v, where);
}

/**
 * libSQL's `replication_index`: a u64 as a decimal string. Only decimal is
 * accepted here: 16 digits must never be read as Litestream's hex notation.
 */
export function parseReplicationIndex(v: unknown, where: string): number | null {
  if (v === undefined || v === null) return null;
  const n = typeof v === "string" && /^\d{1,16}$/.test(v) ? Number(v) : typeof v === "number" ? v : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ApiError("INVALID_TXID", `${where} must be a replication index (a TXID as a decimal string), got ${JSON.stringify(v)}`);
  }
  return n === 0 ? null : n;
}

function sqlOrId(o: Record<string, unknown>, where: string): { sql: string | null; sqlId: number | null } {
  const sql = optString(o.sql, `${where}.sql`);
  const sqlId = optInt32(o.sql_id, `${where}.sql_id`);
  if ((sql === null) === (sqlId === null)) throw bad(`${where}: give exactly one of "sql" and "sql_id"`);
  return { sql, sqlId };
}

function stmt(v: unknown, where: string): StmtReq {
  if (!isRecord(v)) throw bad(`${where} must be an object`);
  const { sql, sqlId } = sqlOrId(v, where);
  const args = v.args === undefined || v.args === null ? [] : v.args;
  if (!Array.isArray(args)) throw bad(`${where}.args must be an array`);
  const named = v.named_args === undefined || v.named_args === null ? [] : v.named_args;
  if (!Array.isArray(named)) throw bad(`${where}.named_args must be an array`);
  const namedArgs = named.map((a: unknown, i) => {
    if (!isRecord(a) || typeof a.name !== "string") throw bad(`${where}.named_args[${i}] must be {"name": string, "value": …}`);
    return { name: a.name, value: a.value };
  });
  const wantRows = v.want_rows === undefined || v.want_rows === null ? true : v.want_rows;
  if (typeof wantRows !== "boolean") throw bad(`${where}.want_rows must be a boolean`);
  return { sql, sqlId, args, namedArgs, wantRows, replicationIndex: parseReplicationIndex(v.replication_index, `${where}.replication_index`) };
}

function cond(v: unknown, stepIndex: number, where: string, depth: number): BatchCond {
  if (depth > MAX_COND_DEPTH) throw bad(`${where}: conditions nest deeper than ${MAX_COND_DEPTH}`);
  if (!isRecord(v) || typeof v.type !== "string") throw bad(`${where} must be a condition object with "type"`);
  switch (v.type) {
    case "ok":
    case "error": {
      const step = v.step;
      if (typeof step !== "number" || !Number.isInteger(step) || step < 0 || step >= stepIndex) {
        throw bad(`${where}.step must be the index of an earlier step (0…${stepIndex - 1})`);
      }
      return { type: v.type, step };
    }
    case "not":
      return { type: "not", cond: cond(v.cond, stepIndex, `${where}.cond`, depth + 1) };
    case "and":
    case "or": {
      if (!Array.isArray(v.conds)) throw bad(`${where}.conds must be an array`);
      const t = v.type;
      return { type: t, conds: v.conds.map((c: unknown, i) => cond(c, stepIndex, `${where}.conds[${i}]`, depth + 1)) };
    }
    case "is_autocommit":
      return { type: "is_autocommit" };
    default:
      throw bad(`${where}: unknown condition type ${JSON.stringify(v.type)}`);
  }
}

function request(v: unknown, where: string): StreamRequest {
  if (!isRecord(v) || typeof v.type !== "string") throw bad(`${where} must be a request object with "type"`);
  switch (v.type) {
    case "close":
      return { type: "close" };
    case "get_autocommit":
      return { type: "get_autocommit" };
    case "execute":
      return { type: "execute", stmt: stmt(v.stmt, `${where}.stmt`) };
    case "batch": {
      const b = v.batch;
      if (!isRecord(b) || !Array.isArray(b.steps)) throw bad(`${where}.batch must be {"steps": […]}`);
      const steps = b.steps.map((s: unknown, i): BatchStep => {
        const w = `${where}.batch.steps[${i}]`;
        if (!isRecord(s)) throw bad(`${w} must be an object`);
        return {
          condition: s.condition === undefined || s.condition === null ? null : cond(s.condition, i, `${w}.condition`, 0),
          stmt: stmt(s.stmt, `${w}.stmt`),
        };
      });
      return { type: "batch", steps, replicationIndex: parseReplicationIndex(b.replication_index, `${where}.batch.replication_index`) };
    }
    case "sequence":
    case "describe":
      return { type: v.type, ...sqlOrId(v, where), replicationIndex: parseReplicationIndex(v.replication_index, `${where}.replication_index`) };
    case "store_sql": {
      if (typeof v.sql !== "string") throw bad(`${where}.sql must be a string`);
      return { type: "store_sql", sqlId: int32(v.sql_id, `${where}.sql_id`), sql: v.sql };
    }
    case "close_sql":
      return { type: "close_sql", sqlId: int32(v.sql_id, `${where}.sql_id`) };
    default:
      throw bad(
        `${where}: unknown request type ${JSON.stringify(v.type)}; this server supports close, execute, batch, sequence, describe, store_sql, close_sql and get_autocommit (cursors are not supported)`,
      );
  }
}

/** Parses a `PipelineReqBody`. */
export function parsePipeline(body: unknown): PipelineReq {
  if (!isRecord(body)) throw bad('the pipeline body must be a JSON object {"baton", "requests"}');
  const baton = body.baton === undefined || body.baton === null ? null : body.baton;
  if (baton !== null && typeof baton !== "string") throw bad('"baton" must be a string or null');
  if (!Array.isArray(body.requests)) throw bad('"requests" must be an array');
  return { baton, requests: body.requests.map((r: unknown, i) => request(r, `requests[${i}]`)) };
}

/** Every replication index a pipeline names: the snapshot must be at least the largest. */
export function maxReplicationIndex(p: PipelineReq): number | null {
  let max: number | null = null;
  const see = (n: number | null): void => {
    if (n !== null && (max === null || n > max)) max = n;
  };
  for (const r of p.requests) {
    if (r.type === "execute") see(r.stmt.replicationIndex);
    else if (r.type === "batch") {
      see(r.replicationIndex);
      for (const s of r.steps) see(s.stmt.replicationIndex);
    } else if (r.type === "sequence" || r.type === "describe") see(r.replicationIndex);
  }
  return max;
}
