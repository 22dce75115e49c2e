/**
 * @module
 * Worker-side holder of a database's page index: fetches it from the Durable
 * Object once (paging through large indexes), then only deltas. Consistent
 * even when the DO moves on while pages of a full index are being fetched:
 * pages are merged as they come, and a final delta from the oldest version
 * seen brings every page to the newest version.
 */
import { CodedError } from "../errors.ts";
import { PageIndex } from "../page-index/page-index.ts";
import type { Freshness, IndexPayload, RpcResult, SnapshotRequest, TimeTravelTarget } from "./protocol.ts";

/** What the client needs from the DO stub (a subset of DatabaseIndex's RPC methods). */
export interface IndexRpc {
  snapshot(name: string, req?: SnapshotRequest): Promise<RpcResult<IndexPayload>>;
  indexAt(name: string, target: TimeTravelTarget, fromPgno?: number, maxPages?: number): Promise<RpcResult<IndexPayload>>;
}

/** An error returned by the DO, with its stable code. */
export class IndexError extends CodedError {}

/** The value of an RPC result, or its error (with the DO's stable code) thrown. */
export function unwrap<T>(r: RpcResult<T>): T {
  if (!r.ok) throw new IndexError(r.error.code, r.error.message);
  return r.value;
}

export interface HeldIndex {
  index: PageIndex;
  generation: number;
  freshness: Freshness;
  /** Payload bytes received by the last sync (entries only), for stats. */
  lastSyncBytes: number;
}

function payloadBytes(p: IndexPayload): number {
  const e = p.entries;
  return e.pgno.byteLength + e.fileId.byteLength + e.offset.byteLength + e.size.byteLength + e.setAt.byteLength;
}

/** Loads every page of a full payload into a fresh index. */
async function loadFull(first: IndexPayload, next: (fromPgno: number) => Promise<IndexPayload>): Promise<{ index: PageIndex; oldest: number; bytes: number; generation: number; last: IndexPayload }> {
  const index = new PageIndex(first.position.pageSize, first.position.commit);
  let p = first;
  let oldest = first.position.version;
  let bytes = 0;
  for (;;) {
    if (p.generation !== first.generation) throw new IndexError("INDEX_GENERATION_CHANGED", "replica history changed while loading the index");
    index.merge(p.position, p.files, p.entries);
    bytes += payloadBytes(p);
    oldest = Math.min(oldest, p.position.version);
    if (p.nextPgno === null) break;
    p = await next(p.nextPgno);
  }
  return { index, oldest, bytes, generation: first.generation, last: p };
}

/**
 * Brings `held` up to date (or loads the index when `held` is null).
 * Returns the new holder; `held.index` is never mutated, so queries running
 * on it keep a stable snapshot.
 */
export interface SyncOptions {
  /** Entries per RPC page of a full index (smaller pages bound memory per call). */
  maxPages?: number;
}

export async function syncIndex(rpc: IndexRpc, name: string, held: HeldIndex | null, opts: SyncOptions = {}): Promise<HeldIndex> {
  const paging = opts.maxPages !== undefined ? { maxPages: opts.maxPages } : {};
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const req: SnapshotRequest = held ? { sinceVersion: held.index.version, generation: held.generation, ...paging } : { ...paging };
      const first = unwrap(await rpc.snapshot(name, req));
      if (!first.full && held) {
        if (first.entries.pgno.length === 0 && first.position.version === held.index.version && first.truncateTo === null) {
          return { ...held, freshness: first.freshness, lastSyncBytes: 0 };
        }
        const index = held.index.clone();
        index.merge(first.position, first.files, first.entries, first.truncateTo);
        if (index.missingPages(1).length > 0) {
          held = null;
          continue;
        }
        return { index, generation: first.generation, freshness: first.freshness, lastSyncBytes: payloadBytes(first) };
      }
      const loaded = await loadFull(first, async (fromPgno) => unwrap(await rpc.snapshot(name, { fromPgno, ...paging })));
      let index = loaded.index;
      let bytes = loaded.bytes;
      if (loaded.last.position.version !== loaded.oldest || first.position.version !== loaded.last.position.version) {
        // The DO moved on between pages: catch up from the oldest version we saw.
        const d = unwrap(await rpc.snapshot(name, { sinceVersion: loaded.oldest, generation: loaded.generation }));
        if (d.full) {
          held = null;
          continue;
        }
        index.merge(d.position, d.files, d.entries, d.truncateTo);
        bytes += payloadBytes(d);
      }
      if (index.missingPages(1).length > 0) throw new IndexError("INDEX_INCOMPLETE", `index received from the DO lacks page ${index.missingPages(1)[0]}`);
      return { index, generation: loaded.generation, freshness: loaded.last.freshness, lastSyncBytes: bytes };
    } catch (e) {
      if (e instanceof IndexError && e.code === "INDEX_GENERATION_CHANGED" && attempt < 2) {
        held = null;
        continue;
      }
      throw e;
    }
  }
  throw new IndexError("INDEX_UNSTABLE", "the index kept changing while it was being loaded");
}

/** Loads a time-travel index (full, paged). */
export async function loadIndexAt(rpc: IndexRpc, name: string, target: TimeTravelTarget, opts: SyncOptions = {}): Promise<HeldIndex> {
  const first = unwrap(await rpc.indexAt(name, target, 1, opts.maxPages));
  const loaded = await loadFull(first, async (fromPgno) => unwrap(await rpc.indexAt(name, target, fromPgno, opts.maxPages)));
  return { index: loaded.index, generation: loaded.generation, freshness: loaded.last.freshness, lastSyncBytes: loaded.bytes };
}
