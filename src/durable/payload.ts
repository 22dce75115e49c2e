/**
 * @module
 * Index payloads the Durable Object hands to Workers: a page of a full
 * index, or a delta since a version the caller holds.
 */
import type { PageIndex } from "../page-index/page-index.ts";
import type { Freshness, IndexPayload } from "./protocol.ts";

/** Entries per RPC payload (≈ 14 MB, well below the 32 MiB RPC limit). */
export const PAYLOAD_PAGES = 500_000;

/** One page of the full index, from `fromPgno`. */
export function fullPayload(index: PageIndex, generation: number, freshness: Freshness, fromPgno: number, maxPages = PAYLOAD_PAGES): IndexPayload {
  const start = Math.max(1, Math.floor(fromPgno));
  const limit = Math.max(1, Math.min(PAYLOAD_PAGES, Math.floor(maxPages)));
  const entries = index.entries(0, start, limit);
  const next = start + limit;
  return {
    generation,
    position: index.position,
    full: true,
    truncateTo: null,
    files: index.filesFor(entries),
    entries,
    nextPgno: next <= index.commit ? next : null,
    freshness,
  };
}

/** What changed since `since`, or null when that is too much for one payload (send a full index instead). */
export function deltaPayload(index: PageIndex, generation: number, freshness: Freshness, since: number): IndexPayload | null {
  const entries = index.entries(since);
  if (entries.pgno.length > PAYLOAD_PAGES) return null;
  return {
    generation,
    position: index.position,
    full: false,
    truncateTo: index.lowestCommitSince(since),
    files: index.filesFor(entries),
    entries,
    nextPgno: null,
    freshness,
  };
}
