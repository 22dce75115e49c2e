/**
 * The real @libsql/client (its Web build, which is what Workers and edge
 * runtimes load) talking to ltx-edge inside workerd: its `fetch` option
 * routes every request to this Worker, so the client's own URL handling,
 * request encoding, batch/transaction logic and error mapping are exercised
 * unchanged.
 */
import { env, exports } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { type Client, type Config, LibsqlBatchError, LibsqlError, createClient } from "@libsql/client/web";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApp } from "../../src/app.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { manifest, seedReplica } from "../support/seed.ts";
import { execResult, execute, hex, pipeline, seedSmallUpTo } from "./hrana-support.ts";

const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const DB = `hrana-client-${uid}`;

const COUNT = "SELECT count(*) FROM users";
const POSTS = "SELECT count(*), sum(length(body)), max(id) FROM posts";
const FIRST5 = "SELECT id, name, email, age, score FROM users ORDER BY id LIMIT 5";

let small: FixtureManifest;

function expected(txidHex: string, sql: string): unknown[][] {
  const q = small.checked_states.find((s) => s.txid === txidHex)?.queries?.find((x) => x.sql === sql);
  if (!q) throw new Error(`no expected result for ${sql} at ${txidHex}`);
  return q.rows;
}

/** Rows as the fixture manifests write them (bigint → number: the fixtures stay below 2^53). */
function plain(rows: ArrayLike<unknown>[]): unknown[][] {
  return rows.map((r) => Array.from(r).map((v) => (typeof v === "bigint" ? Number(v) : v)));
}

interface Traffic {
  requests: string[];
}

/** A client whose HTTP requests go to this Worker (and are recorded). */
function client(db: string, extra: Partial<Config> = {}, traffic: Traffic = { requests: [] }): Client {
  return createClient({
    url: `http://localhost/db/${db}/`,
    intMode: "bigint",
    fetch: async (req: Request) => {
      traffic.requests.push(`${req.method} ${new URL(req.url).pathname}`);
      return exports.default.fetch(req);
    },
    ...extra,
  });
}

async function rejection(p: Promise<unknown>): Promise<LibsqlError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LibsqlError) return e;
    throw e;
  }
  throw new Error("expected the promise to reject");
}

beforeAll(async () => {
  small = await manifest("small");
  await seedReplica(r2, "small", DB);
});

afterAll(async () => {
  await env.DB_INDEX.getByName(DB).stop();
});

