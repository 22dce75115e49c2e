/**
 * @module
 * Worker-side holder of a database's index root: fetched from the Durable
 * Object once, then kept current with deltas (the chunk ids that changed).
 * A root is never mutated: a sync returns a new one, so queries holding the
 * old one keep reading one consistent version. Chunks are loaded separately,
 * when queries touch them (src/query/chunk-cache.ts).
 */
import { CodedError } from "../errors.ts";
import { type IndexRoot, ID_BYTES, applyDelta, checkRoot, chunkIdOf } from "../page-index/root.ts";
import type { Freshness, RootPayload, RootRequest, RpcResult, TimeTravelTarget } from "./protocol.ts";

/** What the client needs from the DO stub (a subset of DatabaseIndex's RPC methods). */
export interface IndexRpc {
  root(name: string, req?: RootRequest): Promise<RpcResult<RootPayload>>;
  rootAt(name: string, target: TimeTravelTarget): Promise<RpcResult<{ root: IndexRoot; freshness: Freshness }>>;
  chunks(name: string, ids: string[]): Promise<RpcResult<Uint8Array[]>>;
}

/** An error returned by the DO, with its stable code. */
export class IndexError extends CodedError {}

/** The value of an RPC result, or its error (with the DO's stable code) thrown. */
export function unwrap<T>(r: RpcResult<T>): T {
  if (!r.ok) throw new IndexError(r.error.code, r.error.message);
  return r.value;
}

export interface HeldIndex {
  root: IndexRoot;
  freshness: Freshness;
  /** Bytes of index received by the last sync (root or delta), for stats. */
  lastSyncBytes: number;
  /**
   * Chunk 0 as it came with a full root, until the first query hands it to
   * the isolate's chunk cache (then cleared: a holder keeps only the root).
   */
  firstChunk?: { id: string; bytes: Uint8Array } | undefined;
}

/** Generation of a held index (the replica's history it belongs to). */
export function generationOf(h: HeldIndex): number {
  return h.root.generation;
}

/**
 * Brings `held` up to date (or loads the root when `held` is null). Returns
 * a new holder; `held.root` is never mutated.
 */
export async function syncIndex(rpc: IndexRpc, name: string, held: HeldIndex | null): Promise<HeldIndex> {
  const req: RootRequest = held ? { lineage: held.root.lineage, generation: held.root.generation, version: held.root.version } : {};
  const p = unwrap(await rpc.root(name, req));
  switch (p.kind) {
    case "same":
      if (!held) throw new IndexError("INDEX_UNAVAILABLE", "the Durable Object answered an empty request with no change");
      return { root: held.root, freshness: p.freshness, lastSyncBytes: 0 };
    case "delta": {
      if (!held) throw new IndexError("INDEX_UNAVAILABLE", "the Durable Object sent a delta to an empty holder");
      return { root: applyDelta(held.root, p.delta), freshness: p.freshness, lastSyncBytes: p.delta.ids.length + p.delta.changed.byteLength };
    }
    case "full": {
      checkRoot(p.root);
      const id = chunkIdOf(p.root, 0);
      const firstChunk = id !== null && p.first instanceof Uint8Array ? { id, bytes: p.first } : undefined;
      return { root: p.root, freshness: p.freshness, lastSyncBytes: p.root.chunks.length + (firstChunk?.bytes.length ?? 0), firstChunk };
    }
  }
}

/** Loads a time-travel root. */
export async function loadIndexAt(rpc: IndexRpc, name: string, target: TimeTravelTarget): Promise<HeldIndex> {
  const r = unwrap(await rpc.rootAt(name, target));
  checkRoot(r.root);
  return { root: r.root, freshness: r.freshness, lastSyncBytes: r.root.chunks.length };
}

/** Bytes an isolate holds for a root (its chunk ids). */
export function heldBytes(h: HeldIndex): number {
  return h.root.chunks.length + ID_BYTES;
}
