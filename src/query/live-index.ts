/**
 * @module
 * The live page index of each database, as this isolate holds it.
 *
 * Stale-while-revalidate: a query is served from the index the isolate holds;
 * once that copy is older than `maxStalenessMs`, the query still uses it and
 * starts a refresh in the background (in its own request, via waitUntil).
 * Only three things block on the Durable Object: having no index at all,
 * `min_txid` beyond the held position, and `max_staleness_ms` (see
 * service.ts). When the DO cannot be reached, the held index keeps being
 * served and the failure is reported (`replica_state: "unreachable"`, and the
 * staleness figures keep growing).
 *
 * Cross-request safety: nothing here is a promise shared between requests.
 * Concurrent first loads share one sync through {@link SingleFlight} (each
 * waiter has its own promise and deadline); a sync whose request was
 * cancelled is presumed abandoned after {@link SYNC_STALE_MS}.
 *
 * Memory: entries are evicted least-recently-used, by the bytes of the
 * indexes they hold and by count, so 10,000 databases never pile up here.
 */
import { type HeldIndex, type IndexRpc, heldBytes, syncIndex } from "../durable/client.ts";
import { CodedError } from "../errors.ts";
import { SingleFlight } from "../sync/single-flight.ts";
import { withTimeout } from "../sync/timeout.ts";

/** A sync older than this is presumed abandoned (its request was cancelled mid-await). */
export const SYNC_STALE_MS = 30_000;
/** Longest a single index RPC to the Durable Object may take. */
export const RPC_TIMEOUT_MS = 20_000;

/** DO answers that mean the database itself is gone, not that the DO is unwell. */
const AUTHORITATIVE = new Set(["DB_NOT_FOUND", "CONFIG_INVALID"]);

export interface LiveEntry {
  readonly name: string;
  held: HeldIndex | null;
  /** Isolate time at which `held` was last confirmed by the DO. */
  syncedAt: number;
  /** Sequence number of the sync that produced `held` (a later-started sync wins). */
  heldSeq: number;
  /** The last sync failed (DO unreachable or erroring): what and when. Cleared by the next success. */
  lastError: { code: string; message: string; at: number } | null;
  readonly flight: SingleFlight<HeldIndex>;
}

export interface LiveOptions {
  maxStalenessMs: number;
  /** Absolute ms by which a blocking sync must be done. */
  deadline: number;
  waitUntil: (p: Promise<unknown>) => void;
}

function errorOf(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown })?.code;
  return { code: typeof code === "string" ? code : "INDEX_UNAVAILABLE", message: e instanceof Error ? e.message : String(e) };
}

export class LiveIndexes {
  readonly #entries = new Map<string, LiveEntry>();
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  #seq = 0;

  constructor(maxBytes: number, maxEntries: number) {
    this.#maxBytes = maxBytes;
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes of the indexes held. */
  get byteLength(): number {
    let n = 0;
    for (const e of this.#entries.values()) n += e.held ? heldBytes(e.held) : 0;
    return n;
  }

  /** The entry of a database (created empty), marked most recently used. */
  entry(name: string): LiveEntry {
    let e = this.#entries.get(name);
    if (e) {
      this.#entries.delete(name);
    } else {
      e = { name, held: null, syncedAt: 0, heldSeq: 0, lastError: null, flight: new SingleFlight(SYNC_STALE_MS) };
    }
    this.#entries.set(name, e);
    return e;
  }

  forget(name: string): void {
    this.#entries.delete(name);
  }

  /**
   * The index to serve now: the held one (refreshed in the background when
   * stale), or — when nothing is held — the result of a blocking sync.
   */
  async current(name: string, rpc: () => IndexRpc, opts: LiveOptions): Promise<LiveEntry> {
    const e = this.entry(name);
    if (e.held) {
      if (Date.now() - e.syncedAt > opts.maxStalenessMs && !e.flight.busy) {
        // Revalidate in the background; the response does not wait for it.
        opts.waitUntil(e.flight.run(() => this.#sync(e, rpc(), opts.deadline), Number.POSITIVE_INFINITY, () => null).catch(() => undefined));
      }
      return e;
    }
    await e.flight.run(() => this.#sync(e, rpc(), opts.deadline), opts.deadline, () => new CodedError("INDEX_UNAVAILABLE", `the index of ${name} is still loading; retry`));
    return e;
  }

  /**
   * A sync of this request's own, started now (not shared): it reflects the
   * DO as of now, which a sync already in flight may not (min_txid waits,
   * max_staleness_ms refreshes, retries after a vanished file).
   */
  async forced(name: string, rpc: IndexRpc, deadline: number): Promise<LiveEntry> {
    const e = this.entry(name);
    await this.#sync(e, rpc, deadline);
    return e;
  }

  async #sync(e: LiveEntry, rpc: IndexRpc, deadline: number): Promise<HeldIndex> {
    const seq = ++this.#seq;
    const bounded = boundedRpc(rpc, () => rpcBudget(deadline));
    try {
      const held = await syncIndex(bounded, e.name, e.held);
      // Concurrent syncs (a background one and a forced one) may finish out of order: the later-started wins.
      if (seq > e.heldSeq) {
        e.held = held;
        e.heldSeq = seq;
        e.syncedAt = Date.now();
      }
      e.lastError = null;
      this.#evict(e);
      return e.held ?? held;
    } catch (err) {
      const info = errorOf(err);
      if (AUTHORITATIVE.has(info.code)) this.forget(e.name);
      else e.lastError = { ...info, at: Date.now() };
      throw err;
    }
  }

  /** Least recently used first; the entry just synced stays. */
  #evict(keep: LiveEntry): void {
    let bytes = this.byteLength;
    for (const [name, e] of this.#entries) {
      if (bytes <= this.#maxBytes && this.#entries.size <= this.#maxEntries) break;
      if (e === keep) continue;
      bytes -= e.held ? heldBytes(e.held) : 0;
      this.#entries.delete(name);
    }
  }
}

function rpcBudget(deadline: number): number {
  return Math.max(1, Math.min(RPC_TIMEOUT_MS, deadline - Date.now()));
}

/** Every index call of `rpc` bounded by {@link guardRpc}. */
export function boundedRpc(rpc: IndexRpc, ms: () => number): IndexRpc {
  return {
    root: (n, req) => guardRpc(rpc.root(n, req), ms(), n),
    rootAt: (n, t) => guardRpc(rpc.rootAt(n, t), ms(), n),
    chunks: (n, ids) => guardRpc(rpc.chunks(n, ids), ms(), n),
  };
}

/**
 * One call to a database's Durable Object, bounded in time. A call that
 * throws (the DO is overloaded, restarting, unreachable) or hangs becomes
 * INDEX_UNAVAILABLE (503); coded answers from the DO pass through.
 */
export async function guardRpc<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  try {
    return await withTimeout(p, ms, () => new CodedError("INDEX_UNAVAILABLE", `the Durable Object of ${name} did not answer within ${ms} ms`));
  } catch (e) {
    if (e instanceof CodedError) throw e;
    throw new CodedError("INDEX_UNAVAILABLE", `the Durable Object of ${name} could not be reached: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
