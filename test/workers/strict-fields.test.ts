/**
 * Every request field docs/openapi.json documents — of /query and /batch
 * bodies, of a batch statement, of `limits`, of a parameter object, and of
 * GET /db's query string — is accepted as spelled, and refused when
 * misspelled (a dropped letter, a plural, upper case, camelCase), naming the
 * misspelled field. The fields come from the document, so a new one without
 * a case here fails the test.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import spec from "../../docs/openapi.json";
import { R2Store } from "../../src/replica/r2.ts";
import { type Bindings, envWith, uniqueName, viaApp } from "../support/app.ts";
import { type Reply, expectError } from "../support/http.ts";
import { manifest, seedReplica } from "../support/seed.ts";

type Where = "query" | "batch" | "statement" | "limits" | "param" | "db-list";

interface Field {
  where: Where;
  name: string;
}

const schemas = spec.components.schemas as Record<string, { properties?: Record<string, unknown>; anyOf?: { properties?: Record<string, unknown> }[] }>;
const props = (name: string): string[] => Object.keys(schemas[name]?.properties ?? {});

/** The documented request fields, read from the document. */
const FIELDS: Field[] = [
  ...props("QueryRequest").map((name) => ({ where: "query" as const, name })),
  ...props("BatchRequest").map((name) => ({ where: "batch" as const, name })),
  ...props("Statement").map((name) => ({ where: "statement" as const, name })),
  ...props("RequestLimits").map((name) => ({ where: "limits" as const, name })),
  ...(schemas.Param?.anyOf ?? []).flatMap((o) => Object.keys(o.properties ?? {}).map((name) => ({ where: "param" as const, name }))),
  ...spec.paths["/db"].get.parameters.map((p) => ({ where: "db-list" as const, name: p.name })),
];

const DB = uniqueName("strict-fields");
const OTHER = uniqueName("strict-fields-b");
let e: Bindings;
let finalTxid = "";
/** A cursor GET /db handed out, valid for the next page. */
let cursor = "";

/** A valid value for each documented field (`<where>.<name>`); SQL that needs one parameter where the field is a parameter. */
function sample(f: Field): unknown {
  const values: Record<string, unknown> = {
    sql: "SELECT count(*) FROM users",
    params: [7],
    statements: ["SELECT count(*) FROM users"],
    min_txid: "0000000000000001",
    txid: finalTxid,
    timestamp: "-1s",
    max_staleness_ms: 3_600_000,
    integers: "string",
    limits: { max_rows: 100 },
    max_rows: 100,
    max_storage_requests: 400,
    timeout_ms: 5000,
    max_response_bytes: 100_000,
    max_vm_steps: 10_000_000,
    base64: "AP8=",
    integer: "5",
    real: 1.5,
    limit: "1",
    cursor,
  };
  if (!(f.name in values)) throw new Error(`no sample value for the documented field ${f.where}.${f.name}: add one`);
  return values[f.name];
}

/** The request with `key` (the field's name, or a misspelling) carrying the field's sample value. */
function request(f: Field, key: string): Promise<Reply> {
  const value = sample(f);
  const post = (kind: "query" | "batch", body: Record<string, unknown>) =>
    viaApp(e, `/db/${DB}/${kind}`, { method: "POST", body: JSON.stringify(body) });
  const sql = f.name === "params" ? "SELECT ?" : "SELECT count(*) FROM users";
  switch (f.where) {
    case "query":
      return post("query", { ...(f.name === "sql" ? {} : { sql }), [key]: value });
    case "batch":
      return post("batch", { ...(f.name === "statements" ? {} : { statements: ["SELECT 1"] }), [key]: value });
    case "statement":
      return post("batch", { statements: ["SELECT 1", { ...(f.name === "sql" ? {} : { sql }), [key]: value }] });
    case "limits":
      return post("query", { sql, limits: { [key]: value } });
    case "param":
      return post("query", { sql: "SELECT ?", params: [{ [key]: value }] });
    case "db-list":
      return viaApp(e, `/db?${new URLSearchParams({ [key]: String(value) }).toString()}`);
  }
}

/** Where the misspelled field is, as the error names it. */
function shownAs(f: Field, key: string): string {
  const prefix = { query: "body.", batch: "body.", statement: "body.statements[1].", limits: "body.limits.", param: "", "db-list": "query." }[f.where];
  return `${prefix}${key}`;
}

