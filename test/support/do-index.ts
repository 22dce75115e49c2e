/**
 * Tests that inspect a Durable Object's index page by page: syncs the root
 * through the real RPC (full, delta or unchanged, as an isolate would) and
 * loads every chunk it names through `chunks()`, so `lookup()` and `files`
 * describe the whole index.
 */
import { type HeldIndex, type IndexRpc, loadIndexAt as loadRootAt, syncIndex as syncRoot, unwrap } from "../../src/durable/client.ts";
import type { TimeTravelTarget } from "../../src/durable/protocol.ts";
import { type ChunkFile, type ChunkRef, ChunkView, chunkCount, chunkOf } from "../../src/page-index/chunk.ts";
import { chunkIdOf } from "../../src/page-index/root.ts";

/** A whole index: the root's position and every chunk. */
export class WholeIndex {
  readonly held: HeldIndex;
  readonly chunks: ChunkView[];

  constructor(held: HeldIndex, chunks: ChunkView[]) {
    this.held = held;
    this.chunks = chunks;
  }

  get txid(): number {
    return this.held.root.txid;
  }
  get commit(): number {
    return this.held.root.commit;
  }
  get pageSize(): number {
    return this.held.root.pageSize;
  }
  get version(): number {
    return this.held.root.version;
  }
  get timestamp(): number {
    return this.held.root.timestamp;
  }

  /** As the page fetcher asks (a PageLocator). */
  locate(pgno: number): ChunkRef | null {
    return this.lookup(pgno);
  }

  lookup(pgno: number): ChunkRef | null {
    if (pgno < 1 || pgno > this.commit) return null;
    return this.chunks[chunkOf(pgno)]?.get(pgno) ?? null;
  }

  /** Files the index points into (each once). */
  get files(): ChunkFile[] {
    const seen = new Map<string, ChunkFile>();
    for (const c of this.chunks) for (let i = 0; i < c.count; i++) {
      const f = c.get(c.first + i)?.file;
      if (f) seen.set(`${f.key}\n${f.etag}\n${f.epoch}`, f);
    }
    return [...seen.values()];
  }

  /** Pages with an entry. */
  get pageCount(): number {
    let n = 0;
    for (let p = 1; p <= this.commit; p++) if (this.lookup(p)) n++;
    return n;
  }
}

export interface Loaded {
  index: WholeIndex;
  generation: number;
  held: HeldIndex;
  /** Bytes of root or delta the sync received. */
  lastSyncBytes: number;
}

async function whole(rpc: IndexRpc, name: string, held: HeldIndex): Promise<Loaded> {
  const n = chunkCount(held.root.commit);
  const views: ChunkView[] = [];
  for (let c = 0; c < n; c += 16) {
    const ids: string[] = [];
    for (let k = c; k < Math.min(n, c + 16); k++) ids.push(chunkIdOf(held.root, k) as string);
    for (const b of unwrap(await rpc.chunks(name, ids))) views.push(ChunkView.decode(b));
  }
  return { index: new WholeIndex(held, views), generation: held.root.generation, held, lastSyncBytes: held.lastSyncBytes };
}

/** The live index, synced from `prev` (or loaded anew), with every chunk. */
export async function syncIndex(rpc: IndexRpc, name: string, prev: Loaded | null): Promise<Loaded> {
  return whole(rpc, name, await syncRoot(rpc, name, prev?.held ?? null));
}

/** A time-travel index with every chunk. */
export async function loadIndexAt(rpc: IndexRpc, name: string, target: TimeTravelTarget): Promise<Loaded> {
  return whole(rpc, name, await loadRootAt(rpc, name, target));
}
