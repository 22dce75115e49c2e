/**
 * Workerd-side helpers for page-fetcher tests: a page index loaded from a
 * replica the way the DO builds it (listing, then each file's tail), LTX
 * snapshots written with the project's LtxWriter, a store that logs (and can
 * count in-flight) range reads, and a collector for waitUntil work.
 */
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { LtxWriter } from "../../src/ltx/writer.ts";
import { PageIndex } from "../../src/page-index/page-index.ts";
import { Replica } from "../../src/replica/replica.ts";
import type { ObjectStore, WritableObjectStore } from "../../src/replica/types.ts";
import { computeRestorePlan } from "../../src/plan/plan.ts";
import { withFaults } from "./fault-store.ts";
import { seededBytes } from "./seeded-bytes.ts";

export { seededBytes };

/** The page index of a replica's latest plan, read through `store` (listing and file tails only). */
export async function loadPageIndex(store: ObjectStore, prefix: string): Promise<PageIndex> {
  const replica = new Replica(store, { prefix });
  const plan = computeRestorePlan(await replica.listFiles());
  let index: PageIndex | null = null;
  for (const file of plan) {
    const { header, index: fi } = await replica.readIndex(file);
    index ??= new PageIndex(header.pageSize);
    index.apply(file, header, fi);
  }
  if (!index) throw new Error(`no files under ${prefix}`);
  return index;
}

/** Writes pages 1..n (each `pageSize` bytes) as one snapshot `<prefix>/0009/…0001-…0001.ltx`; returns its key. */
export async function putSnapshot(store: WritableObjectStore, prefix: string, pageSize: number, pages: Uint8Array[]): Promise<string> {
  const w = new LtxWriter({ pageSize, commit: pages.length, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000 });
  pages.forEach((p, i) => w.addPage(i + 1, p));
  const key = `${prefix}/0009/${formatLtxFilename(1, 1)}`;
  await store.put(key, w.finish());
  return key;
}

export interface RangeRead {
  offset: number;
  length: number;
  /** Range reads of this store in flight when this one started (itself included). */
  inFlight: number;
}

/** Logs every range read of `inner` and tracks how many are in flight at once. */
export function rangeLog(inner: ObjectStore): { reads: RangeRead[]; peak: () => number; store: ObjectStore } {
  const reads: RangeRead[] = [];
  let inFlight = 0;
  let peak = 0;
  const store = withFaults(inner, {
    getRange: async (k, offset, length) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      reads.push({ offset, length, inFlight });
      try {
        return await inner.getRange(k, offset, length);
      } finally {
        inFlight--;
      }
    },
  });
  return { reads, peak: () => peak, store };
}

/** Collects waitUntil promises so a test can wait for background work (Cache API puts). */
export function backgroundWork(): { waitUntil: (p: Promise<unknown>) => void; settled: () => Promise<void> } {
  const pending: Promise<unknown>[] = [];
  return {
    waitUntil: (p) => void pending.push(p),
    settled: async () => {
      while (pending.length > 0) await Promise.allSettled(pending.splice(0));
    },
  };
}

/** An incompressible snapshot of `count` pseudo-random pages (one storage segment holds ~16), and its page index. */
export async function randomSnapshot(store: WritableObjectStore, prefix: string, pageSize: number, count: number, seed: number): Promise<{ index: PageIndex; pages: Uint8Array[] }> {
  const pages = Array.from({ length: count }, (_, i) => seededBytes(seed + i, pageSize));
  await putSnapshot(store, prefix, pageSize, pages);
  return { index: await loadPageIndex(store, prefix), pages };
}

/** The segments a page's frame spans. */
export function segmentsOf(index: PageIndex, pgno: number, segmentBytes: number): { first: number; last: number } {
  const offset = index.offsetOf(pgno);
  return { first: Math.floor(offset / segmentBytes), last: Math.floor((offset + index.sizeOf(pgno) - 1) / segmentBytes) };
}

/** Byte equality without vitest's element-wise deep equality on big arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
