/**
 * A consumer Worker, as a user of ltx-edge would write one: it binds the
 * `LtxEdge` entrypoint (`LTX`, a service binding to another Worker) and reads
 * through `createD1` with drizzle-orm's d1 driver and kysely-d1, both
 * unchanged from npm. vitest.config.ts bundles it and runs it as an
 * auxiliary Worker; the tests call these methods over a service binding.
 *
 * `pause` callbacks come from the test Worker (functions travel over RPC as
 * stubs): the test moves the replica while a transaction or a session read is
 * open, and the consumer carries on when it returns.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { count } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Kysely, sql } from "kysely";
import { D1Dialect } from "kysely-d1";
import { type CreateD1Options, D1Error, type LtxEdgeBinding, createD1 } from "../../../src/d1/client.ts";
import { type FixtureDb, type OrmRows, drizzleReads, kyselyReads, users } from "../orm-fixture.ts";

interface ConsumerEnv {
  /** `entrypoint = "LtxEdge"`: how the docs say to bind ltx-edge. */
  LTX: LtxEdgeBinding;
  /** The same Worker bound without an entrypoint (its HTTP API): a mistake createD1 must explain. */
  LTX_DEFAULT: LtxEdgeBinding;
}

/** What a failed call looked like to the application. */
export interface Failure {
  name: string;
  message: string;
  causeMessage: string | null;
  code: string | null;
}

function failure(e: unknown): Failure {
  const err = e instanceof Error ? e : new Error(String(e));
  const cause = err.cause instanceof Error ? err.cause : null;
  const coded = err instanceof D1Error ? err : cause instanceof D1Error ? cause : null;
  return { name: err.name, message: err.message, causeMessage: cause?.message ?? null, code: coded?.code ?? null };
}

export default class D1Consumer extends WorkerEntrypoint<ConsumerEnv> {
  /** Typed selects, joins and an aggregate through drizzle-orm/d1. */
  async drizzleReads(db: string): Promise<OrmRows> {
    return drizzleReads(drizzle(createD1(this.env.LTX, db)));
  }

  /** The same through kysely-d1. */
  async kyselyReads(db: string): Promise<OrmRows> {
    return kyselyReads(new Kysely<FixtureDb>({ dialect: new D1Dialect({ database: createD1(this.env.LTX, db) }) }));
  }

  /** drizzle's `db.transaction()`: reads, `pause()`, reads again; then a read after COMMIT. */
  async drizzleTransaction(db: string, pause: () => Promise<unknown>): Promise<{ before: OrmRows; after: OrmRows; committed: OrmRows }> {
    const orm = drizzle(createD1(this.env.LTX, db));
    const inside = await orm.transaction(async (tx) => {
      const before = await drizzleReads(tx);
      await pause();
      return { before, after: await drizzleReads(tx) };
    });
    return { ...inside, committed: await drizzleReads(orm) };
  }

  /**
   * kysely-d1 refuses `db.transaction()` ("Transactions are not supported
   * yet"); BEGIN and COMMIT as SQL pass straight through it to the binding.
   */
  async kyselyTransaction(db: string, pause: () => Promise<unknown>): Promise<{ before: OrmRows; after: OrmRows; committed: OrmRows; refused: Failure }> {
    const k = new Kysely<FixtureDb>({ dialect: new D1Dialect({ database: createD1(this.env.LTX, db) }) });
    let refused: Failure | null = null;
    try {
      await k.transaction().execute(async () => undefined);
    } catch (e) {
      refused = failure(e);
    }
    await sql`BEGIN`.execute(k);
    const before = await kyselyReads(k);
    await pause();
    const after = await kyselyReads(k);
    await sql`COMMIT`.execute(k);
    return { before, after, committed: await kyselyReads(k), refused: refused ?? { name: "", message: "kysely-d1 ran a transaction", causeMessage: null, code: null } };
  }

  /** A write inside drizzle's transaction: the error the application sees, and that the object is usable afterwards. */
  async drizzleWriteInTransaction(db: string): Promise<{ error: Failure | null; countAfter: number; commitAfter: Failure | null }> {
    const d1 = createD1(this.env.LTX, db);
    const orm = drizzle(d1);
    let error: Failure | null = null;
    try {
      await orm.transaction(async (tx) => {
        await tx.select({ n: count() }).from(users);
        await tx.insert(users).values({ id: 100_000, name: "nobody" });
      });
    } catch (e) {
      error = failure(e);
    }
    const [row] = await orm.select({ n: count() }).from(users);
    let commitAfter: Failure | null = null;
    try {
      await d1.prepare("COMMIT").run();
    } catch (e) {
      commitAfter = failure(e);
    }
    return { error, countAfter: row?.n ?? -1, commitAfter };
  }

  /**
   * A session read: `withSession(anchor)`, the first read issued, `pause()`
   * (the test moves the replica), then its result and the bookmark.
   */
  async sessionRead(db: string, anchor: string, pause: () => Promise<unknown>, options: CreateD1Options = {}): Promise<{ count: number | null; bookmark: string | null; error: Failure | null }> {
    const session = createD1(this.env.LTX, db, options).withSession(anchor);
    const first = session.prepare("SELECT count(*) AS n FROM users").first<number>("n");
    // The read is on its way before the replica moves.
    await pause();
    try {
      return { count: await first, bookmark: session.getBookmark(), error: null };
    } catch (e) {
      return { count: null, bookmark: session.getBookmark(), error: failure(e) };
    }
  }

  /** drizzle over a session: every read of the session at least at its bookmark. */
  async drizzleSession(db: string, bookmark: string): Promise<{ rows: OrmRows; bookmark: string | null }> {
    const session = createD1(this.env.LTX, db).withSession(bookmark);
    // drizzle-orm's d1 types predate sessions; at run time it needs only prepare() and batch(), which sessions have.
    const rows = await drizzleReads(drizzle(session as unknown as D1Database));
    return { rows, bookmark: session.getBookmark() };
  }

  /** One call through a binding that does not reach LtxEdge (no entrypoint): the error the application sees. */
  async wrongBinding(): Promise<Failure | null> {
    try {
      await createD1(this.env.LTX_DEFAULT, "any").prepare("SELECT 1").all();
      return null;
    } catch (e) {
      return failure(e);
    }
  }
}
