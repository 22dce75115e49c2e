/**
 * @module
 * Fairness and liveness of the engine's lock on both builds. The fault is
 * what a cancelled request looks like from inside the engine: the holder's
 * PageSource.readPage returns a promise that never settles. Waiters behind it
 * must complete (after the stalled holder is presumed dead) or time out with
 * a coded error at their own deadline; the engine is never wedged.
 */

import { beforeAll, describe, expect, test } from "vitest";
import { SqlEngine, SqlError, type ExecLimits } from "../../src/sql/engine.ts";
import { buildStandardDb, TestPageSource } from "../support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 60_000 };
const COUNT = [{ sql: "SELECT count(*) FROM items" }];

/** A PageSource whose reads stop at a gate: they wait until `open()`, or forever if it is never called. */
class GatedSource extends TestPageSource {
  #reached: () => void = () => undefined;
  /** Resolves when the first read is waiting at the gate. */
  readonly reached = new Promise<void>((resolve) => {
    this.#reached = resolve;
  });
  #open: () => void = () => undefined;
  readonly #gate = new Promise<void>((resolve) => {
    this.#open = resolve;
  });

  override async readPage(pgno: number): Promise<Uint8Array> {
    this.#reached();
    await this.#gate;
    return super.readPage(pgno);
  }

  open(): void {
    this.#open();
  }
}

async function outcome(p: Promise<{ results: { rows: unknown[][] }[] }>): Promise<unknown> {
  return p.then(
    (r) => r.results[0]?.rows,
    (e: unknown) => (e instanceof SqlError ? e.code : e),
  );
}

let bytes: Uint8Array;

beforeAll(async () => {
  const db = await buildStandardDb(4096, 2000);
  bytes = db.bytes();
  await db.close();
});

