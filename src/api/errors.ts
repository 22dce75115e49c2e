/**
 * @module
 * The one error type of the HTTP API: every failure becomes
 * `{ "error": { "code", "message" } }` with a status chosen by its stable code.
 */

import { CodedError } from "../errors.ts";

/** HTTP status for each stable error code raised anywhere in ltx-edge. */
const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_FIELD: 400,
  INVALID_JSON: 400,
  INVALID_TXID: 400,
  INVALID_TIMESTAMP: 400,
  SQL_SYNTAX: 400,
  SQL_MULTIPLE_STATEMENTS: 400,
  SQL_BAD_PARAMS: 400,
  SQL_TOO_LONG: 400,
  SQL_TOO_COMPLEX: 400,
  TOO_MANY_PARAMS: 400,
  TOO_MANY_STATEMENTS: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  SQL_READONLY: 403,
  NOT_FOUND: 404,
  DB_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SQL_TIMEOUT: 408,
  TXID_NOT_YET_AVAILABLE: 409,
  PLAN_TXID_NOT_AVAILABLE: 410,
  PLAN_TIME_NOT_AVAILABLE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SQL_TOO_MANY_ROWS: 422,
  SQL_RESULT_TOO_LARGE: 422,
  QUERY_STORAGE_LIMIT: 422,
  SQL_ERROR: 422,
  SQL_CPU_LIMIT: 422,
  SQL_MEMORY_LIMIT: 422,
  INTERNAL: 500,
  CONFIG_INVALID: 500,
  STORAGE_ERROR: 502,
  STORAGE_BAD_RESPONSE: 502,
  STORAGE_NOT_FOUND: 502,
  REPLICA_EMPTY: 503,
  REPLICA_STALE: 503,
  PLAN_GAP: 503,
  PLAN_NO_FILES: 503,
  PLAN_INCONSISTENT: 503,
  SQL_ENGINE_RESET: 503,
  ENGINE_BUSY: 503,
  INDEX_UNSTABLE: 503,
  INDEX_INCOMPLETE: 503,
  INDEX_UNAVAILABLE: 503,
  WAIT_TIMEOUT: 504,
  STORAGE_TIMEOUT: 504,
};

/** Seconds a client should wait before retrying a 503, by code (default 1). */
const RETRY_AFTER_S: Record<string, number> = {
  REPLICA_EMPTY: 5,
  PLAN_GAP: 5,
  PLAN_NO_FILES: 5,
  PLAN_INCONSISTENT: 5,
};

export function statusForCode(code: string): number {
  if (STATUS[code] !== undefined) return STATUS[code];
  if (code.startsWith("LTX_")) return 502; // the replica holds bad data
  if (code.startsWith("PLAN_")) return 503;
  return 500;
}

/** An error with a stable code and the HTTP status that goes with it. */
export class ApiError extends CodedError {
  readonly status: number;
  constructor(code: string, message: string, status = statusForCode(code)) {
    super(code, message);
    this.status = status;
  }

  toResponse(headers: Record<string, string> = {}): Response {
    // The code in a header too: logs, proxies and `curl -I` see it without parsing the body.
    const h: Record<string, string> = { ...headers, "x-ltx-error": this.code };
    if (this.status === 401) h["www-authenticate"] = 'Bearer realm="ltx-edge"';
    // Every 503 is temporary (busy, stale, a gap being healed): tell clients when to come back.
    if (this.status === 503 && h["retry-after"] === undefined) h["retry-after"] = String(RETRY_AFTER_S[this.code] ?? 1);
    return Response.json({ error: { code: this.code, message: this.message } }, { status: this.status, headers: h });
  }
}

/** Any thrown value as an ApiError, keeping codes from our own error types. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code)) return new ApiError(code, e.message);
    return new ApiError("INTERNAL", `internal error: ${e.message}`);
  }
  return new ApiError("INTERNAL", `internal error: ${String(e)}`);
}
