/**
 * @module
 * The root of one version of a database's page index: its position and the
 * id of each chunk. A root is small (16 bytes per 4096 pages: 100 KB for a
 * 100 GB database), so isolates sync roots, not indexes, and load chunks
 * when a query first touches them. A query pins one root, so it reads one
 * consistent version without copying anything. Pure TypeScript.
 */
import { chunkCount } from "./chunk.ts";

/** Bytes of one chunk id in a root. */
export const ID_BYTES = 16;

export interface RootPosition {
  pageSize: number;
  /** Database size in pages. */
  commit: number;
  /** MaxTXID of the newest applied file. */
  txid: number;
  /** Header timestamp (ms) of the newest applied file. */
  timestamp: number;
}

export interface IndexRoot extends RootPosition {
  /** Random per Durable Object storage: versions of two lineages are never compared. */
  lineage: string;
  /** Changes when the replica's history was replaced (wiped and re-seeded). */
  generation: number;
  /** Grows with every change of the live index. */
  version: number;
  /** Chunk ids, {@link ID_BYTES} each, chunk 0 first. */
  chunks: Uint8Array;
}

/** What changed between two versions of the same lineage and generation. */
export interface RootDelta extends RootPosition {
  lineage: string;
  generation: number;
  /** The version this delta applies to. */
  fromVersion: number;
  version: number;
  /** Chunk numbers whose id changed (or that are new). */
  changed: Uint32Array;
  /** Their new ids, {@link ID_BYTES} each. */
  ids: Uint8Array;
}

export function idToHex(ids: Uint8Array, i: number): string {
  let s = "";
  for (let k = i * ID_BYTES; k < (i + 1) * ID_BYTES; k++) s += (ids[k] as number).toString(16).padStart(2, "0");
  return s;
}

export function hexToId(hex: string, into: Uint8Array, i: number): void {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new RangeError(`bad chunk id ${JSON.stringify(hex)}`);
  for (let k = 0; k < ID_BYTES; k++) into[i * ID_BYTES + k] = Number.parseInt(hex.slice(2 * k, 2 * k + 2), 16);
}

/** The id of chunk `n` of a root, or null when the root has no such chunk. */
export function chunkIdOf(root: IndexRoot, n: number): string | null {
  return n >= 0 && (n + 1) * ID_BYTES <= root.chunks.length ? idToHex(root.chunks, n) : null;
}

/** Checks that a root's chunk list matches its Commit. */
export function checkRoot(root: IndexRoot): void {
  if (root.chunks.length !== chunkCount(root.commit) * ID_BYTES) {
    throw new RangeError(`root of version ${root.version} lists ${root.chunks.length / ID_BYTES} chunks for ${root.commit} pages`);
  }
}

/** `root` moved to the delta's version (a new object; `root` is untouched, queries may hold it). */
export function applyDelta(root: IndexRoot, d: RootDelta): IndexRoot {
  if (d.lineage !== root.lineage || d.generation !== root.generation || d.fromVersion !== root.version) {
    throw new RangeError(`delta from ${d.lineage}/${d.generation}/${d.fromVersion} does not apply to ${root.lineage}/${root.generation}/${root.version}`);
  }
  const n = chunkCount(d.commit);
  const chunks = new Uint8Array(n * ID_BYTES);
  chunks.set(root.chunks.subarray(0, Math.min(root.chunks.length, chunks.length)));
  d.changed.forEach((c, k) => {
    if (c >= n) return;
    chunks.set(d.ids.subarray(k * ID_BYTES, (k + 1) * ID_BYTES), c * ID_BYTES);
  });
  const out: IndexRoot = {
    lineage: d.lineage,
    generation: d.generation,
    version: d.version,
    pageSize: d.pageSize,
    commit: d.commit,
    txid: d.txid,
    timestamp: d.timestamp,
    chunks,
  };
  checkRoot(out);
  return out;
}

/** The delta from `from` to `to` (same lineage and generation), by comparing chunk ids. */
export function diffRoots(from: IndexRoot, to: IndexRoot): RootDelta {
  const n = chunkCount(to.commit);
  const changed: number[] = [];
  for (let c = 0; c < n; c++) {
    const a = c * ID_BYTES;
    let same = a + ID_BYTES <= from.chunks.length;
    for (let k = 0; same && k < ID_BYTES; k++) same = from.chunks[a + k] === to.chunks[a + k];
    if (!same) changed.push(c);
  }
  const ids = new Uint8Array(changed.length * ID_BYTES);
  changed.forEach((c, k) => ids.set(to.chunks.subarray(c * ID_BYTES, (c + 1) * ID_BYTES), k * ID_BYTES));
  return {
    lineage: to.lineage,
    generation: to.generation,
    fromVersion: from.version,
    version: to.version,
    pageSize: to.pageSize,
    commit: to.commit,
    txid: to.txid,
    timestamp: to.timestamp,
    changed: Uint32Array.from(changed),
    ids,
  };
}
