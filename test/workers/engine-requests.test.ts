/**
 * @module
 * The engine's lock across real, separate requests (each
 * `exports.default.fetch` is its own request context in workerd): hand-overs
 * between requests must wake the next waiter without touching anything the
 * waiter's request owns, a full queue answers 503 ENGINE_BUSY with
 * Retry-After, and nothing is left hanging or unhandled. Fresh (cold)
 * databases make holders wait on storage while they hold the engine.
 */

import { env, exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { seedReplica } from "../support/seed.ts";

const UID = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const r2 = new R2Store(env.BUCKET);
let seq = 0;
/** Joins every post of the small fixture with its user: 52 rows, 48,663 bytes of body. */
const JOIN = "SELECT ? + count(*), sum(length(body)) FROM posts JOIN users ON users.id = posts.user_id";

/**
 * Freshly seeded copies of the small fixture. A query on a cold database
 * waits on storage while it holds the engine, so the others really queue
 * (on warm data a query finishes within one turn and nobody ever waits).
 */
async function coldDbs(n: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const db = `eng-req-${UID}-${seq++}`;
      await seedReplica(r2, "small", db);
      return db;
    }),
  );
}

interface Reply {
  status: number;
  retryAfter: string | null;
  body: string;
}

async function query(db: string, sql: string, params: unknown[] = []): Promise<Reply> {
  const res = await exports.default.fetch(`http://localhost/db/${db}/query`, { method: "POST", body: JSON.stringify({ sql, params }) });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.text() };
}

describe("the engine lock between requests", () => {
  test("30 concurrent requests on 15 cold databases: each is handed the engine in turn and gets its own result", async () => {
    const dbs = await coldDbs(15);
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => query(dbs[i % dbs.length] as string, JOIN, [i])));
    replies.forEach((r, i) => {
      expect(r.status, r.body).toBe(200);
      expect(r.body).toContain(`"rows":[[${52 + i},48663]]`);
    });
  });

  test("100 concurrent requests: those beyond the queue get 503 ENGINE_BUSY with Retry-After, the rest their result", async () => {
    const dbs = await coldDbs(50);
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => query(dbs[i % dbs.length] as string, JOIN, [i])));
    let ok = 0;
    replies.forEach((r, i) => {
      if (r.status === 200) {
        ok++;
        expect(r.body).toContain(`"rows":[[${52 + i},48663]]`);
      } else {
        expect(r.status, r.body).toBe(503);
        expect(JSON.parse(r.body)).toMatchObject({ error: { code: "ENGINE_BUSY" } });
        expect(r.retryAfter).toBe("1");
      }
    });
    // At the very least the holders plus a full queue (32) get through.
    expect(ok).toBeGreaterThanOrEqual(34);
    expect((await query(dbs[0] as string, JOIN, [0])).status).toBe(200);
  });

  test.each([
    ["×15,000 OR", "SELECT " + "1 OR ".repeat(15_000) + "1"],
    ["×15,000 AND", "SELECT " + "1 AND ".repeat(15_000) + "1"],
    ["deep parentheses", "SELECT " + "(".repeat(3_000) + "1" + ")".repeat(3_000)],
    ["deep scalar subqueries", "SELECT " + "(SELECT ".repeat(400) + "1" + ")".repeat(400)],
    ["deep FROM subqueries", "SELECT * FROM " + "(SELECT * FROM ".repeat(400) + "(SELECT 1)" + ")".repeat(400)],
    ["a long CASE", "SELECT CASE " + "WHEN 0 THEN 1 ".repeat(6_000) + "ELSE 2 END"],
    ["nested CASE", "SELECT " + "CASE WHEN 0 THEN 1 ELSE ".repeat(3_000) + "2" + " END".repeat(3_000)],
    ["a NOT chain", "SELECT " + "NOT ".repeat(10_000) + "1"],
  ])("%s → 400 SQL_TOO_COMPLEX before the engine; the next query is served", async (_name, sql) => {
    const [db] = await coldDbs(1);
    const r = await query(db as string, sql);
    expect(r.status, r.body).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: "SQL_TOO_COMPLEX" } });
    expect((await query(db as string, JOIN, [0])).body).toContain('"rows":[[52,48663]]');
  });
});
