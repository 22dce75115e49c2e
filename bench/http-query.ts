/** The Worker's HTTP API as the benchmarks call it (wrangler dev on 127.0.0.1). */
import { performance } from "node:perf_hooks";

/** The `meta` figures of a query response the benchmarks read. */
export interface QueryMeta {
  txid: number;
  storage_requests: number;
  bytes_fetched: number;
  cache_hits: number;
  isolate_hits: number;
  cache_misses: number;
  pages_read: number;
  exec_ms: number;
  index_ms: number;
  duration_ms: number;
  index_sync_bytes: number;
  index_bytes: number;
  index_requests: number;
  subrequests: number;
  retried: boolean;
  engine: string;
}

export interface QueryReply {
  status: number;
  rows: unknown[][];
  meta: QueryMeta;
  error?: { code: string; message: string };
  /** Wall time in Node, request to parsed body, ms. */
  ms: number;
}

/** POST /db/:name/query; never throws for an HTTP error (the reply carries it), only for a broken connection. */
export async function postQuery(base: string, db: string, sql: string, extra: Record<string, unknown> = {}): Promise<QueryReply> {
  const t0 = performance.now();
  const res = await fetch(`${base}/db/${db}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql, ...extra }) });
  const body = (await res.json()) as Omit<QueryReply, "status" | "ms">;
  return { ...body, status: res.status, ms: performance.now() - t0 };
}

/** POST /db/:name/query, failing on anything but 200. */
export async function mustQuery(base: string, db: string, sql: string, extra: Record<string, unknown> = {}): Promise<QueryReply> {
  const r = await postQuery(base, db, sql, extra);
  if (r.status !== 200) throw new Error(`${db}: ${sql}: HTTP ${r.status} ${r.error?.code ?? ""} ${r.error?.message ?? ""}`);
  return r;
}

/** GET /health's isolate figures. */
export async function isolateHealth(base: string): Promise<Record<string, number>> {
  const res = await fetch(`${base}/health`);
  return ((await res.json()) as { isolate: Record<string, number> }).isolate;
}
