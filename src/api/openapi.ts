/**
 * @module
 * The OpenAPI 3.1 document of the HTTP API, built from the request and
 * response schemas and the table of operations below. The Worker serves it
 * at `GET /openapi.json`; `npm run openapi` writes the same document to
 * `docs/openapi.json`, and a test checks both against the routes the app has.
 */
import { type ConversionConfig, type JsonSchema, toJsonSchemaDefs } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { BatchRequest, DatabaseListQuery, DatabaseName, Param, Params, QueryRequest, RequestLimits, Statement, Timestamp, Txid } from "./requests.ts";
import { BatchResult, DatabaseList, DatabaseStatus, ErrorBody, Health, HranaPipeline, Index, Meta, QueryResult, Value } from "./responses.ts";

/** The version of the API the document describes (the package's). */
const VERSION = "0.1.0";

/** Every named schema: each becomes `#/components/schemas/<name>` and is referenced wherever it is used. */
const COMPONENTS = {
  QueryRequest,
  BatchRequest,
  Statement,
  Params,
  Param,
  Txid,
  Timestamp,
  RequestLimits,
  QueryResult,
  BatchResult,
  Meta,
  Value,
  Error: ErrorBody,
  DatabaseList,
  DatabaseStatus,
  Health,
  Index,
  HranaPipeline,
} satisfies Record<string, v.GenericSchema>;

type ComponentName = keyof typeof COMPONENTS;

/** One route of the API as the document describes it. */
export interface Operation {
  method: "get" | "post";
  /** Hono's spelling (`/db/:name/query`). */
  path: string;
  summary: string;
  /** Whether a bearer token is needed (when one is configured). */
  auth: boolean;
  body?: ComponentName;
  /** A strict object schema of the query string. */
  query?: v.GenericSchema;
  ok: { description: string; schema?: ComponentName; text?: true; headers?: readonly string[] };
  /** Error statuses this route answers with besides 500. */
  errors: readonly number[];
}

const QUERY_ERRORS = [400, 401, 403, 404, 408, 409, 410, 413, 415, 422, 502, 503, 504] as const;
const QUERY_HEADERS = ["Server-Timing", "X-Ltx-Txid", "X-Ltx-Replica-State", "X-Ltx-Staleness-Ms"] as const;

/** The routes of the API, in the order the document lists them. */
export const OPERATIONS: readonly Operation[] = [
  { method: "get", path: "/", summary: "The endpoints of this API", auth: false, ok: { description: "endpoints", schema: "Index" }, errors: [] },
  { method: "get", path: "/openapi.json", summary: "This document", auth: false, ok: { description: "OpenAPI 3.1" }, errors: [] },
  { method: "get", path: "/health", summary: "Liveness; 500 CONFIG_INVALID when DATABASES or LIMITS is broken", auth: false, ok: { description: "ok", schema: "Health" }, errors: [] },
  {
    method: "get",
    path: "/db",
    summary: "Databases in name order, a page at a time (configured ones and the bucket's folders)",
    auth: true,
    query: DatabaseListQuery,
    ok: { description: "databases", schema: "DatabaseList" },
    errors: [400, 401, 403],
  },
  { method: "get", path: "/db/:name", summary: "Replica status from the database's Durable Object", auth: true, ok: { description: "status", schema: "DatabaseStatus" }, errors: [401, 403, 404, 502, 503] },
  {
    method: "post",
    path: "/db/:name/query",
    summary: "Run one read-only statement on one snapshot",
    auth: true,
    body: "QueryRequest",
    ok: { description: "rows", schema: "QueryResult", headers: QUERY_HEADERS },
    errors: QUERY_ERRORS,
  },
  {
    method: "post",
    path: "/db/:name/batch",
    summary: "Run several read-only statements in order on one snapshot",
    auth: true,
    body: "BatchRequest",
    ok: { description: "one result per statement", schema: "BatchResult", headers: QUERY_HEADERS },
    errors: QUERY_ERRORS,
  },
  ...(["v2", "v3"] as const).flatMap((ver): Operation[] => [
    { method: "get", path: `/db/:name/${ver}`, summary: `Hrana over HTTP ${ver}: version probe`, auth: false, ok: { description: "supported", text: true }, errors: [] },
    {
      method: "post",
      path: `/db/:name/${ver}/pipeline`,
      summary: `Hrana over HTTP ${ver} (JSON) for libSQL clients (docs/hrana.md)`,
      auth: true,
      body: "HranaPipeline",
      ok: { description: "pipeline results", schema: "HranaPipeline" },
      errors: [400, 401, 403, 404, 413, 415, 502, 503, 504],
    },
  ]),
];

