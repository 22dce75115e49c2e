/**
 * @module
 * The engine's fast lane: a call runs first on wa-sqlite's synchronous build
 * over a memory-only VFS; a page not in memory voids the attempt and the call
 * runs again on the main lane (JSPI or Asyncify), with the same answer.
 */

import { beforeAll, describe, expect, test } from "vitest";
import { SqlEngine, type ExecLimits } from "../../src/sql/engine.ts";
import type { PageSource } from "../../src/vfs/page-source.ts";
import type { SqliteWasmProvider } from "../../src/vfs/sqlite-module.ts";
import { asWalPrimary, buildStandardDb, TestPageSource } from "../support/sqlite-db.ts";

const LIMITS: ExecLimits = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 20_000 };
const SCAN = "SELECT count(*), sum(price), min(name), max(length(payload)) FROM items";
const ROWS = "SELECT id, name FROM items WHERE id % 97 = 0 ORDER BY id";

/** Pages in `warm` are in memory (`pageIfReady`); the rest only through `readPage`, which warms them. */
class PartlyWarmSource extends TestPageSource {
  readonly warm = new Set<number>();
  asyncReads = 0;
  page(pgno: number): Uint8Array {
    return this.bytes.subarray((pgno - 1) * this.pageSize, pgno * this.pageSize);
  }
  pageIfReady(pgno: number): Uint8Array | null {
    return this.warm.has(pgno) ? this.page(pgno) : null;
  }
  override async readPage(pgno: number): Promise<Uint8Array> {
    this.asyncReads++;
    this.warm.add(pgno);
    return super.readPage(pgno);
  }
}

let file: Uint8Array;
let expectedScan: unknown;
let expectedRows: unknown;
beforeAll(async () => {
  const fixture = await buildStandardDb(4096, 4000);
  file = asWalPrimary(fixture.bytes());
  await fixture.close();
  // The answers, from the main lane alone (no fast lane at all).
  const plain = await SqlEngine.create({ build: "asyncify", instances: 1 });
  const r = await plain.execute("plain", new TestPageSource(file, 1), [{ sql: SCAN }, { sql: ROWS }], LIMITS);
  expectedScan = r.results[0]?.rows;
  expectedRows = r.results[1]?.rows;
  expect((expectedRows as unknown[]).length).toBe(41);
}, 120_000);

for (const build of ["jspi", "asyncify"] as const) {
  describe(`main lane ${build}`, () => {
    test("a cold call misses on the fast lane and runs on the main lane; the warm repeat is the fast lane's, with the same rows", async () => {
      const engine = await SqlEngine.create({ build, fastLane: true });
      expect(engine.fastLane).toBe(true);
      const src = new PartlyWarmSource(file, 1);
      const cold = await engine.execute("db", src, [{ sql: SCAN }, { sql: ROWS }], LIMITS);
      expect(cold.stats.lane).toBe("fallback");
      expect(cold.results.map((r) => r.rows)).toEqual([expectedScan, expectedRows]);
      expect(src.asyncReads).toBeGreaterThan(0);

      const reads = src.asyncReads;
      const warm = await engine.execute("db", src, [{ sql: SCAN }, { sql: ROWS }], LIMITS);
      expect(warm.stats.lane).toBe("fast");
      expect(warm.results.map((r) => r.rows)).toEqual([expectedScan, expectedRows]);
      expect(src.asyncReads).toBe(reads);
      expect(engine.fastLaneStats).toEqual({ hits: 1, misses: 1 });
    });

    test("a miss after rows were produced: the attempt's rows are thrown away, none is returned twice", async () => {
      const engine = await SqlEngine.create({ build, fastLane: true });
      const src = new PartlyWarmSource(file, 1);
      // Warm the schema and the first half of the table only.
      for (let p = 1; p <= Math.floor(src.pageCount / 2); p++) src.warm.add(p);
      const r = await engine.execute("half", src, [{ sql: ROWS }], LIMITS);
      expect(r.stats.lane).toBe("fallback");
      expect(r.results[0]?.rows).toEqual(expectedRows);
      expect(r.results[0]?.rowsRead).toBe(41);
    });

    test("a busy fast lane is skipped, never waited for: the second call of two runs on the main lane", async () => {
      const engine = await SqlEngine.create({ build, fastLane: true });
      const src = new PartlyWarmSource(file, 1);
      for (let p = 1; p <= src.pageCount; p++) src.warm.add(p);
      const [a, b] = await Promise.all([
        engine.execute("busy", src, [{ sql: SCAN }], LIMITS),
        engine.execute("busy", src, [{ sql: SCAN }], LIMITS),
      ]);
      expect([a.stats.lane, b.stats.lane]).toEqual(["fast", "main"]);
      expect(a.results[0]?.rows).toEqual(expectedScan);
      expect(b.results[0]?.rows).toEqual(expectedScan);
    });

    test("errors met on the fast lane are final: a syntax error, a write, the step budget", async () => {
      const engine = await SqlEngine.create({ build, fastLane: true });
      const src = new PartlyWarmSource(file, 1);
      for (let p = 1; p <= src.pageCount; p++) src.warm.add(p);
      await expect(engine.execute("err", src, [{ sql: "SELEC 1" }], LIMITS)).rejects.toMatchObject({ code: "SQL_SYNTAX" });
      await expect(engine.execute("err", src, [{ sql: "DELETE FROM items" }], LIMITS)).rejects.toMatchObject({ code: "SQL_READONLY" });
      await expect(engine.execute("err", src, [{ sql: SCAN }], { ...LIMITS, maxVmSteps: 5_000 })).rejects.toMatchObject({ code: "SQL_CPU_LIMIT" });
      // None of them was taken for a miss and run again.
      expect(engine.fastLaneStats.misses).toBe(0);
      expect(src.asyncReads).toBe(0);
    });

    test("an error thrown by the source on the fast lane is the caller's error, not a miss", async () => {
      const engine = await SqlEngine.create({ build, fastLane: true });
      const inner = new TestPageSource(file, 1);
      const bad: PageSource = {
        pageSize: inner.pageSize,
        pageCount: inner.pageCount,
        txid: 1,
        readPage: (n) => inner.readPage(n),
        pageIfReady: (n) => {
          if (n > 3) throw Object.assign(new Error("bad frame"), { code: "LTX_CHECKSUM_MISMATCH" });
          return inner.bytes.subarray((n - 1) * 4096, n * 4096);
        },
      };
      await expect(engine.execute("bad", bad, [{ sql: SCAN }], LIMITS)).rejects.toMatchObject({ code: "LTX_CHECKSUM_MISMATCH" });
      expect(engine.fastLaneStats.misses).toBe(0);
    });
  });
}

