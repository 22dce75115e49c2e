/**
 * A database configured explicitly (with its own token) is reachable only
 * under its own name: never also as a bucket folder in serve-all mode, where
 * its token_secret would not apply — with or without a global token.
 */
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { envWith, queryVia, uniqueName, viaApp } from "../support/app.ts";
import { expectError } from "../support/http.ts";
import { seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const RAW = uniqueName("raw-secure");
const NAME = uniqueName("secure");
const databases = { databases: { [NAME]: { prefix: RAW, token_secret: "SECURE_TOKEN" } } };

beforeAll(async () => {
  await seedReplica(r2, "small", RAW);
});

afterAll(async () => {
  await env.DB_INDEX.getByName(RAW).stop();
});

test("no global token: the raw prefix is not a database, the name needs its token", async () => {
  const e = envWith({ DATABASES: databases, SECURE_TOKEN: "s3cret" });
  expectError(await queryVia(e, RAW, { sql: "SELECT count(*) FROM users" }), 404, "DB_NOT_FOUND");
  expectError(await queryVia(e, NAME, { sql: "SELECT count(*) FROM users" }), 401, "UNAUTHORIZED");
});

test("with a global token too, the raw prefix stays unreachable and unlisted", async () => {
  const e = envWith({ DATABASES: databases, SECURE_TOKEN: "s3cret", API_TOKEN: "global" });
  const auth = { authorization: "Bearer global" };
  const r = await viaApp(e, `/db/${RAW}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT 1" }), headers: auth });
  expectError(r, 404, "DB_NOT_FOUND");
  const list = await viaApp(e, "/db", { headers: auth });
  expect(list.status, list.text).toBe(200);
  const names = (JSON.parse(list.text) as { databases: { name: string }[] }).databases.map((d) => d.name);
  expect(names).toContain(NAME);
  expect(names).not.toContain(RAW);
});
