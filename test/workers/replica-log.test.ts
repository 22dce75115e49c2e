/**
 * The Durable Object logs its replica's state once when it first serves it,
 * and not again while nothing but the position changes (src/durable/poll-log.ts).
 */
import { env } from "cloudflare:workers";
import { afterEach, expect, test, vi } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { uniqueName } from "../support/app.ts";
import { seedReplica } from "../support/seed.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

test("the first request logs one replica line with its state and TXID; the next ones log none", async () => {
  const db = uniqueName("replica-log");
  await seedReplica(new R2Store(env.BUCKET), "small", db);
  const lines: Record<string, unknown>[] = [];
  vi.spyOn(console, "log").mockImplementation((s: unknown) => {
    if (typeof s === "string" && s.includes('"event":"replica"')) lines.push(JSON.parse(s) as Record<string, unknown>);
  });
  const stub = env.DB_INDEX.getByName(db);
  expect((await stub.status(db)).ok).toBe(true);
  await stub.status(db);
  await stub.refresh(db);
  const mine = lines.filter((l) => l.db === db);
  expect(mine).toHaveLength(1);
  expect(mine[0]).toMatchObject({ event: "replica", db, state: "ok" });
  expect(typeof mine[0]?.txid_hex).toBe("string");
});
