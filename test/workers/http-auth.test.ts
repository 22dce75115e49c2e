/**
 * Bearer-token auth over HTTP. The tests' env has no API_TOKEN, so the
 * worker serves local hosts only; tokens are tested by calling the app
 * factory with a copy of the env that carries them (DATABASES and LIMITS are
 * parsed once per env object, so each scenario gets its own object).
 */
import { type Reply, expectError } from "../support/http.ts";
import { env, exports } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApp } from "../../src/app.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
/** Has a per-database token (when configured so); its prefix equals its name, so the DO finds it in serve-all mode too. */
const DB_A = `auth-a-${uid}`;
/** No per-database token. */
const DB_B = `auth-b-${uid}`;

const app = createApp();
type Bindings = typeof env & Record<string, unknown>;

/** A fresh env object (so per-env caches start empty) with extra vars/secrets. */
function envWith(extra: Record<string, unknown>): Bindings {
  return { ...env, ...extra };
}

const QUERY = JSON.stringify({ sql: "SELECT count(*) FROM users" });

async function viaApp(e: Bindings, url: string, init: RequestInit = {}): Promise<Reply> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(url, init), e, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function viaWorker(url: string, init: RequestInit = {}): Promise<Reply> {
  const res = await exports.default.fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const queryInit = (headers: Record<string, string> = {}): RequestInit => ({ method: "POST", body: QUERY, headers });

function expectCount(r: Reply): void {
  expect(r.status, r.text).toBe(200);
  expect((JSON.parse(r.text) as { rows: unknown[][] }).rows).toEqual([[38]]);
}

beforeAll(async () => {
  await seedReplica(r2, "small", DB_A);
  await seedReplica(r2, "small", DB_B);
});

afterAll(async () => {
  for (const name of [DB_A, DB_B]) await env.DB_INDEX.getByName(name).stop();
});

describe("no API_TOKEN configured (the tests' env)", () => {
  test("local hosts are served without a token", async () => {
    for (const host of ["http://localhost", "http://127.0.0.1", "http://[::1]", "http://ltx.localhost"]) {
      expectCount(await viaWorker(`${host}/db/${DB_A}/query`, queryInit()));
    }
    const list = await viaWorker("http://localhost/db");
    expect(list.status, list.text).toBe(200);
  });

  test("any other host gets 401 UNAUTHORIZED telling how to set the token", async () => {
    const how = /API_TOKEN.*wrangler secret put API_TOKEN/;
    expectError(await viaWorker(`http://example.com/db/${DB_A}/query`, queryInit()), 401, "UNAUTHORIZED", how);
    expectError(await viaWorker(`http://example.com/db/${DB_A}/batch`, { method: "POST", body: JSON.stringify({ statements: ["SELECT 1"] }) }), 401, "UNAUTHORIZED", how);
    expectError(await viaWorker(`http://example.com/db/${DB_A}`), 401, "UNAUTHORIZED", how);
    expectError(await viaWorker("http://example.com/db"), 401, "UNAUTHORIZED", how);
    expectError(await viaWorker("http://localhost.example.com/db"), 401, "UNAUTHORIZED", how);
    expectError(await viaWorker("http://127.0.0.1.nip.io/db"), 401, "UNAUTHORIZED", how);
  });

  test("a bearer token does not open a deployment that has none configured", async () => {
    expectError(await viaWorker(`http://example.com/db/${DB_A}/query`, queryInit(bearer("anything"))), 401, "UNAUTHORIZED", /API_TOKEN/);
  });

  test('an ENVIRONMENT = "development" variable does not open the API to other hosts', async () => {
    expectError(await viaApp(envWith({ ENVIRONMENT: "development" }), `http://example.com/db/${DB_A}/query`, queryInit()), 401, "UNAUTHORIZED");
  });

  test('ALLOW_UNAUTHENTICATED = "true" opens every host; any other value does not', async () => {
    expectCount(await viaApp(envWith({ ALLOW_UNAUTHENTICATED: "true" }), `http://example.com/db/${DB_A}/query`, queryInit()));
    for (const v of ["1", "yes", "TRUE", ""]) {
      expectError(await viaApp(envWith({ ALLOW_UNAUTHENTICATED: v }), `http://example.com/db/${DB_A}/query`, queryInit()), 401, "UNAUTHORIZED");
    }
  });

  test("auth is checked before the body: an unauthenticated malformed or oversized body still gets 401", async () => {
    expectError(await viaWorker(`http://example.com/db/${DB_A}/query`, { method: "POST", body: "{not json" }), 401, "UNAUTHORIZED");
    expectError(await viaWorker(`http://example.com/db/${DB_A}/query`, { method: "POST", body: "x".repeat(2 * 1024 * 1024) }), 401, "UNAUTHORIZED");
  });

  test("GET /health stays open (no data)", async () => {
    const r = await viaWorker("http://example.com/health");
    expect(r.status, r.text).toBe(200);
    expect((JSON.parse(r.text) as { ok: boolean }).ok).toBe(true);
  });
});

describe("global API_TOKEN with two rotated tokens", () => {
  const e = () => envWith({ API_TOKEN: "secret1,secret2" });
  const url = `http://example.com/db/${DB_A}/query`;

  test("missing header → 401 UNAUTHORIZED saying how to send it", async () => {
    expectError(await viaApp(e(), url, queryInit()), 401, "UNAUTHORIZED", /Authorization: Bearer <token>/);
  });

  test("a configured token is required on local hosts too", async () => {
    expectError(await viaApp(e(), `http://localhost/db/${DB_A}/query`, queryInit()), 401, "UNAUTHORIZED");
    expectCount(await viaApp(e(), `http://localhost/db/${DB_A}/query`, queryInit(bearer("secret1"))));
  });

  test("wrong token → 403 FORBIDDEN", async () => {
    for (const t of ["nope", "secret", "secret10", "secret1,secret2", "Secret1", "secret1x", "ecret1"]) {
      expectError(await viaApp(e(), url, queryInit(bearer(t))), 403, "FORBIDDEN", /invalid token/);
    }
  });

  test("either rotated token works, on query, batch, status and list", async () => {
    for (const t of ["secret1", "secret2"]) {
      expectCount(await viaApp(e(), url, queryInit(bearer(t))));
      const batch = await viaApp(e(), `http://example.com/db/${DB_A}/batch`, { method: "POST", body: JSON.stringify({ statements: ["SELECT 1"] }), headers: bearer(t) });
      expect(batch.status, batch.text).toBe(200);
      const status = await viaApp(e(), `http://example.com/db/${DB_A}`, { headers: bearer(t) });
      expect(status.status, status.text).toBe(200);
      expect((JSON.parse(status.text) as { name: string }).name).toBe(DB_A);
      const list = await viaApp(e(), "http://example.com/db", { headers: bearer(t) });
      expect(list.status, list.text).toBe(200);
      expect((JSON.parse(list.text) as { databases: { name: string }[] }).databases.map((d) => d.name)).toContain(DB_A);
    }
  });

  test("the Bearer scheme is case-insensitive and surrounding whitespace is ignored", async () => {
    for (const h of ["bearer secret1", "BEARER secret2", "BeArEr secret1", "Bearer   secret2", "Bearer secret1  ", "Bearer\tsecret1"]) {
      expectCount(await viaApp(e(), url, queryInit({ authorization: h })));
    }
  });

  test("tokens in API_TOKEN are trimmed; empty entries are ignored", async () => {
    const spaced = envWith({ API_TOKEN: " secret1 , ,secret2 ," });
    expectCount(await viaApp(spaced, url, queryInit(bearer("secret1"))));
    expectCount(await viaApp(spaced, url, queryInit(bearer("secret2"))));
    expectError(await viaApp(spaced, url, queryInit(bearer(""))), 401, "UNAUTHORIZED");
  });

  test("other schemes or no token after Bearer → 401 UNAUTHORIZED", async () => {
    for (const h of ["Basic c2VjcmV0MTo=", "secret1", "Bearer", "Bearer ", "Token secret1", "Bearersecret1"]) {
      expectError(await viaApp(e(), url, queryInit({ authorization: h })), 401, "UNAUTHORIZED", /bearer token/);
    }
  });

  test("errors are the API's JSON shape", async () => {
    const r = await viaApp(e(), url, queryInit(bearer("nope")));
    expect(r.headers.get("content-type") ?? "").toMatch(/^application\/json/);
    expect(Object.keys(JSON.parse(r.text) as object)).toEqual(["error"]);
  });
});

describe("per-database token (token_secret)", () => {
  const DATABASES = {
    poll_interval_ms: 3_600_000,
    databases: { [DB_A]: { token_secret: "DB_TOKEN_X" } },
  };

  test("with a global token as well: the database token opens only its database; GET /db needs the global token", async () => {
    const e = envWith({ DATABASES, DB_TOKEN_X: "dbtok", API_TOKEN: "global1" });
    const a = `http://example.com/db/${DB_A}`;
    const b = `http://example.com/db/${DB_B}`;
    expectCount(await viaApp(e, `${a}/query`, queryInit(bearer("dbtok"))));
    expectCount(await viaApp(e, `${a}/query`, queryInit(bearer("global1"))));
    const status = await viaApp(e, a, { headers: bearer("dbtok") });
    expect(status.status, status.text).toBe(200);
    const batch = await viaApp(e, `${a}/batch`, { method: "POST", body: JSON.stringify({ statements: ["SELECT 1"] }), headers: bearer("dbtok") });
    expect(batch.status, batch.text).toBe(200);
    expectError(await viaApp(e, `${a}/query`, queryInit()), 401, "UNAUTHORIZED");
    expectError(await viaApp(e, `${a}/query`, queryInit(bearer("wrong"))), 403, "FORBIDDEN");

    expectError(await viaApp(e, `${b}/query`, queryInit(bearer("dbtok"))), 403, "FORBIDDEN");
    expectError(await viaApp(e, b, { headers: bearer("dbtok") }), 403, "FORBIDDEN");
    expectCount(await viaApp(e, `${b}/query`, queryInit(bearer("global1"))));

    expectError(await viaApp(e, "http://example.com/db", { headers: bearer("dbtok") }), 403, "FORBIDDEN");
    const list = await viaApp(e, "http://example.com/db", { headers: bearer("global1") });
    expect(list.status, list.text).toBe(200);
    const names = (JSON.parse(list.text) as { databases: { name: string }[] }).databases.map((d) => d.name);
    expect(names).toContain(DB_A);
    expect(names).toContain(DB_B);
  });

  test("without a global token: the database needs its token even locally, other databases stay local-only, GET /db stays closed remotely", async () => {
    const e = envWith({ DATABASES, DB_TOKEN_X: "dbtok" });
    expectError(await viaApp(e, `http://localhost/db/${DB_A}/query`, queryInit()), 401, "UNAUTHORIZED", /bearer token/);
    expectCount(await viaApp(e, `http://localhost/db/${DB_A}/query`, queryInit(bearer("dbtok"))));
    expectCount(await viaApp(e, `http://example.com/db/${DB_A}/query`, queryInit(bearer("dbtok"))));
    expectCount(await viaApp(e, `http://localhost/db/${DB_B}/query`, queryInit()));
    expectError(await viaApp(e, `http://example.com/db/${DB_B}/query`, queryInit(bearer("dbtok"))), 401, "UNAUTHORIZED");
    expectError(await viaApp(e, "http://example.com/db", { headers: bearer("dbtok") }), 401, "UNAUTHORIZED");
  });

  test("rotation works for database tokens too", async () => {
    const e = envWith({ DATABASES, DB_TOKEN_X: "old,new", API_TOKEN: "global1" });
    expectCount(await viaApp(e, `http://example.com/db/${DB_A}/query`, queryInit(bearer("old"))));
    expectCount(await viaApp(e, `http://example.com/db/${DB_A}/query`, queryInit(bearer("new"))));
    expectError(await viaApp(e, `http://example.com/db/${DB_B}/query`, queryInit(bearer("new"))), 403, "FORBIDDEN");
  });
});

describe("CORS", () => {
  test("no CORS headers by default; CORS_ORIGINS allows listed origins, with preflight", async () => {
    const plain = await viaApp(envWith({}), `http://localhost/health`, { headers: { origin: "https://app.example" } });
    expect(plain.headers.get("access-control-allow-origin")).toBeNull();
    const e = envWith({ CORS_ORIGINS: "https://app.example, https://other.example" });
    const ok = await viaApp(e, `http://localhost/health`, { headers: { origin: "https://app.example" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("access-control-expose-headers")).toMatch(/x-ltx-txid/);
    const pre = await viaApp(e, `http://localhost/db/${DB_A}/query`, {
      method: "OPTIONS",
      headers: { origin: "https://other.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://other.example");
    expect(pre.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    const denied = await viaApp(e, `http://localhost/health`, { headers: { origin: "https://evil.example" } });
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });
});
