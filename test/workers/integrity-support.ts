/**
 * Helpers for the integrity tests: a store that flips a byte of one object
 * on every read (the same ETag — what no real R2 can produce, so it is
 * injected with withFaults), LTX files written with the project's writer,
 * and typed access to a Durable Object's status.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, beforeAll } from "vitest";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import type { DbStatus } from "../../src/durable/protocol.ts";
import { LtxWriter, type LtxWriteOptions } from "../../src/ltx/writer.ts";
import { forgetDatabase } from "../../src/query/service.ts";
import type { ObjectStore, RangeResult } from "../../src/replica/types.ts";
import type { Reply } from "../support/http.ts";
import { withFaults } from "../support/fault-store.ts";

/** What a flip XORs into the byte ('N' becomes 'M'). */
export const FLIP_MASK = 0x03;

/** Which byte of which object to flip; `on` can be switched off ("repaired in place", same ETag). */
export interface Flip {
  key: string;
  at: number;
  on: boolean;
}

function flipped(r: RangeResult, start: number, flips: readonly Flip[], key: string): RangeResult {
  let bytes = r.bytes;
  for (const f of flips) {
    if (!f.on || f.key !== key || f.at < start || f.at >= start + bytes.length) continue;
    if (bytes === r.bytes) bytes = bytes.slice();
    bytes[f.at - start] = (bytes[f.at - start] as number) ^ FLIP_MASK;
  }
  return bytes === r.bytes ? r : { ...r, bytes };
}

/** Every read of `inner` with the given bytes flipped (ETag and size unchanged); counts reads in `log`. */
export function flipping(inner: ObjectStore, flips: readonly Flip[], log: { key: string; offset: number; length: number }[] = []): ObjectStore {
  return withFaults(inner, {
    getRange: async (k, o, l) => {
      log.push({ key: k, offset: o, length: l });
      return flipped(await inner.getRange(k, o, l), o, flips, k);
    },
    getSuffix: async (k, l, s) => {
      const r = await inner.getSuffix(k, l, s);
      log.push({ key: k, offset: r.size - r.bytes.length, length: r.bytes.length });
      return flipped(r, r.size - r.bytes.length, flips, k);
    },
    get: async (k) => {
      const r = await inner.get(k);
      log.push({ key: k, offset: 0, length: r.bytes.length });
      return flipped(r, 0, flips, k);
    },
  });
}

export const PAGE = 4096;

/** An LTX file of the given pages (each filled with `fill`, or random when fill is null: incompressible, so a flip decodes "fine"). */
export function ltx(opts: Omit<LtxWriteOptions, "pageSize" | "timestamp"> & { pageSize?: number }, pgnos: number[], fill: number | null = 1): Uint8Array {
  const pageSize = opts.pageSize ?? PAGE;
  const w = new LtxWriter({ ...opts, pageSize, timestamp: 1_700_000_000_000 + opts.maxTxid });
  for (const p of pgnos) w.addPage(p, fill === null ? crypto.getRandomValues(new Uint8Array(pageSize)) : new Uint8Array(pageSize).fill((fill + p) % 251));
  return w.finish();
}

export const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

export async function statusOf(stub: DurableObjectStub<DatabaseIndex>, name: string): Promise<DbStatus> {
  const r = await stub.status(name);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

let seq = 0;
/** A database name no other test uses. */
export const uniq = (base: string): string => `${base}-${Date.now().toString(36)}-${seq++}`;

/** Stubs handed out by `stubFor` stop polling after each test; `evict` aborts one (storage survives, memory does not). */
export function trackStubs(): { stubFor(name: string): DurableObjectStub<DatabaseIndex>; evict(s: DurableObjectStub<DatabaseIndex>): Promise<void> } {
  const stubs: DurableObjectStub<DatabaseIndex>[] = [];
  afterEach(async () => {
    for (const s of stubs.splice(0)) await s.stop();
  });
  return {
    stubFor(name) {
      const s = env.DB_INDEX.getByName(name);
      stubs.push(s);
      return s;
    },
    async evict(s) {
      await runInDurableObject(s, (_i: DatabaseIndex, state: DurableObjectState) => state.abort("evict for test")).catch(() => undefined);
      stubs.splice(stubs.indexOf(s), 1); // that stub is broken now
    },
  };
}

/** The text a row of {@link needleDb} carries, and what a flipped byte turns it into. */
export const NEEDLE = "NEEDLE-7f3a9c";
export const FLIPPED = "MEEDLE-7f3a9c";

/**
 * A real SQLite database (> 1 MiB, so the DO verifies it in the background
 * scrub) as a one-file LTX snapshot whose row `id = 300` holds {@link NEEDLE};
 * `at` is the offset of its first byte in the LTX file. Rows carry random
 * blobs, so the needle is stored as LZ4 literals: flipping that byte
 * ({@link FLIP_MASK}) decodes "fine" and the row reads {@link FLIPPED}.
 */
export async function needleDb(): Promise<{ ltx: Uint8Array; at: number }> {
  const { FixtureDb, asWalPrimary } = await import("../support/sqlite-db.ts");
  const db = await FixtureDb.create(PAGE);
  await db.exec(`
    CREATE TABLE blobs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, data BLOB NOT NULL);
    BEGIN;
    WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 600)
      INSERT INTO blobs SELECT x, CASE x WHEN 300 THEN '${NEEDLE}' ELSE 'row-' || x END, randomblob(3000) FROM s;
    COMMIT;
  `);
  const bytes = asWalPrimary(db.bytes());
  await db.close();
  const pages = bytes.length / PAGE;
  const w = new LtxWriter({ pageSize: PAGE, commit: pages, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000 });
  for (let p = 1; p <= pages; p++) w.addPage(p, bytes.subarray((p - 1) * PAGE, p * PAGE));
  const file = w.finish();
  const needle = new TextEncoder().encode(NEEDLE);
  let at = -1;
  for (let i = 0; i + needle.length <= file.length && at < 0; i++) {
    let k = 0;
    while (k < needle.length && file[i + k] === needle[k]) k++;
    if (k === needle.length) at = i;
  }
  if (at < 0) throw new Error("needle not stored as literals");
  return { ltx: file, at };
}

/** Builds {@link needleDb} once for a test file (in beforeAll). */
export function useNeedleDb(): { ltx: Uint8Array; at: number } {
  const held = { ltx: new Uint8Array(0), at: 0 };
  beforeAll(async () => {
    Object.assign(held, await needleDb());
  }, 120_000);
  return held;
}

/**
 * The needle row over HTTP, on an index the isolate fetches from the DO now:
 * it drops its copy first (instead of waiting max_staleness for the next sync).
 */
export async function queryNeedle(db: string): Promise<Reply> {
  forgetDatabase(db);
  const res = await exports.default.fetch(`http://localhost/db/${db}/query`, { method: "POST", body: JSON.stringify({ sql: "SELECT name FROM blobs WHERE id = 300" }) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}