describe("@libsql/client against ltx-edge", () => {
  test("execute: one HTTP request to <url>/v2/pipeline, rows by index and by name", async () => {
    const traffic: Traffic = { requests: [] };
    const c = client(DB, {}, traffic);
    const rs = await c.execute(FIRST5);
    expect(traffic.requests).toEqual([`POST /db/${DB}/v2/pipeline`]);
    expect(rs.columns).toEqual(["id", "name", "email", "age", "score"]);
    expect(rs.columnTypes).toEqual(["", "", "", "", ""]);
    expect(plain(rs.rows)).toEqual(expected(small.final_txid, FIRST5));
    expect(rs.rows[0]?.name).toBe("Linus Liskov");
    expect(rs.rows[0]?.id).toBe(1n);
    expect(rs.rowsAffected).toBe(0);
    expect(rs.lastInsertRowid).toBeUndefined();
    c.close();
  });

  test("exact types with intMode 'bigint': 64-bit integers, REAL, text, blob, NULL", async () => {
    const c = client(DB);
    const rs = await c.execute("SELECT 9223372036854775807 AS max, -9223372036854775808 AS min, 1.0 AS one, 'Zoë' AS t, x'00ff' AS b, NULL AS n");
    const row = rs.rows[0];
    expect(row?.max).toBe(9223372036854775807n);
    expect(row?.min).toBe(-9223372036854775808n);
    expect(row?.one).toBe(1);
    expect(typeof row?.one).toBe("number");
    expect(row?.t).toBe("Zoë");
    expect(row?.b).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(row?.b as ArrayBuffer)]).toEqual([0, 255]);
    expect(row?.n).toBeNull();
    // And the fixture's own blob.
    const av = await c.execute("SELECT avatar FROM users WHERE id = 3");
    expect([...new Uint8Array(av.rows[0]?.avatar as ArrayBuffer)]).toEqual([0x7e]);
    c.close();
  });

  test("arguments: positional, named, bigint, boolean, blob, Date", async () => {
    const c = client(DB);
    const byId = await c.execute({ sql: "SELECT id, name, age FROM users WHERE id = ?", args: [7] });
    expect(plain(byId.rows)).toEqual(expected(small.final_txid, "SELECT id, name, age FROM users WHERE email = 'user7@example.com'"));
    const named = await c.execute({ sql: "SELECT id FROM users WHERE email = :email", args: { email: "user7@example.com" } });
    expect(named.rows[0]?.id).toBe(7n);
    const echo = await c.execute({ sql: "SELECT ? AS big, ? AS yes, hex(?) AS bytes, ? AS half", args: [9223372036854775807n, true, new Uint8Array([1, 2, 255]), 0.5] });
    expect(echo.rows[0]?.big).toBe(9223372036854775807n);
    expect(echo.rows[0]?.yes).toBe(1n);
    expect(echo.rows[0]?.bytes).toBe("0102FF");
    expect(echo.rows[0]?.half).toBe(0.5);
    const when = await c.execute({ sql: "SELECT ? AS ms", args: [new Date(1_700_000_000_000)] });
    expect(Number(when.rows[0]?.ms)).toBe(1_700_000_000_000);
    c.close();
  });

  test("intMode 'string' and 'number' work as the client documents", async () => {
    const s = client(DB, { intMode: "string" });
    expect((await s.execute("SELECT 9223372036854775807 AS x")).rows[0]?.x).toBe("9223372036854775807");
    s.close();
    const n = client(DB, { intMode: "number" });
    expect((await n.execute(COUNT)).rows[0]?.[0]).toBe(38);
    // The client refuses to round: the exact value is on the wire.
    await expect(n.execute("SELECT 9223372036854775807")).rejects.toThrow(RangeError);
    n.close();
  });

  test("batch(…, 'read') and the default 'deferred': one request, one snapshot, results in order", async () => {
    const traffic: Traffic = { requests: [] };
    const c = client(DB, {}, traffic);
    const [a, b, d] = await c.batch([COUNT, POSTS, { sql: "SELECT name FROM users WHERE id = ?", args: [7] }], "read");
    expect(traffic.requests).toHaveLength(1);
    expect(plain(a?.rows ?? [])).toEqual(expected(small.final_txid, COUNT));
    expect(plain(b?.rows ?? [])).toEqual(expected(small.final_txid, POSTS));
    expect(d?.rows[0]?.name).toBe("Ken Thompson");
    // The same SQL twice makes the client store it (store_sql) and refer to it by id.
    const [x, y] = await c.batch([COUNT, COUNT]);
    expect(plain(x?.rows ?? [])).toEqual(expected(small.final_txid, COUNT));
    expect(plain(y?.rows ?? [])).toEqual(expected(small.final_txid, COUNT));
    await c.executeMultiple("SELECT 1; SELECT 2; -- done");
    c.close();
  });

  test("a read transaction keeps its snapshot while the replica moves on; after commit the client reads the present", async () => {
    const db = `hrana-client-tx-${uid}`;
    const mid = 0x10;
    const advance = await seedSmallUpTo(r2, db, mid);
    const traffic: Traffic = { requests: [] };
    const c = client(db, {}, traffic);
    const tx = await c.transaction("read");
    expect(plain((await tx.execute(COUNT)).rows)).toEqual(expected(hex(mid), COUNT));

    await advance();
    // Another reader moves this isolate's live index to the new position.
    const fresh = await pipeline(db, { requests: [execute(COUNT, { replication_index: String(small.final_txid_int) })] });
    expect(execResult(fresh.body.results[0]).replication_index).toBe(String(small.final_txid_int));
    expect(plain((await c.execute(COUNT)).rows)).toEqual(expected(small.final_txid, COUNT));

    // The transaction still reads its snapshot, statement after statement.
    const [p, n] = await tx.batch([POSTS, COUNT]);
    expect(plain(p?.rows ?? [])).toEqual(expected(hex(mid), POSTS));
    expect(plain(n?.rows ?? [])).toEqual(expected(hex(mid), COUNT));
    expect(plain((await tx.execute(FIRST5)).rows)).toEqual(expected(hex(mid), FIRST5));
    // A failing statement does not end it.
    expect((await rejection(tx.execute("SELECT nope FROM users"))).code).toBe("SQL_ERROR");
    expect(plain((await tx.execute(COUNT)).rows)).toEqual(expected(hex(mid), COUNT));
    await tx.commit();
    expect(tx.closed).toBe(true);
    expect(plain((await c.execute(COUNT)).rows)).toEqual(expected(small.final_txid, COUNT));

    const tx2 = await c.transaction("read");
    expect(plain((await tx2.execute(COUNT)).rows)).toEqual(expected(small.final_txid, COUNT));
    await tx2.rollback();
    expect(traffic.requests.length).toBeGreaterThan(0);
    expect(traffic.requests.every((r) => r === `POST /db/${db}/v2/pipeline`)).toBe(true);
    c.close();
    await env.DB_INDEX.getByName(db).stop();
  });

  test("writes fail with SQL_READONLY and a clear message, also inside a write transaction", async () => {
    const c = client(DB);
    const w = await rejection(c.execute("INSERT INTO users(id, name) VALUES (1000, 'x')"));
    expect(w.code).toBe("SQL_READONLY");
    expect(w.message).toMatch(/^SQL_READONLY: ltx-edge serves a read-only replica: .*INSERT on users/);

    const batchErr = await rejection(c.batch(["SELECT 1", "DELETE FROM posts", "SELECT 2"], "read"));
    expect(batchErr).toBeInstanceOf(LibsqlBatchError);
    expect(batchErr.code).toBe("SQL_READONLY");
    expect((batchErr as LibsqlBatchError).statementIndex).toBe(1);

    // A write transaction reads like a read transaction; its first write fails (test/workers/hrana-transaction*.test.ts).
    const tx = await c.transaction("write");
    expect(plain((await tx.execute(COUNT)).rows)).toEqual(expected(small.final_txid, COUNT));
    expect((await rejection(tx.execute("DELETE FROM posts"))).code).toBe("SQL_READONLY");
    await tx.rollback();
    expect((await rejection(c.executeMultiple("SELECT 1; UPDATE users SET name = 'y'"))).code).toBe("SQL_READONLY");
    // The client is still usable afterwards.
    expect(plain((await c.execute(COUNT)).rows)).toEqual(expected(small.final_txid, COUNT));
    c.close();
  });

  test("a URL without the trailing slash fails with advice", async () => {
    const c = createClient({ url: `http://localhost/db/${DB}`, fetch: (req: Request) => exports.default.fetch(req) });
    const e = await rejection(c.execute("SELECT 1"));
    expect(e.code).toBe("NOT_FOUND");
    expect(e.message).toMatch(/trailing slash/);
    c.close();
  });

  test("authToken is sent as a bearer token and checked", async () => {
    const app = createApp();
    const e = { ...env, API_TOKEN: "s3cret" };
    const viaApp = async (req: Request): Promise<Response> => {
      const ctx = createExecutionContext();
      const res = await app.fetch(req, e, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const url = `https://edge.example.com/db/${DB}/`;
    const good = createClient({ url, authToken: "s3cret", fetch: viaApp });
    expect((await good.execute(COUNT)).rows[0]?.[0]).toBe(38);
    const wrong = createClient({ url, authToken: "nope", fetch: viaApp });
    expect((await rejection(wrong.execute(COUNT))).code).toBe("FORBIDDEN");
    const none = createClient({ url, fetch: viaApp });
    const un = await rejection(none.execute(COUNT));
    expect(un.code).toBe("UNAUTHORIZED");
    expect(un.message).toMatch(/Bearer/);
    // The token may also ride in the URL, as libSQL URLs allow.
    const inUrl = createClient({ url: `${url}?authToken=s3cret`, fetch: viaApp });
    expect((await inUrl.execute(COUNT)).rows[0]?.[0]).toBe(38);
    for (const x of [good, wrong, none, inUrl]) x.close();
  });
});