/** A dropped letter, a plural, upper case, and camelCase when the name has an underscore. */
function misspellings(name: string): string[] {
  const mid = Math.floor(name.length / 2);
  const out = [name.slice(0, mid) + name.slice(mid + 1), `${name}s`, name.toUpperCase()];
  if (name.includes("_")) out.push(name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()));
  return out;
}

beforeAll(async () => {
  const r2 = new R2Store(env.BUCKET);
  await seedReplica(r2, "small", DB);
  await seedReplica(r2, "small", OTHER);
  finalTxid = (await manifest("small")).final_txid;
  e = envWith({ ALLOW_UNAUTHENTICATED: "true" });
  const page = JSON.parse((await viaApp(e, "/db?limit=1")).text) as { cursor: string | null };
  expect(page.cursor).toEqual(expect.any(String));
  cursor = page.cursor ?? "";
});

afterAll(async () => {
  for (const name of [DB, OTHER]) await env.DB_INDEX.getByName(name).stop();
});

describe("documented request fields", () => {
  test("the document lists the fields of every request object", () => {
    const by = (w: Where) => FIELDS.filter((f) => f.where === w).map((f) => f.name);
    expect(by("query")).toEqual(["sql", "params", "min_txid", "txid", "timestamp", "max_staleness_ms", "integers", "limits"]);
    expect(by("batch")).toEqual(["statements", "min_txid", "txid", "timestamp", "max_staleness_ms", "integers", "limits"]);
    expect(by("statement")).toEqual(["sql", "params"]);
    expect(by("limits")).toEqual(["max_rows", "max_storage_requests", "timeout_ms", "max_response_bytes", "max_vm_steps"]);
    expect(by("param")).toEqual(["base64", "integer", "real"]);
    expect(by("db-list")).toEqual(["limit", "cursor"]);
  });

  test.each(FIELDS.map((f) => [`${f.where}.${f.name}`, f] as const))("%s: accepted as spelled, refused misspelled", async (_, f) => {
    const ok = await request(f, f.name);
    expect(ok.status, ok.text).toBe(200);
    for (const [i, key] of misspellings(f.name).entries()) {
      const r = await request(f, key);
      // Inside `params` the statement's parameters are at fault: SQL_BAD_PARAMS, still naming the field.
      const message = f.where === "param" ? expectError(r, 400, "SQL_BAD_PARAMS") : expectError(r, 400, "UNKNOWN_FIELD");
      expect(message).toContain(f.where === "param" ? `params[0]: unknown field ${key}` : `unknown field ${shownAs(f, key)}`);
      expect(message).toContain(f.name);
      // One letter off: the error suggests the right name.
      if (i === 0) expect(message).toContain(`did you mean ${f.name}?`);
    }
  });

  test("the issue's example: min_txd is refused, not ignored (its wait would have been dropped)", async () => {
    const r = await viaApp(e, `/db/${DB}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1", min_txd: "00000000000000ff" }) });
    expectError(r, 400, "UNKNOWN_FIELD", /^unknown field body\.min_txd; did you mean min_txid\? allowed: sql, params, min_txid,/);
  });

  test("a field of /query is unknown in /batch and the other way round", async () => {
    expectError(await viaApp(e, `/db/${DB}/batch`, { method: "POST", body: JSON.stringify({ statements: ["SELECT 1"], sql: "SELECT 2" }) }), 400, "UNKNOWN_FIELD", /unknown field body\.sql/);
    expectError(await viaApp(e, `/db/${DB}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1", statements: [] }) }), 400, "UNKNOWN_FIELD", /unknown field body\.statements/);
    // The read options belong to the request, not to one statement of it.
    const inStatement = { statements: [{ sql: "SELECT 1", txid: finalTxid }] };
    expectError(await viaApp(e, `/db/${DB}/batch`, { method: "POST", body: JSON.stringify(inStatement) }), 400, "UNKNOWN_FIELD", /unknown field body\.statements\[0\]\.txid/);
  });

  test("server-only limits cannot be set per request: an unknown field of limits", async () => {
    const r = await viaApp(e, `/db/${DB}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1", limits: { max_wait_ms: 10 } }) });
    expectError(r, 400, "UNKNOWN_FIELD", /unknown field body\.limits\.max_wait_ms; allowed: max_rows, max_storage_requests, timeout_ms, max_response_bytes, max_vm_steps/);
  });
});
