/**
 * @module
 * Query and batch request bodies: read with exact numbers, checked against
 * their schema (src/api/requests.ts: unknown fields refused), then turned
 * into statements, a read target and the request's limits. Every problem is
 * an error with a stable code; nothing reaches SQLite unchecked.
 */
import { type BatchBody, BatchRequest as BatchSchema, type LimitsBody, type ParamBody, type QueryBody, QueryRequest as QuerySchema, type StatementBody } from "./requests.ts";
import { timestampMs } from "./time.ts";
import { validate } from "./validate.ts";
import { parseTxid } from "../ltx/txid.ts";
import { sqlTextProblem } from "../sql/text-guard.ts";
import { vmStepBudget } from "../sql/vm-budget.ts";
import { type SqlParam, SqlReal, type StatementInput } from "../sql/types.ts";
import { ApiError, toApiError } from "./errors.ts";
import type { IntegerMode } from "./json.ts";
import { type Limits, REQUEST_LIMIT_KEYS } from "./limits.ts";

export type ReadTarget = { kind: "live"; minTxid: number | null; maxStalenessMs?: number | null } | { kind: "txid"; txid: number } | { kind: "timestamp"; timestamp: number };

export interface QueryRequest {
  statements: StatementInput[];
  target: ReadTarget;
  integers: IntegerMode;
  limits: Limits;
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

function txid(v: string | number | null | undefined): number | null {
  if (v === undefined || v === null) return null;
  // The schema accepted it, so it parses.
  return typeof v === "number" ? v : parseTxid(v);
}

function int64(b: bigint, where: string): bigint {
  if (b > 9223372036854775807n || b < -9223372036854775808n) throw new ApiError("SQL_BAD_PARAMS", `${where}: integer out of 64-bit range`);
  return b;
}

function base64Bytes(text: string, where: string): Uint8Array {
  try {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    throw new ApiError("SQL_BAD_PARAMS", `${where}: invalid base64`);
  }
}

/** One parameter value (its shape already checked); `real` says the JSON text wrote it as a REAL literal (`1.0`, `1e2`). */
function param(v: ParamBody, where: string, real: boolean): SqlParam {
  if (typeof v === "number" && real) return new SqlReal(v);
  if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
  if (typeof v === "bigint") return int64(v, where);
  if ("base64" in v) return base64Bytes(v.base64, where);
  if ("real" in v) return new SqlReal(v.real);
  const x = v.integer;
  return typeof x === "bigint" ? int64(x, where) : typeof x === "number" ? BigInt(x) : int64(BigInt(x), where);
}

function statement(s: string | StatementBody, where: string, limits: Limits): StatementInput {
  const { sql, params: p } = typeof s === "string" ? { sql: s, params: null } : s;
  const problem = sqlTextProblem(sql, limits, `${where}.sql`);
  if (problem) throw problem;
  const out: StatementInput = { sql };
  if (p === undefined || p === null) return out;
  if (Array.isArray(p)) {
    if (p.length > limits.maxParams) throw new ApiError("TOO_MANY_PARAMS", `${where} has ${p.length} params; the limit is ${limits.maxParams}`);
    out.params = p.map((x, i) => param(x, `${where}.params[${i}]`, isRealLiteral(p, i)));
  } else {
    const entries = Object.entries(p);
    if (entries.length > limits.maxParams) throw new ApiError("TOO_MANY_PARAMS", `${where} has ${entries.length} params; the limit is ${limits.maxParams}`);
    out.params = Object.fromEntries(entries.map(([k, x]) => [k, param(x, `${where}.params.${k}`, isRealLiteral(p, k))]));
  }
  return out;
}

/** The limits of one request: the server's, lowered (never raised) by the request's `limits`. */
function requestLimits(base: Limits, asked: LimitsBody | undefined): Limits {
  const limits: Limits = { ...base };
  for (const [k, v] of Object.entries(asked ?? {})) {
    if (v === undefined) continue;
    const key = REQUEST_LIMIT_KEYS[k as keyof typeof REQUEST_LIMIT_KEYS];
    // 0 means "derived from the time limit" for the step budget: lower what is in force, never to "derived".
    const current = key === "maxVmSteps" ? vmStepBudget({ maxVmSteps: base.maxVmSteps, timeoutMs: base.queryTimeoutMs }) : limits[key];
    limits[key] = key === "maxVmSteps" ? Math.max(1, Math.min(current, Math.floor(v))) : Math.min(current, Math.floor(v));
  }
  return limits;
}

/** Where to read: live (optionally after a TXID, or fresher than a bound), at a TXID, or at a time. */
function readTarget(body: QueryBody | BatchBody, now: number): ReadTarget {
  const minTxid = txid(body.min_txid);
  const at = txid(body.txid);
  const timestamp = body.timestamp === undefined || body.timestamp === null ? null : timestampMs(body.timestamp, now);
  if ([minTxid, at, timestamp].filter((x) => x !== null).length > 1) {
    throw new ApiError("BAD_REQUEST", "give at most one of min_txid, txid and timestamp");
  }
  const maxStalenessMs = body.max_staleness_ms ?? null;
  if (maxStalenessMs !== null && (at !== null || timestamp !== null)) {
    throw new ApiError("BAD_REQUEST", "max_staleness_ms applies to live reads, not to txid/timestamp");
  }
  if (at !== null) return { kind: "txid", txid: at };
  if (timestamp !== null) return { kind: "timestamp", timestamp };
  return { kind: "live", minTxid, maxStalenessMs };
}

/** Runs `f`, rethrowing a coded error as an ApiError (callers such as the CLI look for ApiError). */
function asApiError<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw toApiError(e);
  }
}

/**
 * Parses a `/query` (one statement) or `/batch` (`statements: […]`) body.
 * `now` is the time the request arrived: relative timestamps (`-5m`) count
 * back from it.
 */
export function parseQueryRequest(body: unknown, kind: "query" | "batch", base: Limits, now: number = Date.now()): QueryRequest {
  const checked = asApiError(() => (kind === "query" ? validate(QuerySchema, body, "body") : validate(BatchSchema, body, "body")));
  const limits = requestLimits(base, checked.limits);
  let statements: StatementInput[];
  if ("sql" in checked) {
    statements = [statement(checked, "body", limits)];
  } else {
    const list = checked.statements;
    if (list.length > limits.maxStatements) {
      throw new ApiError("TOO_MANY_STATEMENTS", `batch has ${list.length} statements; the limit is ${limits.maxStatements}`);
    }
    statements = list.map((s, i) => statement(s, `statements[${i}]`, limits));
  }
  return { statements, target: readTarget(checked, now), integers: checked.integers ?? "number", limits };
}
