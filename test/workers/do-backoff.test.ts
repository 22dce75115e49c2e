/**
 * Storage errors back off exponentially, up to 60 s (docs/consistency.md:
 * "storage errors back off exponentially up to 60 s"; the "storage errors,
 * timeouts" row of the healing table: state `error`, exponential back-off,
 * last good state still served). Observed through GET /db/:name's fields
 * (`currentIntervalMs`, `nextPollAt`, `consecutiveFailures`) after injected
 * storage failures, with poll_interval_ms = 1000 (the documented default),
 * driven by runDurableObjectAlarm. Expected values are concrete numbers, not
 * the implementation's formula.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, expect, test } from "vitest";
import { MAX_BACKOFF_MS } from "../../src/durable/database-index.ts";
import type { DbStatus } from "../../src/durable/protocol.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { StorageError } from "../../src/replica/types.ts";
import { configurePollInterval, type DoStub, statusOf, wrapDoStore } from "../support/durable.ts";
import { withFaults } from "../support/fault-store.ts";
import { manifest, seedReplica } from "../support/seed.ts";
import { waitUntil } from "../support/wait.ts";

const r2 = new R2Store(env.BUCKET);
const POLL_INTERVAL_MS = 1000;
/** The interval after n consecutive failed polls (poll_interval_ms 1000): doubling, never above 60 s. */
const AFTER_FAILURES: ReadonlyMap<number, number> = new Map([
  [1, 2_000],
  [2, 4_000],
  [3, 8_000],
  [4, 16_000],
  [5, 32_000],
  [6, 60_000],
  [7, 60_000],
  [8, 60_000],
  [9, 60_000],
]);

const stubs: DoStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

/**
 * Status once a poll has re-armed the alarm. With a 1 s interval the alarm may also fire on its
 * own while the test runs (a loaded machine): then nextPollAt is briefly null, so wait for it.
 */
async function armedStatus(stub: DoStub, name: string): Promise<{ s: DbStatus; readAt: number }> {
  let s = await statusOf(stub, name);
  await waitUntil(async () => {
    s = await statusOf(stub, name);
    return s.nextPollAt !== null;
  }, "the alarm to be re-armed");
  return { s, readAt: Date.now() };
}

/** nextPollAt is the interval after the poll that armed it (bracketed, never timed). */
function expectArmedAfter(s: DbStatus, readAt: number): void {
  const { lastPollAt, nextPollAt } = s;
  if (lastPollAt === null || nextPollAt === null) throw new Error(`not armed after a poll: ${JSON.stringify(s)}`);
  expect(nextPollAt).toBeGreaterThanOrEqual(lastPollAt + s.currentIntervalMs);
  expect(nextPollAt).toBeLessThanOrEqual(readAt + s.currentIntervalMs);
}

test("after 1, 2, 3 … consecutive storage failures the poll interval is 2, 4, 8, 16, 32, then 60 s; one success resets it", async () => {
  expect(MAX_BACKOFF_MS).toBe(60_000);
  const name = `backoff-${Date.now().toString(36)}`;
  await seedReplica(r2, "small", name);
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);
  await configurePollInterval(stub, name, POLL_INTERVAL_MS);

  const healthy = await statusOf(stub, name);
  const m = await manifest("small");
  expect(healthy.position?.txid).toBe(m.final_txid_int);
  expect(healthy.pollIntervalMs).toBe(POLL_INTERVAL_MS);
  expect(healthy.currentIntervalMs).toBe(POLL_INTERVAL_MS);
  expect(healthy.consecutiveFailures).toBe(0);

  // Every listing fails from now on, like a store answering 503.
  let failed = 0;
  await wrapDoStore(stub, (inner) =>
    withFaults(inner, {
      list: async () => {
        failed++;
        throw new StorageError("STORAGE_ERROR", "HTTP 503 Service Unavailable from the store");
      },
    }),
  );

  const seen = new Map<number, number>();
  while ((seen.size === 0 ? 0 : Math.max(...seen.keys())) < 9) {
    await runDurableObjectAlarm(stub);
    const { s, readAt } = await armedStatus(stub, name);
    expect(s.state).toBe("error");
    expect(s.lastError?.code).toBe("STORAGE_ERROR");
    expect(s.consecutiveFailures).toBeGreaterThan(0);
    const want = AFTER_FAILURES.get(s.consecutiveFailures);
    expect(want, `no documented interval for ${s.consecutiveFailures} failures`).toBeDefined();
    expect(s.currentIntervalMs, `after ${s.consecutiveFailures} consecutive failures`).toBe(want);
    expectArmedAfter(s, readAt);
    // The last good state is still what the object serves.
    expect(s.position?.txid).toBe(m.final_txid_int);
    seen.set(s.consecutiveFailures, s.currentIntervalMs);
  }
  // The schedule was walked failure by failure (an alarm firing on its own may skip one, rarely).
  expect(seen.size).toBeGreaterThanOrEqual(6);
  expect(failed).toBeGreaterThanOrEqual(9);
  expect(Math.max(...seen.values())).toBe(60_000);

  // The store recovers: the next poll succeeds and the interval is the configured one again.
  await wrapDoStore(stub, null);
  await runDurableObjectAlarm(stub);
  const { s, readAt } = await armedStatus(stub, name);
  expect(s.state).toBe("ok");
  expect(s.consecutiveFailures).toBe(0);
  expect(s.currentIntervalMs).toBe(POLL_INTERVAL_MS);
  expectArmedAfter(s, readAt);
  expect(s.lastError?.code).toBe("STORAGE_ERROR"); // kept for the record
});
