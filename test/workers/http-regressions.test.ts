/**
 * Regressions found by an independent review of the HTTP API: time travel
 * after a replaced or repaired replica, the operator guard and comments,
 * exact integer params, fail-closed per-database tokens, batch error messages.
 */
import { env, exports } from "cloudflare:workers";
import { createExecutionContext, runDurableObjectAlarm, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, test } from "vitest";
import { createApp } from "../../src/app.ts";
import { FULL_LIST_EVERY } from "../../src/durable/follower.ts";
import { decodeLtxFile } from "../../src/ltx/decoder.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { expectError } from "../support/http.ts";
import { fixtureBytes, manifest, seedReplica, wipe } from "../support/seed.ts";
import { waitUntil } from "../support/wait.ts";

const r2 = new R2Store(env.BUCKET);
const uid = Date.now().toString(36);
const app = createApp();

async function post(db: string, body: unknown, kind = "query", headers: Record<string, string> = {}) {
  const res = await exports.default.fetch(`http://localhost/db/${db}/${kind}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
  return { status: res.status, text: await res.text() };
}
async function generation(db: string): Promise<number> {
  const s = await env.DB_INDEX.getByName(db).status(db);
  return s.ok ? s.value.generation : -1;
}
async function generationAbove(db: string, above: number): Promise<number> {
  const stub = env.DB_INDEX.getByName(db);
  // The scheduled full listing (every FULL_LIST_EVERY polls) is what notices a replaced history.
  for (let n = 0; n <= FULL_LIST_EVERY + 2; n++) {
    if ((await generation(db)) > above) break;
    await runDurableObjectAlarm(stub);
  }
  return generation(db);
}

describe("time travel follows a replaced or repaired replica", () => {
  test("after the replica is replaced by another history, time travel at a TXID serves the new history", async () => {
    const d = `tt-replaced-${uid}`;
    await seedReplica(r2, "multi-level", d);
    const before = await post(d, { sql: "SELECT count(*) FROM users", txid: "000000000000000b" });
    expect(before.text).toContain('"rows":[[19]]'); // multi-level at 0x0b
    const gen = await generation(d);
    await wipe(r2, `${d}/`);
    await seedReplica(r2, "small", d);
    expect(await generationAbove(d, gen)).toBeGreaterThan(gen);
    // The isolate takes the new history on its next sync (within max_staleness): wait for live reads to show it.
    const small = await manifest("small");
    await waitUntil(
      async () => (JSON.parse((await post(d, { sql: "SELECT 1" })).text) as { meta?: { txid_hex?: string } }).meta?.txid_hex === small.final_txid,
      "live reads of the new history",
    );
    expect((await post(d, { sql: "SELECT count(*) FROM users" })).text).toContain('"rows":[[38]]'); // live: the new history
    const after = await post(d, { sql: "SELECT count(*) FROM users", txid: "000000000000000b" });
    expect(after.status, after.text).toBe(200);
    expect(after.text).toContain('"rows":[[18]]'); // small at 0x0b
  });

  test("time travel never reads a corrupt snapshot, before or after its repair", async () => {
    const d = `tt-corrupt-${uid}`;
    const keys = await seedReplica(r2, "small", d);
    const good = await fixtureBytes("small/ltx/9/0000000000000001-000000000000000e.ltx");
    const snap = decodeLtxFile(good);
    const bad = good.slice();
    const at = (snap.index.offset[snap.index.pgno.indexOf(15)] as number) + 3;
    bad[at] = (bad[at] as number) ^ 0x40;
    const key = keys.find((k) => k.includes("/0009/")) as string;
    await r2.put(key, bad);
    // The snapshot fails its checksum when the DO reads it; the compaction levels cover TXID 0x0e.
    const before = await post(d, { sql: "PRAGMA integrity_check", txid: "000000000000000e" });
    expect(before.status, before.text).toBe(200);
    expect(before.text).toContain('"rows":[["ok"]]');
    await r2.put(key, good);
    // Repaired (a new ETag): live reads and time travel both answer from sound files.
    await waitUntil(async () => (await post(d, { sql: "PRAGMA integrity_check" })).text.includes('"rows":[["ok"]]'), "live reads after the repair");
    const tt = await post(d, { sql: "PRAGMA integrity_check", txid: "000000000000000e" });
    expect(tt.status, tt.text).toBe(200);
    expect(tt.text).toContain('"rows":[["ok"]]');
  });
});

describe("SQL_TOO_COMPLEX sees through comments", () => {
  test("operators inside comments and strings do not count", async () => {
    const d = `complex-ok-${uid}`;
    await seedReplica(r2, "small", d);
    const r = await post(d, { sql: `SELECT 1 -- ${"-".repeat(3000)}\n /* ${"+".repeat(3000)} */, '${"*".repeat(3000)}'` });
    expect(r.status, r.text).toBe(200);
  });

  test("an operator chain after `-- don't` is refused up front, like one without the comment", async () => {
    const d = `complex-${uid}`;
    await seedReplica(r2, "small", d);
    const r = await post(d, { sql: `SELECT 1 -- don't\n${"+1".repeat(5000)}` });
    expect(r.status, r.text).toBe(400);
    expect(r.text).toContain("SQL_TOO_COMPLEX");
  });
});

