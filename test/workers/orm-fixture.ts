/**
 * The fixture `small` as ORMs see it: a drizzle schema and kysely table types
 * for `users` and `posts`, the same reads written with each ORM (typed
 * selects, joins, an aggregate), and what they must return at a TXID — taken
 * from the manifest's expected rows (joins are composed from two manifest
 * queries). Shared by the D1 consumer Worker and the Hrana ORM tests.
 */
import { asc, count, desc, eq } from "drizzle-orm";
import { type BaseSQLiteDatabase, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { Kysely, Transaction } from "kysely";
import type { FixtureManifest } from "../support/fixtures.ts";

export const users = sqliteTable("users", {
  id: integer("id").primaryKey(),
  name: text("name").notNull(),
  email: text("email"),
  age: integer("age"),
  score: real("score"),
});

export const posts = sqliteTable("posts", {
  id: integer("id").primaryKey(),
  userId: integer("user_id").notNull(),
  title: text("title"),
  body: text("body"),
  createdAt: text("created_at"),
});

export interface FixtureDb {
  users: { id: number; name: string; email: string | null; age: number | null; score: number | null };
  posts: { id: number; user_id: number; title: string | null; body: string | null; created_at: string | null };
}

/** The manifest queries the ORM reads reproduce. */
export const SQL = {
  count: "SELECT count(*) FROM users",
  first5: "SELECT id, name, email, age, score FROM users ORDER BY id LIMIT 5",
  posts3: "SELECT id, title, created_at FROM posts WHERE user_id = 3 ORDER BY id LIMIT 5",
  topPosters: "SELECT user_id, count(*) AS n FROM posts GROUP BY user_id ORDER BY n DESC, user_id LIMIT 3",
} as const;

/** A value these reads return (they pass over RPC, so the type must be serializable). */
export type Cell = string | number | null;

/** Rows of each read, as arrays in select order (comparable with the manifest). */
export interface OrmRows {
  count: Cell[][];
  first5: Cell[][];
  posts3: Cell[][];
  /** posts of user 3 joined with their author: [post id, title, author name]. */
  posts3WithAuthor: Cell[][];
  /** the three users with most posts, joined: [name, posts]. */
  topPosters: Cell[][];
}

/** The reads with drizzle (any async SQLite driver: d1, libsql, or a transaction of either). */
export async function drizzleReads<R>(db: BaseSQLiteDatabase<"async", R>): Promise<OrmRows> {
  const n = await db.select({ n: count() }).from(users);
  const first5 = await db
    .select({ id: users.id, name: users.name, email: users.email, age: users.age, score: users.score })
    .from(users)
    .orderBy(asc(users.id))
    .limit(5);
  const posts3 = await db.select({ id: posts.id, title: posts.title, createdAt: posts.createdAt }).from(posts).where(eq(posts.userId, 3)).orderBy(posts.id).limit(5);
  const joined = await db
    .select({ id: posts.id, title: posts.title, author: users.name })
    .from(posts)
    .innerJoin(users, eq(users.id, posts.userId))
    .where(eq(posts.userId, 3))
    .orderBy(posts.id)
    .limit(5);
  const top = await db
    .select({ name: users.name, n: count(posts.id) })
    .from(posts)
    .innerJoin(users, eq(users.id, posts.userId))
    .groupBy(posts.userId)
    .orderBy(desc(count(posts.id)), posts.userId)
    .limit(3);
  return {
    count: n.map((r) => [r.n]),
    first5: first5.map((r) => [r.id, r.name, r.email, r.age, r.score]),
    posts3: posts3.map((r) => [r.id, r.title, r.createdAt]),
    posts3WithAuthor: joined.map((r) => [r.id, r.title, r.author]),
    topPosters: top.map((r) => [r.name, r.n]),
  };
}

/** The same reads with kysely (any SQLite dialect, or a transaction). */
export async function kyselyReads(db: Kysely<FixtureDb> | Transaction<FixtureDb>): Promise<OrmRows> {
  const n = await db.selectFrom("users").select((eb) => eb.fn.countAll<number>().as("n")).execute();
  const first5 = await db.selectFrom("users").select(["id", "name", "email", "age", "score"]).orderBy("id").limit(5).execute();
  const posts3 = await db.selectFrom("posts").select(["id", "title", "created_at"]).where("user_id", "=", 3).orderBy("id").limit(5).execute();
  const joined = await db
    .selectFrom("posts")
    .innerJoin("users", "users.id", "posts.user_id")
    .select(["posts.id", "posts.title", "users.name"])
    .where("posts.user_id", "=", 3)
    .orderBy("posts.id")
    .limit(5)
    .execute();
  const top = await db
    .selectFrom("posts")
    .innerJoin("users", "users.id", "posts.user_id")
    .select((eb) => ["users.name", eb.fn.count<number>("posts.id").as("n")])
    .groupBy("posts.user_id")
    .orderBy("n", "desc")
    .orderBy("posts.user_id")
    .limit(3)
    .execute();
  return {
    count: n.map((r) => [r.n]),
    first5: first5.map((r) => [r.id, r.name, r.email, r.age, r.score]),
    posts3: posts3.map((r) => [r.id, r.title, r.created_at]),
    posts3WithAuthor: joined.map((r) => [r.id, r.title, r.name]),
    topPosters: top.map((r) => [r.name, r.n]),
  };
}

/** A manifest query's rows at a TXID (16 hex digits). */
export function manifestRows(m: FixtureManifest, txidHex: string, sql: string): Cell[][] {
  const q = m.checked_states.find((s) => s.txid === txidHex)?.queries?.find((x) => x.sql === sql);
  if (!q) throw new Error(`the manifest of ${m.name} has no rows for ${sql} at ${txidHex}`);
  // The reads above select no blobs: every manifest value here is a string, a number or null.
  return q.rows as Cell[][];
}

/** What {@link drizzleReads} and {@link kyselyReads} must return at a TXID, from the manifest alone. */
export function expectedReads(m: FixtureManifest, txidHex: string): OrmRows {
  const first5 = manifestRows(m, txidHex, SQL.first5);
  const nameOf = (id: Cell | undefined): Cell => {
    const row = first5.find((r) => r[0] === id);
    if (!row) throw new Error(`user ${String(id)} is not among the manifest's first five users at ${txidHex}`);
    return row[1] ?? null;
  };
  return {
    count: manifestRows(m, txidHex, SQL.count),
    first5,
    posts3: manifestRows(m, txidHex, SQL.posts3),
    posts3WithAuthor: manifestRows(m, txidHex, SQL.posts3).map((r) => [r[0] ?? null, r[1] ?? null, nameOf(3)]),
    topPosters: manifestRows(m, txidHex, SQL.topPosters).map((r) => [nameOf(r[0]), r[1] ?? null]),
  };
}
