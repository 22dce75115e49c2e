/**
 * Quiet replicas are polled less often: "up to 8× the interval after a few
 * minutes without changes" (docs/consistency.md). The Durable Object's
 * schedule: the configured interval for the first 30 quiet polls, 2× from the
 * 30th, 4× from the 60th, 8× from the 120th (at 1 s that is after 5½ minutes),
 * never more; any change brings it back to the configured interval. Driven by
 * runDurableObjectAlarm with the test config's hourly interval (so no alarm
 * fires on its own), observed through status (`currentIntervalMs`, `nextPollAt`).
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, expect, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { type DoStub, statusOf } from "../support/durable.ts";
import { advancePoll, manifest, seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);
/** poll_interval_ms of every database in the test config (vitest.config.ts). */
const HOUR = 3_600_000;

/** The interval after `quiet` polls in a row that found nothing new, at an hourly poll_interval_ms. */
function intervalAfterQuiet(quiet: number): number {
  if (quiet < 30) return HOUR;
  if (quiet < 60) return 2 * HOUR;
  if (quiet < 120) return 4 * HOUR;
  return 8 * HOUR;
}

const stubs: DoStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

test("after 30, 60 and 120 quiet polls the interval is 2×, 4× and 8× the configured one, never more; a change resets it", async () => {
  const name = `quiet-${Date.now().toString(36)}`;
  await seedReplica(r2, "poll/before", name);
  const m = await manifest("poll");
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);
  const start = await statusOf(stub, name);
  expect(start.pollIntervalMs).toBe(HOUR);
  expect(start.currentIntervalMs).toBe(HOUR);
  expect(start.position?.txid).toBe(Number.parseInt(m.before_final_txid ?? "", 16));

  const intervals: number[] = [];
  for (let quiet = 1; quiet <= 130; quiet++) {
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const s = await statusOf(stub, name);
    const readAt = Date.now();
    expect(s.state).toBe("ok");
    expect(s.consecutiveFailures).toBe(0);
    expect(s.currentIntervalMs, `after ${quiet} quiet polls`).toBe(intervalAfterQuiet(quiet));
    // The alarm is armed that far after the poll (bracketed by two clock readings, never timed).
    const { lastPollAt, nextPollAt } = s;
    if (lastPollAt === null || nextPollAt === null) throw new Error(`not armed after poll ${quiet}`);
    expect(nextPollAt).toBeGreaterThanOrEqual(lastPollAt + s.currentIntervalMs);
    expect(nextPollAt).toBeLessThanOrEqual(readAt + s.currentIntervalMs);
    intervals.push(s.currentIntervalMs);
  }
  expect(new Set(intervals)).toEqual(new Set([HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR]));
  expect(Math.max(...intervals)).toBe(8 * HOUR);

  // The replica moves on: the poll that finds it is not quiet, and the interval is the configured one again.
  await advancePoll(r2, name);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  const moved = await statusOf(stub, name);
  expect(moved.position?.txid).toBe(Number.parseInt(m.after_final_txid ?? "", 16));
  expect(moved.currentIntervalMs).toBe(HOUR);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect((await statusOf(stub, name)).currentIntervalMs).toBe(HOUR);
});