for (const build of ["jspi", "asyncify"] as const) {
  describe(`engine lock (${build})`, () => {
    const good = () => new TestPageSource(bytes, 1);

    test("a holder whose read never settles is taken over after its deadline plus the grace; waiters complete", async () => {
      const engine = await SqlEngine.create({ build, instances: 1, stallGraceMs: 200 });
      const stuck = new GatedSource(bytes, 1);
      void engine.execute("a", stuck, COUNT, { ...LIMITS, timeoutMs: 100 }).catch(() => undefined);
      await stuck.reached;
      const b = outcome(engine.execute("b", good(), COUNT, LIMITS));
      const c = outcome(engine.execute("c", good(), [{ sql: "SELECT name FROM items WHERE id = 7" }], LIMITS));
      expect(await b).toEqual([[2000n]]);
      expect(await c).toEqual([["item-7"]]);
      expect(engine.abandoned).toBe(1);
      expect(await outcome(engine.execute("d", good(), COUNT, LIMITS))).toEqual([[2000n]]);
      expect(engine.queueLength).toBe(0);
    });

    test("a waiter whose deadline comes first times out with SQL_TIMEOUT (waiting for the engine); later queries complete", async () => {
      const engine = await SqlEngine.create({ build, instances: 1, stallGraceMs: 500 });
      const stuck = new GatedSource(bytes, 1);
      void engine.execute("a", stuck, COUNT, { ...LIMITS, timeoutMs: 100 }).catch(() => undefined);
      await stuck.reached;
      const early = engine.execute("b", good(), COUNT, { ...LIMITS, timeoutMs: 50 }).catch((e: unknown) => e);
      const patient = outcome(engine.execute("c", good(), COUNT, LIMITS));
      const e = await early;
      expect(e).toBeInstanceOf(SqlError);
      expect(e).toMatchObject({ code: "SQL_TIMEOUT" });
      expect((e as SqlError).message).toMatch(/waiting for the engine/);
      expect(await patient).toEqual([[2000n]]);
      expect(await outcome(engine.execute("d", good(), COUNT, LIMITS))).toEqual([[2000n]]);
    });

    test("an explicit deadline covers the wait: one already past fails with SQL_TIMEOUT before any work", async () => {
      const engine = await SqlEngine.create({ build });
      const source = good();
      expect(await outcome(engine.execute("x", source, COUNT, { ...LIMITS, deadline: Date.now() - 1 }))).toBe("SQL_TIMEOUT");
      expect(source.calls).toEqual([]);
    });

    test("a full queue answers ENGINE_BUSY at once; the queued calls still complete", async () => {
      const engine = await SqlEngine.create({ build, instances: 1, stallGraceMs: 100 });
      const stuck = new GatedSource(bytes, 1);
      void engine.execute("a", stuck, COUNT, { ...LIMITS, timeoutMs: 100 }).catch(() => undefined);
      await stuck.reached;
      const limits = { ...LIMITS, maxQueued: 2 };
      const b = outcome(engine.execute("b", good(), COUNT, limits));
      const c = outcome(engine.execute("c", good(), COUNT, limits));
      const busy = await engine.execute("d", good(), COUNT, limits).catch((e: unknown) => e);
      expect(busy).toMatchObject({ code: "ENGINE_BUSY" });
      expect(await b).toEqual([[2000n]]);
      expect(await c).toEqual([[2000n]]);
    });

    test("waiters are served in arrival order", async () => {
      const engine = await SqlEngine.create({ build, instances: 1 });
      const gate = new GatedSource(bytes, 1);
      const first = outcome(engine.execute("first", gate, COUNT, LIMITS));
      await gate.reached;
      const done: number[] = [];
      const calls = Array.from({ length: 6 }, (_, i) =>
        engine.execute(`w${i % 2}`, good(), [{ sql: "SELECT ?", params: [i] }], LIMITS).then((r) => {
          done.push(i);
          return r.results[0]?.rows;
        }),
      );
      expect(engine.queueLength).toBe(7);
      gate.open();
      expect(await first).toEqual([[2000n]]);
      expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4, 5].map((i) => [[BigInt(i)]]));
      expect(done).toEqual([0, 1, 2, 3, 4, 5]);
    });

    test("an abandoned holder that resumes later finishes on its own, discarded instance and disturbs nobody", async () => {
      const engine = await SqlEngine.create({ build, instances: 1, stallGraceMs: 100 });
      const late = new GatedSource(bytes, 1);
      const a = outcome(engine.execute("a", late, COUNT, { ...LIMITS, timeoutMs: 50 }));
      await late.reached;
      expect(await outcome(engine.execute("b", good(), COUNT, LIMITS))).toEqual([[2000n]]);
      expect(engine.abandoned).toBe(1);
      const memoryBefore = engine.memoryBytes;
      late.open();
      // It resumes inside SQLite on the old instance; whatever it returns, it returns.
      const resumed = await a;
      if (resumed !== "SQL_TIMEOUT") expect(resumed).toEqual([[2000n]]);
      expect(engine.memoryBytes).toBe(memoryBefore);
      expect(engine.queueLength).toBe(0);
      const again = await Promise.all([
        outcome(engine.execute("b", good(), COUNT, LIMITS)),
        outcome(engine.execute("a", good(), [{ sql: "SELECT max(id) FROM items" }], LIMITS)),
      ]);
      expect(again).toEqual([[[2000n]], [[2000n]]]);
      expect(engine.resets).toBe(0);
    });

    test("two instances: a stalled holder holds up nobody; the second instance serves the others", async () => {
      const engine = await SqlEngine.create({ build, instances: 2, stallGraceMs: 60_000 });
      const stuck = new GatedSource(bytes, 1);
      void engine.execute("a", stuck, COUNT, { ...LIMITS, timeoutMs: 100 }).catch(() => undefined);
      await stuck.reached;
      const all = await Promise.all([1, 2, 3].map((i) => outcome(engine.execute(`p${i}`, good(), [{ sql: "SELECT ?", params: [i] }], LIMITS))));
      expect(all).toEqual([[[1n]], [[2n]], [[3n]]]);
      expect(engine.abandoned).toBe(0);
      stuck.open();
    });

    test("two instances, both stalled: the waiter gets a slot back after the grace", async () => {
      const engine = await SqlEngine.create({ build, instances: 2, stallGraceMs: 100 });
      const stuck = [new GatedSource(bytes, 1), new GatedSource(bytes, 1)];
      for (const [i, s] of stuck.entries()) void engine.execute(`s${i}`, s, COUNT, { ...LIMITS, timeoutMs: 50 }).catch(() => undefined);
      await Promise.all(stuck.map((s) => s.reached));
      expect(await outcome(engine.execute("w", good(), COUNT, LIMITS))).toEqual([[2000n]]);
      expect(engine.abandoned).toBeGreaterThanOrEqual(1);
    });

    test("createLazy: the first caller loads the instance inside the lock; concurrent first calls share it", async () => {
      const engine = SqlEngine.createLazy({ build });
      expect(engine.memoryBytes).toBe(0);
      const rows = await Promise.all([1, 2, 3].map((i) => outcome(engine.execute(`l${i}`, good(), [{ sql: "SELECT ?", params: [i] }], LIMITS))));
      expect(rows).toEqual([[[1n]], [[2n]], [[3n]]]);
      expect(engine.memoryBytes).toBeGreaterThan(0);
      expect(engine.build).toBe(build);
    });
  });
}