const CONVERSION: ConversionConfig = {
  target: "draft-2020-12",
  // Requests are described as sent; a pipe that converts (GET /db's limit) from its last schema on.
  typeMode: "output",
  // Checks that JSON Schema cannot say (a parsable TXID or time) are in the descriptions.
  ignoreActions: ["check", "finite"],
  overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
  overrideSchema: ({ valibotSchema }) =>
    valibotSchema.type === "bigint" ? { type: "integer", description: "an integer literal beyond ±(2^53−1), read exactly from the JSON text" } : undefined,
};

const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });

/** `/db/:name/query` → `/db/{name}/query`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, "{$1}");
}

/** The parameters of an operation: path segments, then the fields of its query string. */
function parameters(op: Operation, name: JsonSchema): unknown[] {
  const out: unknown[] = [];
  if (op.path.includes(":name")) out.push({ name: "name", in: "path", required: true, description: name.description, schema: { ...name, description: undefined } });
  if (op.query) {
    const q = toJsonSchemaDefs({ q: op.query }, CONVERSION).q;
    for (const [field, schema] of Object.entries((q?.properties ?? {}) as Record<string, JsonSchema>)) {
      const { description, ...rest } = schema;
      out.push({ name: field, in: "query", required: false, description, schema: rest });
    }
  }
  return out;
}

function responses(op: Operation): Record<string, unknown> {
  const ok: Record<string, unknown> = { description: op.ok.description };
  if (op.ok.headers) ok.headers = Object.fromEntries(op.ok.headers.map((h) => [h, { schema: { type: "string" } }]));
  if (op.ok.schema) ok.content = { "application/json": { schema: ref(op.ok.schema) } };
  else if (op.ok.text) ok.content = { "text/plain": { schema: { type: "string" } } };
  else ok.content = { "application/json": { schema: { type: "object" } } };
  const out: Record<string, unknown> = { "200": ok };
  for (const status of [...op.errors, 500]) out[String(status)] = { $ref: "#/components/responses/Error" };
  return out;
}

/** Builds the document (deterministic: the same schemas give the same JSON text). */
export function buildOpenApi(): Record<string, unknown> {
  const name = toJsonSchemaDefs({ name: DatabaseName }, CONVERSION).name ?? {};
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const item = (paths[openApiPath(op.path)] ??= {});
    item[op.method] = {
      summary: op.summary,
      ...(op.auth ? {} : { security: [] }),
      ...(op.path.includes(":") || op.query ? { parameters: parameters(op, name) } : {}),
      ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: ref(op.body) } } } } : {}),
      responses: responses(op),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ltx-edge",
      version: VERSION,
      description:
        "Read-only SQL over Litestream replicas at the edge. Generated from the request schemas (src/api/); see docs/http-api.md for the prose. " +
        "Every request object is strict: an unknown field is refused with 400 UNKNOWN_FIELD naming it.",
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      responses: { Error: { description: "{error: {code, message}} with a stable code (docs/http-api.md#errors)", content: { "application/json": { schema: ref("Error") } } } },
      schemas: toJsonSchemaDefs(COMPONENTS, CONVERSION),
    },
  };
}

/** The document as `docs/openapi.json` holds it. */
export function openApiText(): string {
  return `${JSON.stringify(buildOpenApi(), null, 2)}\n`;
}
