/**
 * @module
 * Moving values across the wasm boundary without losing SQLite types:
 * parameter binding, column reading (INTEGER → bigint, always exact), and the
 * approximate serialized size used by the result-size limit.
 */

import * as SQLite from "@journeyapps/wa-sqlite";
import type { SqliteWasmModule } from "../vfs/sqlite-module.ts";
import { SqlError } from "./errors.ts";
import { type SqlParam, SqlReal, type SqlValue, type StatementInput } from "./types.ts";

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const utf8 = new TextDecoder("utf-8");

function badParams(message: string, cause?: unknown): SqlError {
  return new SqlError("SQL_BAD_PARAMS", message, cause !== undefined ? { cause } : {});
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "object") return value.constructor?.name ?? "object";
  return typeof value;
}

function bindOne(
  sqlite3: SQLiteAPI,
  module: SqliteWasmModule,
  stmt: number,
  index: number,
  value: unknown,
  label: string,
): void {
  try {
    if (value === null) {
      sqlite3.bind_null(stmt, index);
    } else if (typeof value === "boolean") {
      sqlite3.bind_int(stmt, index, value ? 1 : 0);
    } else if (typeof value === "bigint") {
      if (value < MIN_INT64 || value > MAX_INT64) throw badParams(`parameter ${label}: ${value} does not fit in a 64-bit INTEGER`);
      sqlite3.bind_int64(stmt, index, value);
    } else if (typeof value === "number") {
      // Safe integers become INTEGER, everything else REAL (NaN binds as NULL, as in SQLite).
      if (Number.isSafeInteger(value)) sqlite3.bind_int64(stmt, index, BigInt(value));
      else sqlite3.bind_double(stmt, index, value);
    } else if (value instanceof SqlReal) {
      sqlite3.bind_double(stmt, index, value.value);
    } else if (typeof value === "string") {
      sqlite3.bind_text(stmt, index, value);
    } else if (value instanceof Uint8Array) {
      if (value.length === 0) {
        // bind_blob would malloc(0) → NULL pointer → SQL NULL; an empty BLOB needs zeroblob(0).
        const rc = module.ccall("sqlite3_bind_zeroblob", "number", ["number", "number", "number"], [stmt, index, 0]);
        if (rc !== SQLite.SQLITE_OK) throw badParams(`parameter ${label}: binding an empty BLOB failed (${String(rc)})`);
      } else {
        sqlite3.bind_blob(stmt, index, value);
      }
    } else {
      throw badParams(`parameter ${label}: unsupported type ${describe(value)}`);
    }
  } catch (error) {
    if (error instanceof SqlError) throw error;
    if (error instanceof SQLite.SQLiteError) {
      throw badParams(`parameter ${label}: ${error.message}`, error);
    }
    throw error;
  }
}

/** Binds `params` to `stmt`, insisting that count and names match exactly. */
export function bindParams(
  sqlite3: SQLiteAPI,
  module: SqliteWasmModule,
  stmt: number,
  params: StatementInput["params"],
): void {
  const count = sqlite3.bind_parameter_count(stmt);
  if (params === undefined || params === null) {
    if (count > 0) throw badParams(`statement has ${count} parameter(s) but none were given`);
    return;
  }
  if (Array.isArray(params)) {
    if (params.length !== count) {
      throw badParams(`statement has ${count} parameter(s) but ${params.length} were given`);
    }
    params.forEach((value: unknown, i) => bindOne(sqlite3, module, stmt, i + 1, value, `#${i + 1}`));
    return;
  }
  if (typeof params !== "object" || params instanceof Uint8Array) {
    throw badParams(`params must be an array or an object, not ${describe(params)}`);
  }
  const named: Record<string, SqlParam> = params;
  const used = new Set<string>();
  for (let i = 1; i <= count; i++) {
    const name = sqlite3.bind_parameter_name(stmt, i);
    if (!name) throw badParams(`parameter #${i} is positional (?) but params is an object`);
    const bare = name.slice(1);
    const key = Object.hasOwn(named, name) ? name : Object.hasOwn(named, bare) ? bare : undefined;
    if (key === undefined) throw badParams(`missing value for parameter ${name}`);
    used.add(key);
    bindOne(sqlite3, module, stmt, i, named[key], name);
  }
  const extra = Object.keys(named).filter((k) => !used.has(k));
  if (extra.length > 0) throw badParams(`unknown parameter(s): ${extra.join(", ")}`);
}

/** Bytes of `s` in UTF-8, without encoding it. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4; // a surrogate pair is one 4-byte code point
      i++;
    } else n += 3;
  }
  return n;
}

/** Approximate JSON size of a string value (quotes included, escapes ignored). */
export function textSize(s: string): number {
  return utf8Length(s) + 2;
}

/** Approximate JSON size of the column-name header of a result. */
export function columnsSize(columns: readonly string[]): number {
  return columns.reduce((n, c) => n + textSize(c) + 1, 2);
}

/** Approximate size of a BLOB of `n` bytes once base64-encoded and quoted. */
function blobSize(n: number): number {
  return Math.ceil(n / 3) * 4 + 2;
}

/**
 * Reads column `i` of the current row. `reserve(bytes)` is called with the
 * value's approximate serialized size before any large value is copied out of
 * wasm memory, so it can refuse (throw) before the allocation happens.
 */
export function readColumn(
  sqlite3: SQLiteAPI,
  module: SqliteWasmModule,
  stmt: number,
  i: number,
  reserve: (bytes: number) => void,
): SqlValue {
  switch (sqlite3.column_type(stmt, i)) {
    case SQLite.SQLITE_INTEGER: {
      const v = sqlite3.column_int64(stmt, i);
      reserve(v.toString().length + 1);
      return v;
    }
    case SQLite.SQLITE_FLOAT: {
      reserve(25);
      return sqlite3.column_double(stmt, i);
    }
    case SQLite.SQLITE_TEXT: {
      // sqlite3_column_text converts to UTF-8 (the database may be UTF-16),
      // then column_bytes is the UTF-8 length; decoding by length keeps NULs.
      const ptr = module.ccall("sqlite3_column_text", "number", ["number", "number"], [stmt, i]);
      const n = sqlite3.column_bytes(stmt, i);
      reserve(n + 3);
      if (typeof ptr !== "number" || n === 0) return "";
      return utf8.decode(module.HEAPU8.subarray(ptr, ptr + n));
    }
    case SQLite.SQLITE_BLOB: {
      const n = sqlite3.column_bytes(stmt, i);
      reserve(blobSize(n) + 1);
      // column_blob is a view of wasm memory: copy before the next step.
      return n === 0 ? new Uint8Array(0) : sqlite3.column_blob(stmt, i).slice();
    }
    default:
      reserve(5);
      return null;
  }
}
