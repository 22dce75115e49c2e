/**
 * Transactions opened in write mode — `@libsql/client`'s default
 * `transaction()` (BEGIN IMMEDIATE), drizzle's `db.transaction()` and
 * kysely's `transaction()` over `@libsql/kysely-libsql` — work unpatched over
 * Hrana: they read one snapshot while the replica moves on, and fail only at
 * the first statement that would write, with SQL_READONLY. `client.migrate()`
 * fails cleanly (a rejected promise; the client's unawaited PRAGMA steps
 * succeed, so no unhandled rejection). The clients are the real npm packages
 * (their Web builds), their requests routed to this Worker.
 */
import { env, exports } from "cloudflare:workers";
import { type Client, createClient } from "@libsql/client/web";
import { LibsqlDialect } from "@libsql/kysely-libsql";
import { count } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql/web";
import { Kysely } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { libsqlError, rejection } from "./orm-errors.ts";
import { manifest, seedReplica } from "../support/seed.ts";
import { errorOf, execResult, execute, hex, okType, pipeline, seedSmallUpTo } from "./hrana-support.ts";
import { type FixtureDb, SQL, drizzleReads, expectedReads, kyselyReads, manifestRows, users } from "./orm-fixture.ts";

const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const DB = `hrana-tx-${uid}`;
const MID = 0x0c;

let small: FixtureManifest;
const stopped: string[] = [DB];
const unhandled: unknown[] = [];
const onUnhandled = (e: PromiseRejectionEvent): void => {
  unhandled.push(e.reason);
};

/** A client whose requests go to this Worker. */
function client(db: string): Client {
  return createClient({ url: `http://localhost/db/${db}/`, fetch: (req: Request) => exports.default.fetch(req) });
}

/** Seeds `small` up to MID; the returned function uploads the rest and moves this isolate's live index to it. */
async function movingReplica(label: string): Promise<{ db: string; advance: () => Promise<void> }> {
  const db = `hrana-tx-${label}-${uid}`;
  stopped.push(db);
  const upload = await seedSmallUpTo(r2, db, MID);
  return {
    db,
    advance: async () => {
      await upload();
      const fresh = await pipeline(db, { requests: [execute(SQL.count, { replication_index: String(small.final_txid_int) })] });
      expect(execResult(fresh.body.results[0]).replication_index).toBe(String(small.final_txid_int));
    },
  };
}

beforeAll(async () => {
  small = await manifest("small");
  await seedReplica(r2, "small", DB);
});

afterAll(async () => {
  for (const db of stopped) await env.DB_INDEX.getByName(db).stop();
});

beforeEach(() => {
  unhandled.length = 0;
  addEventListener("unhandledrejection", onUnhandled);
});

