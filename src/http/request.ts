/**
 * @module
 * Validation of query and batch request bodies. Every problem is an
 * {@link ApiError} with a stable code; nothing reaches SQLite unchecked.
 */
import { parseTxid } from "../ltx/txid.ts";
import { type SqlParam, SqlReal, type StatementInput } from "../sql/types.ts";
import { ApiError } from "./errors.ts";
import type { IntegerMode } from "./json.ts";
import { type Limits, REQUEST_LIMIT_KEYS } from "./limits.ts";

export type ReadTarget = { kind: "live"; minTxid: number | null; maxStalenessMs?: number | null } | { kind: "txid"; txid: number } | { kind: "timestamp"; timestamp: number };

export interface QueryRequest {
  statements: StatementInput[];
  target: ReadTarget;
  integers: IntegerMode;
  limits: Limits;
}

type Json = null | boolean | number | bigint | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * JSON.parse reviver: integer literals beyond ±(2^53−1) become exact bigints
 * (from the source text), instead of silently rounded doubles.
 */
function exactIntegers(this: unknown, _key: string, value: unknown, ctx?: { source?: string }): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value) && ctx?.source !== undefined && /^-?\d+$/.test(ctx.source)) {
    return BigInt(ctx.source);
  }
  return value;
}

/** Reads a JSON body with a size cap (the Content-Length may be absent or wrong). */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  // `curl -d` labels its body form-urlencoded; the body must still be JSON.
  if (type && !/^(application\/json|text\/plain|application\/x-www-form-urlencoded)\b/i.test(type)) {
    throw new ApiError("UNSUPPORTED_MEDIA_TYPE", `expected an application/json body, got ${type}`);
  }
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ApiError("PAYLOAD_TOO_LARGE", `request body of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
  }
  const buf = new Uint8Array(await req.arrayBuffer());
  if (buf.length > maxBytes) throw new ApiError("PAYLOAD_TOO_LARGE", `request body exceeds the ${maxBytes}-byte limit`);
  if (buf.length === 0) throw new ApiError("INVALID_JSON", "request body is empty; send a JSON object");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf), exactIntegers) as unknown;
  } catch (e) {
    throw new ApiError("INVALID_JSON", `request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function txidField(v: Json | undefined, name: string): number | null {
  if (v === undefined || v === null) return null;
  const t = typeof v === "number" && Number.isSafeInteger(v) && v >= 1 ? v : typeof v === "string" ? parseTxid(v) : null;
  if (t === null) {
    throw new ApiError("INVALID_TXID", `${name} must be a TXID: 16 hex digits as Litestream prints it, 0x-prefixed hex, or a positive integer`);
  }
  return t;
}

function timestampField(v: Json | undefined): number | null {
  if (v === undefined || v === null) return null;
  const ms = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(ms)) throw new ApiError("INVALID_TIMESTAMP", "timestamp must be an ISO 8601 string or milliseconds since the epoch");
  return ms;
}

function int64(b: bigint, where: string): bigint {
  if (b > 9223372036854775807n || b < -9223372036854775808n) throw new ApiError("SQL_BAD_PARAMS", `${where}: integer out of 64-bit range`);
  return b;
}

function param(v: Json, where: string): SqlParam {
  if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
  if (typeof v === "bigint") return int64(v, where);
  if (isObject(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.base64 === "string") {
      try {
        const bin = atob(v.base64);
        const out = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
        return out;
      } catch {
        throw new ApiError("SQL_BAD_PARAMS", `${where}: invalid base64`);
      }
    }
    if (keys.length === 1 && typeof v.real === "number") return new SqlReal(v.real);
    if (keys.length === 1 && v.integer !== undefined) {
      const x = v.integer;
      if (typeof x === "bigint") return int64(x, where);
      if (typeof x === "number" && Number.isSafeInteger(x)) return BigInt(x);
      if (typeof x === "string" && /^-?\d{1,20}$/.test(x)) return int64(BigInt(x), where);
      throw new ApiError("SQL_BAD_PARAMS", `${where}: "integer" must be a string of decimal digits (or an exact JSON integer)`);
    }
  }
  throw new ApiError("SQL_BAD_PARAMS", `${where}: unsupported value; use null, a boolean, number, string, {"base64": "…"}, {"integer": "…"} or {"real": …}`);
}

/** Binary-operator tokens one statement may hold (see {@link operatorCount}). */
export const MAX_OPERATORS = 2000;

/**
 * Counts operator characters outside string literals and quoted identifiers.
 * The wa-sqlite builds have no expression-depth limit, and a chain of a few
 * thousand operators (`1+1+…`, ~8 KB of SQL) overflows the wasm stack; the
 * engine recovers, but only after throwing its instance away, so such SQL is
 * refused up front.
 */
export function operatorCount(sql: string): number {
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? sql.length : eol;
    } else if (c === "/" && next === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === "'" || c === '"' || c === "`" || c === "[") {
      const end = sql.indexOf(c === "[" ? "]" : c, i + 1);
      i = end < 0 ? sql.length : end;
    } else if ("+-*/%<>=|&~".includes(c)) n++;
  }
  return n;
}

