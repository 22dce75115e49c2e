/**
 * D1 sessions over the LtxEdge service binding, from a second Worker
 * (test/workers/d1-consumer): `withSession(bookmark)` waits until the replica
 * reaches the bookmark's TXID (min_txid semantics), `getBookmark()` carries
 * the TXID read, "first-primary" polls the replica before its first read and
 * "first-unconstrained" reads what the isolate holds. The Durable Objects of
 * the workers project poll hourly, so the replica moves only when a test
 * makes it.
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { D1Error, createD1 } from "../../src/d1/client.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { manifest } from "../support/seed.ts";
import type D1Consumer from "./d1-consumer/worker.ts";
import { hex, seedSmallUpTo } from "./hrana-support.ts";
import { expectedReads } from "./orm-fixture.ts";

const consumer = (env as unknown as { D1_CONSUMER: Service<D1Consumer> }).D1_CONSUMER;
const r2 = new R2Store(env.BUCKET);
const uid = `${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
const MID = 0x0c;
const COUNT = "SELECT count(*) AS n FROM users";

let small: FixtureManifest;
const stopped: string[] = [];

beforeAll(async () => {
  small = await manifest("small");
});

afterAll(async () => {
  for (const db of stopped) await env.DB_INDEX.getByName(db).stop();
});

/** A database at MID, read once (so the isolate holds MID); returns the upload of the rest. */
async function atMid(label: string): Promise<{ db: string; advance: () => Promise<void> }> {
  const db = `d1-session-${label}-${uid}`;
  const advance = await seedSmallUpTo(r2, db, MID);
  stopped.push(db);
  const session = createD1(exports.LtxEdge, db).withSession();
  expect(await session.prepare(COUNT).first("n")).toBe(20);
  expect(session.getBookmark()).toBe(hex(MID));
  return { db, advance };
}

describe("withSession(bookmark)", () => {
  test("the first read waits until the replica reaches the bookmark's TXID, and the bookmark is that TXID", async () => {
    const { db, advance } = await atMid("wait");
    // The read is issued while the replica holds MID; the rest is uploaded only then.
    const r = await consumer.sessionRead(db, small.final_txid, advance);
    expect(r.error).toBeNull();
    expect(r.count).toBe(38);
    expect(r.bookmark).toBe(small.final_txid);
  });

  test("a bookmark the replica never reaches fails with WAIT_TIMEOUT after maxWaitMs, not with older data", async () => {
    const { db } = await atMid("never");
    const beyond = hex(small.final_txid_int + 5);
    const r = await consumer.sessionRead(db, beyond, async () => undefined, { maxWaitMs: 1000 });
    expect(r.count).toBeNull();
    expect(r.error?.code).toBe("WAIT_TIMEOUT");
    expect(r.error?.message).toMatch(/^D1_ERROR: .*TXID.*: WAIT_TIMEOUT$/);
    // A failed read does not move the bookmark.
    expect(r.bookmark).toBe(beyond);
  });

  test("drizzle over a session reads at least the bookmark in every query", async () => {
    const { db, advance } = await atMid("drizzle");
    await advance();
    const r = await consumer.drizzleSession(db, small.final_txid);
    expect(r.rows).toEqual(expectedReads(small, small.final_txid));
    expect(r.bookmark).toBe(small.final_txid);
  });

  test("bookmarks are TXIDs: 16 hex digits, 0x… or decimal; anything else is refused at once", () => {
    const d1 = createD1(exports.LtxEdge, "any");
    expect(d1.withSession("0000000000000015").getBookmark()).toBe("0000000000000015");
    expect(d1.withSession("0x15").getBookmark()).toBe("0000000000000015");
    expect(d1.withSession("21").getBookmark()).toBe("0000000000000015");
    expect(d1.withSession().getBookmark()).toBeNull();
    expect(d1.withSession("first-primary").getBookmark()).toBeNull();
    let err: unknown = null;
    try {
      d1.withSession("00000000-00000001-0000abcd");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(D1Error);
    expect((err as D1Error).message).toMatch(/^D1_ERROR: invalid bookmark/);
    expect((err as D1Error).code).toBe("INVALID_TXID");
  });
});

describe("session constraints", () => {
  test('"first-unconstrained" reads what the isolate holds; "first-primary" polls the replica first', async () => {
    const { db, advance } = await atMid("primary");
    await advance();
    // Nobody polled since the upload: an unconstrained read still sees MID.
    const loose = createD1(exports.LtxEdge, db).withSession("first-unconstrained");
    expect(await loose.prepare(COUNT).first("n")).toBe(20);
    const primary = createD1(exports.LtxEdge, db).withSession("first-primary");
    expect(primary.getBookmark()).toBeNull();
    const r = await primary.prepare(COUNT).all<{ n: number }>();
    expect(r.results).toEqual([{ n: 38 }]);
    expect(r.meta.txid_hex).toBe(small.final_txid);
    expect(primary.getBookmark()).toBe(small.final_txid);
    // The session never reads older than its bookmark, and the unconstrained one now reads the present too.
    expect(await primary.prepare(COUNT).first("n")).toBe(38);
    expect(await loose.prepare(COUNT).first("n")).toBe(38);
  });
});
