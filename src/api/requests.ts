/**
 * @module
 * The one schema of every request the JSON API takes (valibot). The same
 * schemas validate requests ({@link ./validate.ts}) and produce
 * `docs/openapi.json` ({@link ./openapi.ts}), so the document cannot drift
 * from what is accepted.
 *
 * Every object is strict: an unknown field (a typo such as `min_txd`) is
 * refused with `UNKNOWN_FIELD` naming it, never ignored. Messages are phrased
 * to follow the field's path (`body.sql must be a non-empty string`).
 *
 * The schemas check shape and spelling only. What depends on the
 * deployment's limits (SQL length, parameter counts), the conversion of
 * values, and rules across fields stay in `src/api/query-request.ts`.
 */
import * as v from "valibot";
import { parseTxid } from "../ltx/txid.ts";
import { unknownFieldHint } from "./field-hint.ts";
import { isTimestampText } from "./time.ts";

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * A JSON object with exactly these fields. valibot's object schemas also take
 * arrays (as objects with keys "0", "1", …), so the plain-object check comes
 * first. The message of a strict object tells what to put instead of an
 * unknown field ({@link ./validate.ts} adds the field's path and the code).
 */
function object<const E extends v.ObjectEntries>(entries: E, what: string) {
  const allowed = Object.keys(entries);
  const strict = v.strictObject(entries, (issue) => (issue.expected === "never" ? unknownFieldHint(String(issue.input), allowed) : "is required"));
  return v.pipe(v.custom<v.InferInput<typeof strict>>(isPlainObject, `must be ${what}`), strict);
}

const TXID_MSG = "must be a TXID: 16 hex digits as Litestream prints it, 0x-prefixed hex, or a positive integer";

/** A TXID as Litestream prints it, `0x…` hex, a decimal string, or a JSON number. */
export const Txid = v.pipe(
  v.union(
    [
      v.pipe(
        v.string(TXID_MSG),
        v.check((s) => parseTxid(s) !== null, TXID_MSG),
      ),
      v.pipe(v.number(TXID_MSG), v.safeInteger(TXID_MSG), v.minValue(1, TXID_MSG)),
    ],
    TXID_MSG,
  ),
  v.description('A TXID: 16 hex digits as Litestream prints it ("0000000000000015"), 0x-prefixed hex, a decimal string, or a positive integer.'),
);

const TIMESTAMP_MSG =
  "must be an ISO 8601 / RFC 3339 time, a time relative to now such as -30s, -5m, -2h or -1d, or milliseconds since the epoch";

/** An absolute time, a negative duration relative to the request, or ms since the epoch. */
export const Timestamp = v.pipe(
  v.union(
    [
      v.pipe(
        v.string(TIMESTAMP_MSG),
        v.check(isTimestampText, TIMESTAMP_MSG),
      ),
      v.pipe(v.number(TIMESTAMP_MSG), v.finite(TIMESTAMP_MSG)),
    ],
    TIMESTAMP_MSG,
  ),
  v.description(
    "Time travel to the newest state whose transactions are all at or before this time: RFC 3339 / ISO 8601 " +
      '("2026-11-26T09:40:50Z"), a time relative to the request written as a negative duration ("-30s", "-5m", "-2h", "-1d", "-1h30m"), ' +
      "or milliseconds since the epoch.",
  ),
);

const PARAM_MSG = 'unsupported value; use null, a boolean, number, string, {"base64": "…"}, {"integer": "…"} or {"real": …}';
const PARAM_KEYS = ["base64", "integer", "real"];

/** What is wrong with a parameter no option took: a misspelled key of a parameter object is named. */
function paramProblem(issue: v.BaseIssue<unknown>): string {
  const x = issue.input;
  const unknown = isPlainObject(x) ? Object.keys(x).find((k) => !PARAM_KEYS.includes(k)) : undefined;
  return unknown === undefined ? PARAM_MSG : `unknown field ${unknown} in a parameter object; ${unknownFieldHint(unknown, PARAM_KEYS)}`;
}

/** A parameter object such as `{"base64": "…"}`: exactly one field. */
function paramObject<const K extends string, S extends v.GenericSchema>(key: K, schema: S) {
  const strict = v.strictObject({ [key]: schema } as { [P in K]: S });
  return v.pipe(v.custom<v.InferInput<typeof strict>>((x) => isPlainObject(x) && Object.keys(x).length === 1 && key in x, PARAM_MSG), strict);
}

const INTEGER_MSG = "must be a string of decimal digits (or an exact JSON integer)";

/**
 * One parameter value. A JSON integer literal binds as INTEGER — exactly, even
 * beyond 2^53 (the body is read digit by digit, such a literal arrives as a
 * bigint) — any other number as REAL.
 */
export const Param = v.pipe(
  v.union(
    [
      v.null(),
      v.boolean(),
      v.number(),
      v.bigint(),
      v.string(),
      paramObject("base64", v.pipe(v.string("must be a base64 string"), v.description("a BLOB, base64-encoded"))),
      paramObject(
        "integer",
        v.pipe(
          v.union([v.pipe(v.string(INTEGER_MSG), v.regex(/^-?\d{1,20}$/, INTEGER_MSG)), v.pipe(v.number(INTEGER_MSG), v.safeInteger(INTEGER_MSG)), v.bigint()], INTEGER_MSG),
          v.description("a 64-bit INTEGER given as decimal digits"),
        ),
      ),
      paramObject("real", v.pipe(v.number("must be a number"), v.description("a REAL, even when integral"))),
    ],
    paramProblem,
  ),
  v.description('A parameter: null, a boolean (bound as 0/1), a number (an integer literal binds as INTEGER, exactly; anything else as REAL), a string, {"base64": "…"} (BLOB), {"integer": "…"} (64-bit INTEGER as digits) or {"real": n}.'),
);

/** Positional (`?`, `?NNN`) or named (`:a`, `@a`, `$a`) parameters of one statement. */
export const Params = v.pipe(
  v.union([v.array(Param), v.pipe(v.custom<Record<string, v.InferInput<typeof Param>>>(isPlainObject), v.record(v.string(), Param))], "must be an array or an object"),
  v.description("A positional array (?, ?NNN) or an object of named parameters (:a, @a, $a; keys with or without the prefix)."),
);

const SQL = v.pipe(
  v.string("must be a non-empty string"),
  v.check((s) => s.trim() !== "", "must be a non-empty string"),
  v.description("Exactly one statement; a trailing ;, whitespace and comments are fine."),
);

/** One statement of a batch. */
export const Statement = object({ sql: SQL, params: v.nullish(Params) }, 'an object with "sql"');

const nonNegative = (what: string) => v.optional(v.pipe(v.number("must be a non-negative number"), v.minValue(0, "must be a non-negative number"), v.description(what)));

/** What a request may lower for itself (never raise); the keys of `REQUEST_LIMIT_KEYS`. */
export const RequestLimits = v.pipe(
  object(
    {
      max_rows: nonNegative("most rows in the response (all statements)"),
      max_storage_requests: nonNegative("subrequests (storage reads + Cache API operations + index loads)"),
      timeout_ms: nonNegative("time budget once the query runs, ms"),
      max_response_bytes: nonNegative("largest response (approximate JSON size of all rows), bytes"),
      max_vm_steps: nonNegative("SQLite VM steps (the CPU guard that needs no clock)"),
    },
    "an object",
  ),
  v.description("Lower the server's limits for this request (never raise them)."),
);

/** The read options every query and batch takes: where in the replica's history to read, and how to answer. */
const readOptions = {
  min_txid: v.pipe(v.nullish(Txid), v.description("Read-your-writes bookmark: wait (up to max_wait_ms) until the replica has reached this TXID.")),
  txid: v.pipe(v.nullish(Txid), v.description("Time travel: the database exactly as of this TXID.")),
  timestamp: v.nullish(Timestamp),
  max_staleness_ms: v.nullish(
    v.pipe(
      v.number("must be a non-negative number of milliseconds"),
      v.minValue(0, "must be a non-negative number of milliseconds"),
      v.description("Live reads: the replica position must have been confirmed by a poll within this many ms, else 503 REPLICA_STALE."),
    ),
  ),
  integers: v.nullish(
    v.pipe(
      v.picklist(["number", "string"], 'must be "number" or "string"'),
      v.description('"string": integers outside ±(2^53−1) are written as strings, for JSON parsers that would round them.'),
    ),
    "number",
  ),
  limits: v.optional(RequestLimits),
} as const;

/** `POST /db/:name/query`. */
export const QueryRequest = object({ sql: SQL, params: v.nullish(Params), ...readOptions }, "a JSON object");

/** `POST /db/:name/batch`: every statement on one snapshot. */
export const BatchRequest = object(
  {
    statements: v.pipe(
      v.array(v.union([v.pipe(v.string(), v.description("a statement without parameters")), Statement], 'must be a string or an object with "sql"'), "must be a non-empty array"),
      v.minLength(1, "must be a non-empty array"),
      v.description("Statements run in order on the same snapshot; the first failure fails the batch."),
    ),
    ...readOptions,
  },
  "a JSON object",
);

/** The query string of `GET /db`. */
export const DatabaseListQuery = object(
  {
    limit: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^\d{1,4}$/, "must be an integer from 1 to 1000"),
        v.transform(Number),
        v.number(),
        v.integer(),
        v.minValue(1, "must be an integer from 1 to 1000"),
        v.maxValue(1000, "must be an integer from 1 to 1000"),
        v.description("databases per page (default 100)"),
      ),
    ),
    cursor: v.optional(v.pipe(v.string(), v.description("the cursor of the previous page"))),
  },
  "a query string",
);

/** The path parameter naming a database. */
export const DatabaseName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/), v.description("a database name (no .., at most 128 characters)"));

/**
 * The stable code for a problem at a field, by the first field of its path
 * found here; anything else is `BAD_REQUEST` (or `UNKNOWN_FIELD`).
 */
export const FIELD_CODES: Readonly<Record<string, string>> = {
  params: "SQL_BAD_PARAMS",
  min_txid: "INVALID_TXID",
  txid: "INVALID_TXID",
  timestamp: "INVALID_TIMESTAMP",
};

export type QueryBody = v.InferInput<typeof QueryRequest>;
export type BatchBody = v.InferInput<typeof BatchRequest>;
export type StatementBody = v.InferInput<typeof Statement>;
export type ParamBody = v.InferInput<typeof Param>;
export type LimitsBody = v.InferInput<typeof RequestLimits>;
