/**
 * The cross-request-safe waiting primitives: WaitQueue hands values to live
 * waiters only and every waiter ends at its own deadline; SingleFlight shares
 * one run, and a run presumed abandoned (its request cancelled: it never
 * settles) does not hold anybody past the stale limit; withTimeout bounds an
 * await without leaving an unhandled rejection behind.
 */
import { describe, expect, test } from "vitest";
import { SingleFlight } from "../../src/sync/single-flight.ts";
import { withTimeout } from "../../src/sync/timeout.ts";
import { WaitQueue } from "../../src/sync/wait-queue.ts";

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe("WaitQueue", () => {
  test("hands over in FIFO order, only to waiters still waiting", async () => {
    const q = new WaitQueue<number>();
    const a = q.wait(Date.now() + 60_000, () => new Error("a timed out"));
    const b = q.wait(Date.now() + 20, () => new Error("b timed out"));
    const c = q.wait(Date.now() + 60_000, () => new Error("c timed out"));
    await expect(b).rejects.toThrow("b timed out");
    expect(q.length).toBe(2);
    expect(q.wakeOne(1)).toBe(true);
    expect(q.wakeOne(2)).toBe(true);
    expect(q.wakeOne(3)).toBe(false);
    expect(await a).toBe(1);
    expect(await c).toBe(2);
  });

  test("a deadline already past rejects at once; failAll rejects everyone", async () => {
    const q = new WaitQueue<number>();
    await expect(q.wait(Date.now() - 1, () => new Error("late"))).rejects.toThrow("late");
    const w = [q.wait(Number.POSITIVE_INFINITY, () => null), q.wait(Number.POSITIVE_INFINITY, () => null)];
    expect(q.failAll(new Error("gone"))).toBe(2);
    for (const p of w) await expect(p).rejects.toThrow("gone");
    expect(q.length).toBe(0);
  });
});

describe("SingleFlight", () => {
  test("concurrent callers share one run", async () => {
    const f = new SingleFlight<number>(60_000);
    let runs = 0;
    let release: (v: number) => void = () => undefined;
    const work = () => {
      runs++;
      return new Promise<number>((r) => (release = r));
    };
    const callers = [0, 1, 2].map(() => f.run(work, Date.now() + 60_000, () => new Error("timeout")));
    expect(runs).toBe(1);
    release(7);
    expect(await Promise.all(callers)).toEqual([7, 7, 7]);
    expect(f.busy).toBe(false);
  });

  test("a failure reaches every waiter; the next call runs again", async () => {
    const f = new SingleFlight<number>(60_000);
    let fail: (e: Error) => void = () => undefined;
    const first = f.run(() => new Promise<number>((_, j) => (fail = j)), Date.now() + 60_000, () => null);
    const second = f.run(async () => 1, Date.now() + 60_000, () => null);
    fail(new Error("boom"));
    await expect(first).rejects.toThrow("boom");
    await expect(second).rejects.toThrow("boom");
    expect(await f.run(async () => 2, Date.now() + 60_000, () => null)).toBe(2);
  });

  test("a run that never settles is abandoned after the stale limit: waiters lead a new one", async () => {
    const f = new SingleFlight<number>(30);
    void f.run(never, Number.POSITIVE_INFINITY, () => null).catch(() => undefined);
    expect(f.busy).toBe(true);
    // Waits at most until the stale run is presumed dead, then runs itself.
    expect(await f.run(async () => 5, Date.now() + 60_000, () => new Error("timeout"))).toBe(5);
  });

  test("a waiter gives up at its own deadline", async () => {
    const f = new SingleFlight<number>(60_000);
    void f.run(never, Number.POSITIVE_INFINITY, () => null).catch(() => undefined);
    await expect(f.run(async () => 1, Date.now() + 20, () => new Error("my deadline"))).rejects.toThrow("my deadline");
  });
});

describe("withTimeout", () => {
  test("passes values and errors through, and ends a hung await", async () => {
    expect(await withTimeout(Promise.resolve(3), 1000, () => new Error("t"))).toBe(3);
    await expect(withTimeout(Promise.reject(new Error("own")), 1000, () => new Error("t"))).rejects.toThrow("own");
    await expect(withTimeout(never(), 10, () => new Error("hung"))).rejects.toThrow("hung");
    expect(await withTimeout(Promise.resolve(4), Number.POSITIVE_INFINITY, () => new Error("t"))).toBe(4);
  });

  test("a rejection after the timeout is not left unhandled", async () => {
    let reject: (e: Error) => void = () => undefined;
    const late = new Promise<number>((_, j) => (reject = j));
    await expect(withTimeout(late, 5, () => new Error("hung"))).rejects.toThrow("hung");
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on("unhandledRejection", onUnhandled);
    reject(new Error("late failure"));
    await new Promise((r) => setImmediate(r));
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });
});