afterEach(() => {
  removeEventListener("unhandledrejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

describe("@libsql/client transaction() in its default mode, write", () => {
  test("reads one snapshot while the replica moves on; a write fails with SQL_READONLY and the transaction goes on", async () => {
    const { db, advance } = await movingReplica("client");
    const c = client(db);
    const tx = await c.transaction();
    expect((await tx.execute(SQL.count)).rows.map((r) => Array.from(r))).toEqual(manifestRows(small, hex(MID), SQL.count));
    await advance();
    expect((await c.execute(SQL.count)).rows.map((r) => Array.from(r))).toEqual(manifestRows(small, small.final_txid, SQL.count));
    const [posts3, n] = await tx.batch([SQL.posts3, SQL.count]);
    expect(posts3?.rows.map((r) => Array.from(r))).toEqual(manifestRows(small, hex(MID), SQL.posts3));
    expect(n?.rows.map((r) => Array.from(r))).toEqual(manifestRows(small, hex(MID), SQL.count));
    const w = libsqlError(await rejection(tx.execute("INSERT INTO users(id, name) VALUES (1000, 'x')")));
    expect(w.code).toBe("SQL_READONLY");
    expect(w.message).toMatch(/read-only replica.*INSERT on users/);
    expect((await tx.execute(SQL.count)).rows.map((r) => Array.from(r))).toEqual(manifestRows(small, hex(MID), SQL.count));
    await tx.commit();
    expect((await c.execute(SQL.count)).rows.map((r) => Array.from(r))).toEqual(manifestRows(small, small.final_txid, SQL.count));
    c.close();
  });

  test("migrate() rejects with SQL_READONLY and leaves no unhandled rejection; migrate() of reads resolves", async () => {
    const c = client(DB);
    const e = libsqlError(await rejection(c.migrate(["CREATE TABLE t(x)", "INSERT INTO t VALUES (1)"])));
    expect(e.code).toBe("SQL_READONLY");
    const [n] = await c.migrate([SQL.count]);
    expect(n?.rows.map((r) => Array.from(r))).toEqual(manifestRows(small, small.final_txid, SQL.count));
    // The client's unawaited PRAGMA foreign_keys steps settle after the batch: give them a turn to fail.
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect((await c.execute(SQL.count)).rows.map((r) => Array.from(r))).toEqual(manifestRows(small, small.final_txid, SQL.count));
    c.close();
  });
});

describe("on the wire", () => {
  test("BEGIN EXCLUSIVE opens a read transaction; PRAGMA foreign_keys settings are accepted as no-ops, other settings are not", async () => {
    const r = await pipeline(DB, {
      requests: [
        execute("BEGIN EXCLUSIVE TRANSACTION"),
        { type: "get_autocommit" },
        execute(SQL.count),
        execute("PRAGMA foreign_keys = OFF"),
        execute("pragma main.foreign_keys(1)"),
        execute("PRAGMA defer_foreign_keys = 'on'"),
        execute("PRAGMA journal_mode = WAL"),
        execute("PRAGMA foreign_keys = maybe"),
        execute("COMMIT"),
        { type: "get_autocommit" },
      ],
    });
    const [begin, auto, n, off, on, defer, journal, maybe, commit, after] = r.body.results;
    expect(execResult(begin).rows).toEqual([]);
    expect(okType(auto, "get_autocommit").is_autocommit).toBe(false);
    expect(execResult(n).rows).toEqual([[{ type: "integer", value: "38" }]]);
    for (const x of [off, on, defer]) expect(execResult(x).rows).toEqual([]);
    expect(errorOf(journal).code).toBe("SQL_READONLY");
    expect(errorOf(maybe).code).toBe("SQL_READONLY");
    expect(execResult(commit).rows).toEqual([]);
    expect(okType(after, "get_autocommit").is_autocommit).toBe(true);
  });
});

describe("ORMs over @libsql/client, unpatched", () => {
  test("drizzle (libsql) db.transaction(): typed selects and joins on one snapshot while the replica moves on", async () => {
    const { db, advance } = await movingReplica("drizzle");
    const orm = drizzle(client(db));
    const inside = await orm.transaction(async (tx) => {
      const before = await drizzleReads(tx);
      await advance();
      return { before, after: await drizzleReads(tx) };
    });
    expect(inside.before).toEqual(expectedReads(small, hex(MID)));
    expect(inside.after).toEqual(expectedReads(small, hex(MID)));
    expect(await drizzleReads(orm)).toEqual(expectedReads(small, small.final_txid));
  });

  test("drizzle (libsql): a write inside db.transaction() fails with SQL_READONLY", async () => {
    const orm = drizzle(client(DB));
    const e = await rejection(
      orm.transaction(async (tx) => {
        await tx.select({ n: count() }).from(users);
        await tx.insert(users).values({ id: 100_000, name: "nobody" });
      }),
    );
    expect(libsqlError(e).code).toBe("SQL_READONLY");
    expect(await orm.select({ n: count() }).from(users)).toEqual([{ n: 38 }]);
  });

  test("kysely (@libsql/kysely-libsql) transaction(): reads on one snapshot; a write inside fails with SQL_READONLY", async () => {
    const { db, advance } = await movingReplica("kysely");
    const k = new Kysely<FixtureDb>({ dialect: new LibsqlDialect({ client: client(db) }) });
    const inside = await k.transaction().execute(async (trx) => {
      const before = await kyselyReads(trx);
      await advance();
      return { before, after: await kyselyReads(trx) };
    });
    expect(inside.before).toEqual(expectedReads(small, hex(MID)));
    expect(inside.after).toEqual(expectedReads(small, hex(MID)));
    expect(await kyselyReads(k)).toEqual(expectedReads(small, small.final_txid));
    const e = await rejection(
      k.transaction().execute(async (trx) => {
        await trx.selectFrom("users").select("id").limit(1).execute();
        await trx.insertInto("users").values({ id: 100_000, name: "nobody", email: null, age: null, score: null }).execute();
      }),
    );
    expect(libsqlError(e).code).toBe("SQL_READONLY");
  });
});
