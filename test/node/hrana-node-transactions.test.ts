/**
 * Node, as an application server runs it: the Node build of @libsql/client,
 * with drizzle-orm/libsql and @libsql/kysely-libsql on top, over real HTTP to
 * the Worker served by wrangler's dev server (workerd, local R2 seeded with
 * fixture `small`). Default (write-mode) transactions read unpatched, a write
 * inside fails with SQL_READONLY, and `client.migrate()` rejects without
 * leaving an unhandled rejection that would crash Node.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { LibsqlDialect } from "@libsql/kysely-libsql";
import { count } from "drizzle-orm";
import { drizzle } from "drizzle-orm/libsql";
import { Kysely } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { unstable_startWorker } from "wrangler";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { libsqlError, rejection } from "../workers/orm-errors.ts";
import { type FixtureDb, SQL, drizzleReads, expectedReads, kyselyReads, manifestRows, users } from "../workers/orm-fixture.ts";
import { REPO } from "./dist.ts";

type Worker = Awaited<ReturnType<typeof unstable_startWorker>>;

let worker: Worker | undefined;
let base = "";
let state = "";
let small: FixtureManifest;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

function client(): Client {
  return createClient({ url: `${base}db/sample/` });
}

// wrangler bundles the Worker and boots workerd: on a loaded 2-core machine that can take minutes.
beforeAll(async () => {
  state = mkdtempSync(join(tmpdir(), "ltx-edge-hrana-node-"));
  const io = bufferIo({});
  const code = await main(["seed", join(REPO, "test", "fixtures", "small"), "--db", "sample", "--persist-to", state], io);
  expect(io.err()).toBe("");
  expect(code).toBe(0);
  small = JSON.parse(readFileSync(join(REPO, "test", "fixtures", "small", "manifest.json"), "utf8")) as FixtureManifest;
  worker = await unstable_startWorker({
    config: join(REPO, "wrangler.toml"),
    dev: { persist: state, server: { hostname: "127.0.0.1", port: 0 }, inspector: false, watch: false, logLevel: "error" },
  });
  base = (await worker.url).href;
}, 300_000);

afterAll(async () => {
  await worker?.dispose();
  if (state) rmSync(state, { recursive: true, force: true });
});

beforeEach(() => {
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});

afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

describe("@libsql/client (Node build) against the Worker", () => {
  test("transaction() in its default mode reads; a write in it fails with SQL_READONLY; commit ends it", async () => {
    const c = client();
    const tx = await c.transaction();
    const [n, posts3] = await tx.batch([SQL.count, SQL.posts3]);
    expect(n?.rows.map((r) => Array.from(r))).toEqual(manifestRows(small, small.final_txid, SQL.count));
    expect(posts3?.rows.map((r) => Array.from(r))).toEqual(manifestRows(small, small.final_txid, SQL.posts3));
    const w = libsqlError(await rejection(tx.execute("DELETE FROM posts")));
    expect(w.code).toBe("SQL_READONLY");
    await tx.commit();
    c.close();
  });

  test("migrate() rejects with SQL_READONLY, and nothing is left to reject unhandled", async () => {
    const c = client();
    const e = libsqlError(await rejection(c.migrate(["CREATE TABLE t(x)"])));
    expect(e.code).toBe("SQL_READONLY");
    // The client's PRAGMA steps are not awaited by it: let them settle before checking.
    await new Promise((resolve) => setTimeout(resolve, 50));
    c.close();
  });
});

describe("ORMs (Node builds) against the Worker, unpatched", () => {
  test("drizzle-orm/libsql: db.transaction() with typed selects and joins; a write inside fails", async () => {
    const orm = drizzle(client());
    expect(await orm.transaction((tx) => drizzleReads(tx))).toEqual(expectedReads(small, small.final_txid));
    const e = await rejection(orm.transaction(async (tx) => void (await tx.insert(users).values({ id: 100_000, name: "nobody" }))));
    expect(libsqlError(e).code).toBe("SQL_READONLY");
    expect(await orm.select({ n: count() }).from(users)).toEqual([{ n: 38 }]);
  });

  test("@libsql/kysely-libsql: transaction() reads; a write inside fails", async () => {
    const k = new Kysely<FixtureDb>({ dialect: new LibsqlDialect({ client: client() }) });
    expect(await k.transaction().execute((trx) => kyselyReads(trx))).toEqual(expectedReads(small, small.final_txid));
    const e = await rejection(k.transaction().execute((trx) => trx.deleteFrom("posts").execute()));
    expect(libsqlError(e).code).toBe("SQL_READONLY");
  });
});
