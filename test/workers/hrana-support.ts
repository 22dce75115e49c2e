/**
 * Test helpers for Hrana over HTTP: typed views of the JSON, a pipeline
 * poster through the Worker, and conversions for comparing rows with the
 * fixture manifests.
 */
import { exports } from "cloudflare:workers";
import type { WritableObjectStore } from "../../src/replica/types.ts";
import { fixtureBytes, fixtureLtxFiles, keyFor } from "../support/seed.ts";

export type HValue =
  | { type: "null" }
  | { type: "integer"; value: string }
  | { type: "float"; value: number }
  | { type: "text"; value: string }
  | { type: "blob"; base64: string };

export interface HStmtResult {
  cols: { name: string | null; decltype: string | null }[];
  rows: HValue[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
  replication_index: string | null;
  rows_read: number;
  rows_written: number;
  query_duration_ms: number;
}

export interface HError {
  message: string;
  code: string;
}

export interface HBatchResult {
  step_results: (HStmtResult | null)[];
  step_errors: (HError | null)[];
  replication_index: string | null;
}

export interface HDescribeResult {
  params: { name: string | null }[];
  cols: { name: string; decltype: string | null }[];
  is_explain: boolean;
  is_readonly: boolean;
}

export interface HResponse {
  type: string;
  result?: HStmtResult | HBatchResult | HDescribeResult;
  is_autocommit?: boolean;
}

export type HStreamResult = { type: "ok"; response: HResponse } | { type: "error"; error: HError };

export interface HPipelineResp {
  baton: string | null;
  base_url: string | null;
  results: HStreamResult[];
}

export interface Reply<T> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

/** POSTs a pipeline body (object or raw text) to `/db/<db>/<version>/pipeline` through the Worker. */
export async function pipeline(db: string, body: unknown, version: "v2" | "v3" = "v2"): Promise<Reply<HPipelineResp>> {
  const res = await exports.default.fetch(`http://localhost/db/${db}/${version}/pipeline`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as HPipelineResp };
}

function ok(r: HStreamResult | undefined, type: string): HResponse {
  if (!r || r.type !== "ok") throw new Error(`expected an ok ${type} result, got ${JSON.stringify(r)}`);
  if (r.response.type !== type) throw new Error(`expected a ${type} response, got ${JSON.stringify(r.response)}`);
  return r.response;
}

export function execResult(r: HStreamResult | undefined): HStmtResult {
  return ok(r, "execute").result as HStmtResult;
}

export function batchResult(r: HStreamResult | undefined): HBatchResult {
  return ok(r, "batch").result as HBatchResult;
}

export function describeResult(r: HStreamResult | undefined): HDescribeResult {
  return ok(r, "describe").result as HDescribeResult;
}

export function okType(r: HStreamResult | undefined, type: string): HResponse {
  return ok(r, type);
}

export function errorOf(r: HStreamResult | undefined): HError {
  if (!r || r.type !== "error") throw new Error(`expected an error result, got ${JSON.stringify(r)}`);
  return r.error;
}

/** A Hrana value as the fixture manifests write values (integers as numbers: the fixtures stay below 2^53). */
export function plain(v: HValue): null | number | string | { base64: string } {
  switch (v.type) {
    case "null":
      return null;
    case "integer":
      return Number(v.value);
    case "float":
      return v.value;
    case "text":
      return v.value;
    case "blob":
      return { base64: v.base64 };
  }
}

export function plainRows(r: HStmtResult | null | undefined): unknown[][] {
  if (!r) throw new Error("no result");
  return r.rows.map((row) => row.map(plain));
}

export const stmt = (sql: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ sql, ...extra });
export const execute = (sql: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: "execute", stmt: stmt(sql, extra) });
export const int = (v: bigint | number | string): HValue => ({ type: "integer", value: String(v) });
export const float = (v: number): HValue => ({ type: "float", value: v });
export const text = (v: string): HValue => ({ type: "text", value: v });

/**
 * Seeds fixture `small` up to TXID `upTo` (its level-0 files only) and returns
 * a function that uploads the rest. Every older TXID stays restorable after
 * that, so a snapshot taken before can still be served by time travel.
 */
export async function seedSmallUpTo(store: WritableObjectStore, prefix: string, upTo: number): Promise<() => Promise<void>> {
  const files = fixtureLtxFiles("small");
  const l0 = (rel: string): number | null => {
    const m = /^ltx\/0\/([0-9a-f]{16})-/.exec(rel);
    return m?.[1] ? Number.parseInt(m[1], 16) : null;
  };
  const put = async (rel: string): Promise<void> => {
    await store.put(keyFor(prefix, "s3", rel), await fixtureBytes(`small/${rel}`));
  };
  const early = files.filter((f) => (l0(f) ?? Number.POSITIVE_INFINITY) <= upTo);
  await Promise.all(early.map(put));
  return async () => {
    await Promise.all(files.filter((f) => !early.includes(f)).map(put));
  };
}

/** TXID in Litestream's notation (the fixture manifests' keys). */
export const hex = (n: number): string => n.toString(16).padStart(16, "0");
