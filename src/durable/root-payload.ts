/**
 * @module
 * What the Durable Object answers an isolate that holds some version of the
 * live index: "same", the chunks changed since that version (from the
 * change history: O(changed chunks), a few dozen bytes after one L0 file),
 * or the whole root when the isolate holds nothing, another lineage or
 * generation, or a version older than the history reaches.
 */
import { ID_BYTES, type IndexRoot, chunkIdOf } from "../page-index/root.ts";
import type { ChunkStore } from "./chunk-store.ts";
import type { Freshness, RootPayload, RootRequest } from "./protocol.ts";

export function rootPayload(root: IndexRoot, req: RootRequest, freshness: Freshness, store: ChunkStore): RootPayload {
  const same = req.lineage === root.lineage && req.generation === root.generation && req.version !== undefined && req.version <= root.version;
  if (!same || req.version === undefined) return full(root, freshness, store);
  if (req.version === root.version) return { kind: "same", freshness };
  const changed = store.changedSince(req.version, root.version);
  if (changed === null) return full(root, freshness, store);
  const n = root.chunks.length / ID_BYTES;
  const list = [...changed].filter((c) => c < n).sort((a, b) => a - b);
  const ids = new Uint8Array(list.length * ID_BYTES);
  list.forEach((c, k) => ids.set(root.chunks.subarray(c * ID_BYTES, (c + 1) * ID_BYTES), k * ID_BYTES));
  const { chunks: _, ...pos } = root;
  return { kind: "delta", delta: { ...pos, fromVersion: req.version, changed: Uint32Array.from(list), ids }, freshness };
}

/** The whole root, with chunk 0 riding along: an isolate that needs the root needs page 1 next. */
function full(root: IndexRoot, freshness: Freshness, store: ChunkStore): RootPayload {
  const id = chunkIdOf(root, 0);
  const first = id !== null ? store.get(id) : null;
  return first ? { kind: "full", root, freshness, first } : { kind: "full", root, freshness };
}