/**
 * The checks every entry point (JSON API, Hrana, CLI) makes on SQL text before
 * SQLite sees it; `label` names the statement in the message.
 */
export function sqlTextProblem(sql: string, limits: Limits, label: string): ApiError | null {
  if (new TextEncoder().encode(sql).length > limits.maxSqlBytes) {
    return new ApiError("SQL_TOO_LONG", `${label} exceeds the ${limits.maxSqlBytes}-byte limit`);
  }
  if (operatorCount(sql) > MAX_OPERATORS) {
    return new ApiError("SQL_TOO_COMPLEX", `${label} has more than ${MAX_OPERATORS} operators; split the expression`);
  }
  return null;
}

function statement(v: Json | undefined, where: string, limits: Limits): StatementInput {
  const s = typeof v === "string" ? { sql: v } : v;
  if (!isObject(s)) throw new ApiError("BAD_REQUEST", `${where} must be an object with "sql"`);
  if (typeof s.sql !== "string" || s.sql.trim() === "") throw new ApiError("BAD_REQUEST", `${where}.sql must be a non-empty string`);
  const problem = sqlTextProblem(s.sql, limits, `${where}.sql`);
  if (problem) throw problem;
  const out: StatementInput = { sql: s.sql };
  const p = s.params;
  if (p === undefined || p === null) return out;
  if (Array.isArray(p)) {
    if (p.length > limits.maxParams) throw new ApiError("TOO_MANY_PARAMS", `${where} has ${p.length} params; the limit is ${limits.maxParams}`);
    out.params = p.map((x, i) => param(x, `${where}.params[${i}]`));
  } else if (isObject(p)) {
    const entries = Object.entries(p);
    if (entries.length > limits.maxParams) throw new ApiError("TOO_MANY_PARAMS", `${where} has ${entries.length} params; the limit is ${limits.maxParams}`);
    out.params = Object.fromEntries(entries.map(([k, x]) => [k, param(x, `${where}.params.${k}`)]));
  } else {
    throw new ApiError("SQL_BAD_PARAMS", `${where}.params must be an array or an object`);
  }
  return out;
}

/** Parses a `/query` (one statement) or `/batch` (`statements: […]`) body. */
export function parseQueryRequest(body: unknown, kind: "query" | "batch", base: Limits): QueryRequest {
  if (!isObject(body)) throw new ApiError("BAD_REQUEST", "request body must be a JSON object");
  const limits: Limits = { ...base };
  let statements: StatementInput[];
  if (kind === "query") {
    statements = [statement(body, "body", limits)];
  } else {
    const list = body.statements;
    if (!Array.isArray(list) || list.length === 0) throw new ApiError("BAD_REQUEST", `"statements" must be a non-empty array`);
    if (list.length > limits.maxStatements) {
      throw new ApiError("TOO_MANY_STATEMENTS", `batch has ${list.length} statements; the limit is ${limits.maxStatements}`);
    }
    statements = list.map((s, i) => statement(s, `statements[${i}]`, limits));
  }
  const minTxid = txidField(body.min_txid, "min_txid");
  const txid = txidField(body.txid, "txid");
  const timestamp = timestampField(body.timestamp);
  if ([minTxid, txid, timestamp].filter((x) => x !== null).length > 1) {
    throw new ApiError("BAD_REQUEST", "give at most one of min_txid, txid and timestamp");
  }
  const maxStalenessMs = body.max_staleness_ms ?? null;
  if (maxStalenessMs !== null && (typeof maxStalenessMs !== "number" || !(maxStalenessMs >= 0))) {
    throw new ApiError("BAD_REQUEST", "max_staleness_ms must be a non-negative number of milliseconds");
  }
  if (maxStalenessMs !== null && (txid !== null || timestamp !== null)) {
    throw new ApiError("BAD_REQUEST", "max_staleness_ms applies to live reads, not to txid/timestamp");
  }
  const target: ReadTarget =
    txid !== null ? { kind: "txid", txid } : timestamp !== null ? { kind: "timestamp", timestamp } : { kind: "live", minTxid, maxStalenessMs };
  const integers = body.integers ?? "number";
  if (integers !== "number" && integers !== "string") throw new ApiError("BAD_REQUEST", `"integers" must be "number" or "string"`);
  if (body.limits !== undefined) {
    if (!isObject(body.limits)) throw new ApiError("BAD_REQUEST", `"limits" must be an object`);
    for (const [k, v] of Object.entries(body.limits)) {
      const key = (REQUEST_LIMIT_KEYS as Record<string, keyof Limits>)[k];
      if (!key) throw new ApiError("BAD_REQUEST", `unknown limit ${k}; allowed: ${Object.keys(REQUEST_LIMIT_KEYS).join(", ")}`);
      if (typeof v !== "number" || !(v >= 0)) throw new ApiError("BAD_REQUEST", `limits.${k} must be a non-negative number`);
      limits[key] = Math.min(limits[key], Math.floor(v));
    }
  }
  return { statements, target, integers, limits };
}
