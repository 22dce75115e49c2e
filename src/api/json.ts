/**
 * @module
 * Lossless JSON for SQLite values. `JSON.stringify` cannot write a bigint and
 * writes the REAL 1.0 as `1`, so rows are serialized by hand:
 * - INTEGER → a JSON number with every digit (exact beyond 2^53 for parsers that keep them);
 * - REAL → a JSON number that always has a `.` or an exponent (`1.0`, `1e+300`);
 *   NaN/±Infinity (SQLite can produce ±Inf) → null with no loss of row shape;
 * - TEXT → string; BLOB → `{"base64": "…"}`; NULL → null.
 * With `integers: "string"`, integers outside ±(2^53−1) become strings instead,
 * for clients whose JSON parser would round them.
 */
import type { SqlValue } from "../sql/types.ts";

export type IntegerMode = "number" | "string";

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function valueJson(v: SqlValue, mode: IntegerMode): string {
  if (v === null) return "null";
  if (typeof v === "bigint") {
    if (mode === "string" && (v > SAFE || v < -SAFE)) return `"${v.toString()}"`;
    return v.toString();
  }
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return "null";
    if (Object.is(v, -0)) return "-0.0";
    const s = JSON.stringify(v);
    return /[.eE]/.test(s) ? s : `${s}.0`;
  }
  if (typeof v === "string") return JSON.stringify(v);
  return `{"base64":${JSON.stringify(base64(v))}}`;
}

export function rowsJson(rows: readonly SqlValue[][], mode: IntegerMode): string {
  const parts: string[] = [];
  for (const row of rows) parts.push(`[${row.map((v) => valueJson(v, mode)).join(",")}]`);
  return `[${parts.join(",")}]`;
}

/** JSON text for a plain object whose `rows` keys hold raw JSON produced above. */
export function withRawFields(obj: Record<string, unknown>, raw: Record<string, string>): string {
  const base = JSON.stringify(obj);
  const extra = Object.entries(raw)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(",");
  if (!extra) return base;
  return base === "{}" ? `{${extra}}` : `{${extra},${base.slice(1)}`;
}
