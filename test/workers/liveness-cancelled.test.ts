/**
 * Requests whose clients go away mid-query, while their storage reads hang,
 * must not wedge the isolate: queries of other databases queued behind them
 * complete, and so do later ones. The hung reads end at the storage timeout
 * (every read is bounded), so the abandoned queries give their engine
 * instances back long before the queued queries' own deadlines. (A holder
 * whose request is gone for good — its continuation dropped — is taken over
 * by the engine itself: test/workers/engine-liveness.test.ts.)
 */
import { env, exports } from "cloudflare:workers";
import { afterAll, beforeAll, expect, test } from "vitest";
import { testHooks } from "../../src/query/service.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { withFaults } from "../support/fault-store.ts";
import { envWith, queryVia, uniqueName } from "../support/app.ts";
import { seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
const A = uniqueName("cancel-a");
const A2 = uniqueName("cancel-a2");
const B = uniqueName("cancel-b");
const C = uniqueName("cancel-c");
const e = envWith({});
const COUNT = { sql: "SELECT count(*) FROM users" };
let hung = 0;

beforeAll(async () => {
  for (const db of [A, A2, B, C]) await seedReplica(r2, "small", db);
  testHooks.wrapStore = (s, db) =>
    db === A || db === A2
      ? withFaults(s, {
          getRange: () => {
            hung++;
            return new Promise(() => undefined);
          },
        })
      : s;
});

afterAll(async () => {
  testHooks.wrapStore = null;
  for (const db of [A, A2, B, C]) await env.DB_INDEX.getByName(db).stop();
});

const rows = (text: string): unknown[][] => (JSON.parse(text) as { rows: unknown[][] }).rows;

test("requests holding every engine instance are aborted mid-query while B and C wait: B and C complete, and so do later queries", async () => {
  const ctrl = new AbortController();
  // Through the Worker's own fetch, so aborting really cancels the request (storage timeout: the 5 s default).
  const start = (db: string) =>
    exports.default
      .fetch(`http://localhost/db/${db}/query`, { method: "POST", body: JSON.stringify(COUNT), signal: ctrl.signal })
      .then((r) => r.status, (err: unknown) => (err instanceof Error ? err.name : "error"));
  // A and A2 take both instances of the engine's pool, each with a read that will never answer.
  const a = [start(A), start(A2)];
  while (hung < 2) await new Promise((r) => setTimeout(r, 5));
  // B and C queue behind them; then the clients of A and A2 go away.
  const b = queryVia(e, B, COUNT);
  const c = queryVia(e, C, COUNT);
  ctrl.abort();
  const [rb, rc] = await Promise.all([b, c]);
  expect(rb.status, rb.text).toBe(200);
  expect(rows(rb.text)).toEqual([[38]]);
  expect(rc.status, rc.text).toBe(200);
  expect(rows(rc.text)).toEqual([[38]]);
  await Promise.all(a); // their outcome is their clients' business: they went away
  // Later queries, A's database included once its storage answers again.
  testHooks.wrapStore = null;
  for (const db of [B, C, A, A2]) {
    const r = await queryVia(e, db, COUNT);
    expect(r.status, `${db}: ${r.text}`).toBe(200);
    expect(rows(r.text)).toEqual([[38]]);
  }
});