test("a source without pageIfReady goes straight to the main lane", async () => {
  const engine = await SqlEngine.create({ build: "asyncify", fastLane: true });
  const r = await engine.execute("nopir", new TestPageSource(file, 1), [{ sql: SCAN }], LIMITS);
  expect(r.stats.lane).toBe("main");
  expect(r.results[0]?.rows).toEqual(expectedScan);
  expect(engine.fastLaneStats).toEqual({ hits: 0, misses: 0 });
});

test("the fast lane keeps its SQLite page cache across calls at one TXID and drops it when the TXID moves", async () => {
  const engine = await SqlEngine.create({ build: "asyncify", fastLane: true });
  const src = new PartlyWarmSource(file, 5);
  for (let p = 1; p <= src.pageCount; p++) src.warm.add(p);
  const first = await engine.execute("cache", src, [{ sql: ROWS }], LIMITS);
  const firstReads = first.stats.pagesRead;
  const again = await engine.execute("cache", src, [{ sql: ROWS }], LIMITS);
  expect(again.stats.lane).toBe("fast");
  // Only the change-counter read of page 1: every other page came from SQLite's own cache.
  expect(again.stats.pagesRead).toBeLessThan(firstReads / 4);
  const moved = new PartlyWarmSource(file, 6);
  for (let p = 1; p <= moved.pageCount; p++) moved.warm.add(p);
  const next = await engine.execute("cache", moved, [{ sql: ROWS }], LIMITS);
  expect(next.results[0]?.rows).toEqual(expectedRows);
  // A new TXID: SQLite's cache is dropped, the pages come through the VFS again.
  expect(next.stats.pagesRead).toBeGreaterThan(firstReads - 4);
});

test("the main lane's build cannot be the synchronous one", async () => {
  await expect(SqlEngine.create({ build: "sync" as "jspi" })).rejects.toThrow(/fast lane/);
});

test("a fast lane whose build does not load is left out: the main lane answers every query", async () => {
  const { workerdWasm } = await import("../../src/vfs/wasm-workerd.ts");
  let syncLoads = 0;
  // The one fault a real runtime cannot be made to produce on demand: the synchronous build failing to load.
  const failingSync: SqliteWasmProvider = {
    factory: (build) => {
      if (build === "sync") {
        syncLoads++;
        return Promise.reject(new Error("no memory for another instance"));
      }
      return workerdWasm.factory(build);
    },
    module: (build) => workerdWasm.module(build),
  };
  const engine = SqlEngine.createLazy({ build: "asyncify", fastLane: true, wasm: failingSync });
  const src = new PartlyWarmSource(file, 1);
  for (let p = 1; p <= src.pageCount; p++) src.warm.add(p);
  const first = await engine.execute("noload", src, [{ sql: SCAN }], LIMITS);
  expect(first.stats.lane).toBe("fallback");
  expect(first.results[0]?.rows).toEqual(expectedScan);
  const second = await engine.execute("noload", src, [{ sql: SCAN }], LIMITS);
  expect(second.stats.lane).toBe("main");
  expect(syncLoads).toBe(1);
});
