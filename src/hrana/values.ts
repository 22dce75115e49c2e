/**
 * @module
 * Hrana values ↔ SQLite values, and the JSON text of results. Integers travel
 * as decimal strings both ways, so every 64-bit value is exact; a REAL is
 * always `"type":"float"`, even when it is integral (1.0); blobs are base64.
 * Results are written by hand: `JSON.stringify` knows no bigint.
 */
import { ApiError } from "../api/errors.ts";
import { base64 } from "../api/json.ts";
import { type SqlParam, SqlReal, type SqlValue, type StatementResult } from "../sql/types.ts";

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(where: string, what: string): ApiError {
  return new ApiError("SQL_BAD_PARAMS", `${where}: ${what}`);
}

/** Parses a 64-bit integer given as decimal text (or as a JSON number that is a safe integer). */
export function parseInt64(v: unknown, where: string): bigint {
  let b: bigint;
  if (typeof v === "string" && /^[+-]?\d{1,20}$/.test(v)) b = BigInt(v);
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else throw bad(where, "an integer value must be a decimal string");
  if (b < MIN_INT64 || b > MAX_INT64) throw bad(where, `${v} does not fit in a 64-bit integer`);
  return b;
}

/**
 * One Hrana `Value` as a bindable parameter. A `float` binds as REAL even when
 * integral, as on a libSQL server (JavaScript clients send every `number` as a float).
 */
export function paramFromHrana(v: unknown, where: string): SqlParam {
  if (!isRecord(v) || typeof v.type !== "string") throw bad(where, 'expected a value object {"type": …}');
  switch (v.type) {
    case "null":
      return null;
    case "integer":
      return parseInt64(v.value, where);
    case "float":
      if (typeof v.value !== "number" || !Number.isFinite(v.value)) throw bad(where, "a float value must be a finite JSON number");
      return new SqlReal(v.value);
    case "text":
      if (typeof v.value !== "string") throw bad(where, "a text value must be a string");
      return v.value;
    case "blob": {
      if (typeof v.base64 !== "string") throw bad(where, 'a blob value needs "base64"');
      let bin: string;
      try {
        bin = atob(v.base64);
      } catch {
        throw bad(where, "invalid base64 in a blob value");
      }
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    }
    default:
      throw bad(where, `unknown value type ${JSON.stringify(v.type)}`);
  }
}

/** A float as JSON: always with a `.` or exponent; ±Infinity (SQLite can compute it) as ±1e999, which JSON parsers read back as infinite. */
function floatJson(n: number): string {
  if (Number.isNaN(n)) return "null";
  if (!Number.isFinite(n)) return n > 0 ? "1e999" : "-1e999";
  const s = JSON.stringify(n);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/** One SQLite value as a Hrana `Value` (JSON text). */
export function valueJson(v: SqlValue): string {
  if (v === null) return '{"type":"null"}';
  if (typeof v === "bigint") return `{"type":"integer","value":"${v.toString()}"}`;
  // SQLite turns NaN into NULL, so a NaN here can only be a bug; keep the row shape anyway.
  if (typeof v === "number") return Number.isNaN(v) ? '{"type":"null"}' : `{"type":"float","value":${floatJson(v)}}`;
  if (typeof v === "string") return `{"type":"text","value":${JSON.stringify(v)}}`;
  return `{"type":"blob","base64":"${base64(v)}"}`;
}

export interface ResultExtras {
  /** The TXID the statement read, as Hrana's replication_index. */
  txid: number | null;
  /** Time of the engine call that produced the result (one call usually serves the whole pipeline). */
  durationMs: number;
}

/** A StatementResult as a Hrana `StmtResult` (JSON text), with libSQL's extra fields. */
export function stmtResultJson(r: StatementResult, wantRows: boolean, x: ResultExtras): string {
  const cols = r.columns.map((name) => `{"name":${JSON.stringify(name)},"decltype":null}`).join(",");
  const rows = wantRows ? r.rows.map((row) => `[${row.map(valueJson).join(",")}]`).join(",") : "";
  return (
    `{"cols":[${cols}],"rows":[${rows}],"affected_row_count":0,"last_insert_rowid":null,` +
    `"replication_index":${x.txid === null ? "null" : `"${x.txid}"`},"rows_read":${r.rowsRead},"rows_written":0,` +
    `"query_duration_ms":${x.durationMs}}`
  );
}

/** A result with no columns and no rows (transaction control answered by the stream itself). */
export const EMPTY_RESULT: StatementResult = { columns: [], columnTypes: [], rows: [], rowsRead: 0 };

