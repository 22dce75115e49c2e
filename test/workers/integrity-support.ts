/**
 * Helpers for the integrity tests: a store that flips a byte of one object
 * on every read (the same ETag — what no real R2 can produce, so it is
 * injected with withFaults), LTX files written with the project's writer,
 * and typed access to a Durable Object's status.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach } from "vitest";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import type { DbStatus } from "../../src/durable/protocol.ts";
import { LtxWriter, type LtxWriteOptions } from "../../src/ltx/writer.ts";
import type { ObjectStore, RangeResult } from "../../src/replica/types.ts";
import { withFaults } from "../support/fault-store.ts";

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
    bytes[f.at - start] = (bytes[f.at - start] as number) ^ 0x5a;
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
