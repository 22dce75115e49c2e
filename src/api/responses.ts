/**
 * @module
 * The shapes of the JSON API's answers, for `docs/openapi.json`. They are
 * not checked at run time; `Meta` is the type the HTTP layer builds, so the
 * document and the code cannot disagree about it.
 */
import * as v from "valibot";

const int = (what: string) => v.pipe(v.number(), v.integer(), v.description(what));
const num = (what: string) => v.pipe(v.number(), v.description(what));
const nullableNum = (what: string) => v.pipe(v.nullable(v.number()), v.description(what));

/** A SQLite value as the API writes it. */
export const Value = v.pipe(
  v.union([v.number(), v.string(), v.null(), v.object({ base64: v.string() })]),
  v.description(
    'A SQLite value: INTEGER as a number with every digit (or a string beyond ±(2^53−1) with "integers": "string"), REAL as a number that always has a "." or an exponent ' +
      '(NaN/±Infinity as null), TEXT as a string, BLOB as {"base64": "…"}, NULL as null.',
  ),
);

/** The `meta` of every successful query and batch. */
export const Meta = v.object({
  txid: int("the snapshot the whole request was served at; use it as the next min_txid"),
  txid_hex: v.pipe(v.string(), v.description("the same TXID as Litestream prints it")),
  served_from: v.pipe(v.picklist(["live", "time_travel"]), v.description("live, or time travel (txid / timestamp)")),
  position_time: v.pipe(v.nullable(v.string()), v.description("header time of the newest LTX file applied (when the primary wrote it)")),
  replica_state: v.pipe(v.string(), v.description("ok, idle, starting, stalled, error — or unreachable when this isolate could not reach the Durable Object")),
  staleness_ms: nullableNum("since the Durable Object last confirmed the position, plus the age of this isolate's copy of the index; null for time travel"),
  newest_file_age_ms: nullableNum("age of the newest applied file"),
  duration_ms: num("total"),
  index_ms: num("getting the index"),
  exec_ms: num("running SQLite"),
  rows_read: int("rows produced by the statements"),
  rows_returned: int("rows in the response"),
  pages_read: int("pages SQLite asked for"),
  vfs_reads: int("VFS reads"),
  storage_requests: int("R2/S3 range reads this request made"),
  cache_ops: int("Cache API operations this request made"),
  index_requests: int("index chunks loaded from the Durable Object"),
  index_bytes: int("bytes of those chunks"),
  index_cache_hits: int("index chunks found in the Cache API"),
  subrequests: int("storage reads + Cache API operations + index loads: what max_storage_requests bounds"),
  bytes_fetched: int("bytes read from storage"),
  isolate_hits: int("segments and pages found in the isolate"),
  cache_hits: int("segments found in the Cache API"),
  cache_misses: int("segments fetched from storage"),
  index_sync_bytes: int("bytes of index root this isolate's last sync received"),
  retried: v.pipe(v.boolean(), v.description("the query ran once more on a fresh index (a file vanished, or bad bytes were met)")),
  engine: v.pipe(v.string(), v.description("the wa-sqlite build that answered: sync (the fast lane), jspi or asyncify")),
  engine_lane: v.pipe(
    v.picklist(["fast", "main", "fallback"]),
    v.description("fast: every page was in memory, answered by the synchronous build; main: a build that waits on storage; fallback: the fast lane met a page not in memory and the query ran again on the main lane"),
  ),
});
export type MetaBody = v.InferOutput<typeof Meta>;

const columns = v.pipe(v.array(v.string()), v.description("column names"));
const rows = v.pipe(v.array(v.array(Value)), v.description("rows, each an array of values in column order"));

export const QueryResult = v.object({ columns, rows, meta: Meta });

export const BatchResult = v.object({
  results: v.pipe(v.array(v.object({ columns, rows, rows_read: int("rows this statement produced") })), v.description("one result per statement, in order")),
  meta: Meta,
});

/** Every error of the API. */
export const ErrorBody = v.object({
  error: v.object({
    code: v.pipe(v.string(), v.description("stable code, e.g. UNKNOWN_FIELD, SQL_SYNTAX, SQL_ERROR (docs/http-api.md#errors)")),
    message: v.pipe(v.string(), v.description("what went wrong and why, naming the field or statement")),
  }),
});

export const DatabaseList = v.object({
  databases: v.array(v.object({ name: v.string(), source: v.string(), prefix: v.string() })),
  cursor: v.pipe(v.nullable(v.string()), v.description("pass as cursor for the next page; null on the last page")),
});

export const DatabaseStatus = v.pipe(
  v.looseObject({ name: v.string(), state: v.picklist(["starting", "ok", "idle", "stalled", "error"]) }),
  v.description("The Durable Object's view of the replica: position, freshness, polling, heals, storage counts (docs/http-api.md)."),
);

export const Health = v.object({
  ok: v.literal(true),
  isolate: v.pipe(v.record(v.string(), v.number()), v.description("this isolate's caches and engine")),
});

export const Index = v.object({ name: v.literal("ltx-edge"), endpoints: v.array(v.string()), openapi: v.string() });

/** A Hrana pipeline request or response: its fields are Hrana's (docs/hrana.md), which ignores unknown fields by design. */
export const HranaPipeline = v.pipe(
  v.looseObject({}),
  v.description("Hrana over HTTP (JSON): {baton, requests} → {baton, base_url, results}. Fields follow the Hrana spec, which tells servers to ignore unknown fields; see docs/hrana.md."),
);