describe("integers beyond 2^53 in params stay exact", () => {
  test("an integer given as a JSON number beyond 2^53 binds exactly (plain or as {integer})", async () => {
    const d = `intnum-${uid}`;
    await seedReplica(r2, "small", d);
    for (const p of ['{"integer":9007199254740993}', "9007199254740993", '{"integer":"9007199254740993"}']) {
      const r = await post(d, `{"sql":"SELECT ?1, typeof(?1)","params":[${p}]}`);
      expect(r.status, r.text).toBe(200);
      expect(r.text).toContain('"rows":[[9007199254740993,"integer"]]');
    }
    const over = await post(d, '{"sql":"SELECT ?1","params":[{"integer":"9223372036854775808"}]}');
    expect(over.status).toBe(400);
    expect(over.text).toContain("SQL_BAD_PARAMS");
  });
});

describe("per-database tokens fail closed", () => {
  test("a database configured with token_secret is never served without that token", async () => {
    const d = `auth-open-${uid}`;
    await seedReplica(r2, "small", d);
    const e = { ...env, ALLOW_UNAUTHENTICATED: "true", DATABASES: { databases: { [d]: { token_secret: "DB_TOKEN_NOT_SET" } } } };
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://example.com/db/${d}/query`, { method: "POST", body: '{"sql":"SELECT count(*) FROM users"}' }), e, ctx);
    await waitOnExecutionContext(ctx);
    // docs/configuration.md: "if that secret is missing, the database answers 500 CONFIG_INVALID — it is never served open".
    expectError({ status: res.status, headers: res.headers, text: await res.text() }, 500, "CONFIG_INVALID");
  });
});

describe("batch errors name the failing statement", () => {
  test("the message names the failing statement", async () => {
    const d = `batch-idx-${uid}`;
    await seedReplica(r2, "small", d);
    const r = await post(d, { statements: ["SELECT 1", "SELECT 2", "SELECT * FROM nope"] }, "batch");
    expect(r.status).toBe(422); // SQL_ERROR: no such table
    expect(r.text).toMatch(/statements\[2\]/);
  });
});

describe("small HTTP details", () => {
  test("401 carries WWW-Authenticate; non-GET on /db/:name is 405; -0.0 keeps its sign", async () => {
    const d = `details-${uid}`;
    await seedReplica(r2, "small", d);
    const unauth = await exports.default.fetch(`http://example.com/db/${d}`);
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const m = await exports.default.fetch(`http://localhost/db/${d}`, { method: "POST", body: "{}" });
    expect(m.status).toBe(405);
    expect(((await m.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
    const z = await post(d, { sql: "SELECT -0.0, 0.0" });
    expect(z.text).toContain('"rows":[[-0.0,0.0]]');
  });
});

describe("integral REALs bind as REAL when asked", () => {
  test('{"real": 7} over HTTP and a Hrana float 7 both divide as REAL', async () => {
    const d = `real-${uid}`;
    await seedReplica(r2, "small", d);
    const r = await post(d, { sql: "SELECT ?1 / 2, typeof(?1)", params: [{ real: 7 }] });
    expect(r.text).toContain('"rows":[[3.5,"real"]]');
    const plain = await post(d, { sql: "SELECT ?1 / 2, typeof(?1)", params: [7] });
    expect(plain.text).toContain('"rows":[[3,"integer"]]');
    const h = await exports.default.fetch(`http://localhost/db/${d}/v2/pipeline`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT ? / 2", args: [{ type: "float", value: 7 }] } }, { type: "close" }] }),
    });
    const body = (await h.json()) as { results: { response: { result: { rows: unknown[][] } } }[] };
    expect(body.results[0]?.response.result.rows).toEqual([[{ type: "float", value: 3.5 }]]);
  });
});
