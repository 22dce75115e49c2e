/**
 * @module
 * Validation of query and batch request bodies. Every problem is an
 * {@link ApiError} with a stable code; nothing reaches SQLite unchecked.
 */
import { parseTxid } from "../ltx/txid.ts";
import { sqlTextProblem } from "../sql/text-guard.ts";
import { vmStepBudget } from "../sql/vm-budget.ts";
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

/** For each array/object of a parsed body: the keys whose number was written as a REAL literal (`1.0`, `-0.0`, `1e2`). */
const realLiterals = new WeakMap<object, Set<string>>();

/**
 * JSON.parse reviver that keeps what the JSON text says about numbers:
 * integer literals beyond ±(2^53−1) become exact bigints (read from the
 * source text, not rounded doubles), and numbers written with a `.` or an
 * exponent are remembered as REAL literals ({@link isRealLiteral}), so `1.0`
 * binds as REAL although it parses to the same double as `1`. Needs
 * `context.source` (workerd; Node ≥ 21); without it numbers stay plain.
 */
function exactNumbers(this: unknown, key: string, value: unknown, ctx?: { source?: string }): unknown {
  if (typeof value !== "number" || ctx?.source === undefined) return value;
  if (/^-?\d+$/.test(ctx.source)) return Number.isSafeInteger(value) ? value : BigInt(ctx.source);
  if (typeof this === "object" && this !== null) {
    let keys = realLiterals.get(this);
    if (!keys) realLiterals.set(this, (keys = new Set()));
    keys.add(key);
  }
  return value;
}

/** True when `holder[key]` was written as a REAL literal in the JSON text it was parsed from. */
export function isRealLiteral(holder: object, key: string | number): boolean {
  return realLiterals.get(holder)?.has(String(key)) ?? false;
}

/** JSON.parse with {@link exactNumbers}: big integers stay exact, REAL literals stay REAL. */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text, exactNumbers) as unknown;
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
    return parseJsonText(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf));
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

/** One parameter value; `real` says the JSON text wrote it as a REAL literal (`1.0`, `1e2`). */
function param(v: Json, where: string, real: boolean): SqlParam {
  if (typeof v === "number" && real) return new SqlReal(v);
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
    out.params = p.map((x, i) => param(x, `${where}.params[${i}]`, isRealLiteral(p, i)));
  } else if (isObject(p)) {
    const entries = Object.entries(p);
    if (entries.length > limits.maxParams) throw new ApiError("TOO_MANY_PARAMS", `${where} has ${entries.length} params; the limit is ${limits.maxParams}`);
    out.params = Object.fromEntries(entries.map(([k, x]) => [k, param(x, `${where}.params.${k}`, isRealLiteral(p, k))]));
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
      // 0 means "derived from the time limit" for the step budget: lower what is in force, never to "derived".
      const current = key === "maxVmSteps" ? vmStepBudget({ maxVmSteps: base.maxVmSteps, timeoutMs: base.queryTimeoutMs }) : limits[key];
      limits[key] = key === "maxVmSteps" ? Math.max(1, Math.min(current, Math.floor(v))) : Math.min(current, Math.floor(v));
    }
  }
  return { statements, target, integers, limits };
}
