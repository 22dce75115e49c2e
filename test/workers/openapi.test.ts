/**
 * docs/openapi.json is generated from the request schemas (src/api/), served
 * at GET /openapi.json, and describes exactly the routes the Hono app has.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import spec from "../../docs/openapi.json";
import { createApp } from "../../src/app.ts";
import { MAX_PAGE } from "../../src/query/databases.ts";

type Doc = typeof spec & Record<string, unknown>;

/** Routes that only ever answer with an error telling the client what to do instead (Hrana URLs without the database). */
const ERROR_ONLY = new Set(["POST /db/v2/pipeline", "POST /v2/pipeline", "POST /db/v3/pipeline", "POST /v3/pipeline"]);

async function served(): Promise<Doc> {
  const res = await exports.default.fetch("http://localhost/openapi.json");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Doc;
}

/** `GET /db/:name` for every operation of the document. */
function documented(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`));
}

describe("GET /openapi.json", () => {
  test("is docs/openapi.json exactly (regenerate with `npm run openapi`)", async () => {
    expect(await served()).toEqual(spec);
  });

  test("describes every GET and POST route of the app, and nothing else", () => {
    // `app.all` routes answer 405/404 for the other methods of a documented path; middleware is "*".
    const routes = createApp()
      .routes.filter((r) => r.method === "GET" || r.method === "POST")
      .map((r) => `${r.method} ${r.path}`);
    for (const r of ERROR_ONLY) expect(routes, "the exclusion list names real routes").toContain(r);
    const ops = documented(spec as Doc);
    expect(new Set(ops).size).toBe(ops.length);
    // The web console (/console/*) serves HTML, not the API: it is not part of the description.
    const api = routes.filter((r) => !ERROR_ONLY.has(r) && !/ \/console(\/|$)/.test(r));
    expect([...ops].sort()).toEqual(api.sort());
  });

  test("GET / lists the same endpoints", async () => {
    const res = await exports.default.fetch("http://localhost/");
    const index = (await res.json()) as { endpoints: string[]; openapi: string };
    expect(index.endpoints).toEqual(documented(spec as Doc));
    expect(index.openapi).toBe("/openapi.json");
  });

  test("every documented operation is routed (a missing database, never a missing route)", async () => {
    for (const op of documented(spec as Doc)) {
      const [method = "", path = ""] = op.split(" ");
      const res = await exports.default.fetch(`http://localhost${path.replace(":name", "openapi-no-such-db")}`, {
        method,
        ...(method === "POST" ? { body: "{}" } : {}),
      });
      const text = await res.text();
      if (res.status === 404) expect(JSON.parse(text), op).not.toMatchObject({ error: { code: "NOT_FOUND" } });
    }
  });

  test("every $ref resolves, and GET /db's limit matches the server's page size", () => {
    const refs: string[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (typeof x === "object" && x !== null) {
        for (const [k, v] of Object.entries(x)) {
          if (k === "$ref" && typeof v === "string") refs.push(v);
          else walk(v);
        }
      }
    };
    walk(spec);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const target = ref
        .replace(/^#\//, "")
        .split("/")
        .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], spec);
      expect(target, ref).toBeTypeOf("object");
    }
    const limit = spec.paths["/db"].get.parameters.find((p) => p.name === "limit");
    expect(limit?.schema).toMatchObject({ type: "integer", minimum: 1, maximum: MAX_PAGE });
  });

  test("request objects are strict in the document too", () => {
    const schemas = spec.components.schemas as Record<string, { additionalProperties?: unknown }>;
    for (const name of ["QueryRequest", "BatchRequest", "Statement", "RequestLimits"]) expect(schemas[name]?.additionalProperties, name).toBe(false);
  });
});
