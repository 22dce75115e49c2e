/**
 * drizzle-orm's d1 driver and kysely-d1, unchanged from npm, in a second
 * Worker (test/workers/d1-consumer) that binds ltx-edge's `LtxEdge`
 * entrypoint through a service binding: typed selects, joins, an aggregate
 * and read transactions against fixture `small` return the manifest's rows;
 * a transaction keeps its snapshot while the replica moves on.
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createD1 } from "../../src/d1/client.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { manifest, seedReplica } from "../support/seed.ts";
import { hex, seedSmallUpTo } from "./hrana-support.ts";
import type D1Consumer from "./d1-consumer/worker.ts";
import { expectedReads } from "./orm-fixture.ts";

const consumer = (env as unknown as { D1_CONSUMER: Service<D1Consumer> }).D1_CONSUMER;
const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const DB = `d1-orm-${uid}`;
/** A TXID whose rows differ from the final state's in every read (20 users, other top posters). */
const MID = 0x0c;

let small: FixtureManifest;
const stopped: string[] = [];

beforeAll(async () => {
  small = await manifest("small");
  await seedReplica(r2, "small", DB);
  stopped.push(DB);
});

afterAll(async () => {
  for (const db of stopped) await env.DB_INDEX.getByName(db).stop();
});

/** Seeds `small` up to MID; the returned function uploads the rest and waits until this isolate reads the final TXID. */
async function movingReplica(db: string): Promise<() => Promise<void>> {
  const advance = await seedSmallUpTo(r2, db, MID);
  stopped.push(db);
  return async () => {
    await advance();
    // A session anchored at the final TXID waits for the replica to get there, and moves the live index.
    const n = await createD1(exports.LtxEdge, db).withSession(small.final_txid).prepare("SELECT count(*) AS n FROM users").first("n");
    expect(n).toBe(38);
  };
}

describe("drizzle-orm/d1 through the LtxEdge service binding", () => {
  test("typed selects, joins and an aggregate return the manifest's rows", async () => {
    expect(await consumer.drizzleReads(DB)).toEqual(expectedReads(small, small.final_txid));
  });

  test("db.transaction() reads one snapshot while the replica moves on; after COMMIT it reads the present", async () => {
    const db = `d1-orm-tx-${uid}`;
    const advance = await movingReplica(db);
    const r = await consumer.drizzleTransaction(db, advance);
    expect(r.before).toEqual(expectedReads(small, hex(MID)));
    expect(r.after).toEqual(expectedReads(small, hex(MID)));
    expect(r.committed).toEqual(expectedReads(small, small.final_txid));
  });

  test("a write inside db.transaction() fails with a read-only error; drizzle's ROLLBACK closes the transaction", async () => {
    const r = await consumer.drizzleWriteInTransaction(DB);
    expect(r.error?.code).toBe("SQL_READONLY");
    expect(r.error?.causeMessage).toMatch(/^D1_ERROR: ltx-edge serves a read-only replica: .*INSERT on users.*: SQL_READONLY$/);
    expect(r.countAfter).toBe(38);
    // ROLLBACK ran: there is no transaction left to commit.
    expect(r.commitAfter?.message).toMatch(/^D1_ERROR: cannot commit - no transaction is active: SQL_ERROR$/);
  });
});

describe("kysely-d1 through the LtxEdge service binding", () => {
  test("typed selects, joins and an aggregate return the manifest's rows", async () => {
    expect(await consumer.kyselyReads(DB)).toEqual(expectedReads(small, small.final_txid));
  });

  test("BEGIN … COMMIT as SQL is a read transaction on one snapshot (kysely-d1 itself refuses db.transaction())", async () => {
    const db = `d1-orm-ktx-${uid}`;
    const advance = await movingReplica(db);
    const r = await consumer.kyselyTransaction(db, advance);
    expect(r.refused.message).toMatch(/Transactions are not supported yet/);
    expect(r.before).toEqual(expectedReads(small, hex(MID)));
    expect(r.after).toEqual(expectedReads(small, hex(MID)));
    expect(r.committed).toEqual(expectedReads(small, small.final_txid));
  });
});
