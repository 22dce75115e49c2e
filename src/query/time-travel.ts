/**
 * @module
 * Time-travel indexes (a TXID or a time in the past) held by this isolate:
 * loaded from the database's Durable Object, bounded by count and bytes, and
 * re-fetched after a while so a replaced history is noticed even without
 * live reads. Not shared as promises: two requests for the same target
 * while none is held each load it (rare, and each in its own request).
 */
import { type HeldIndex, type IndexRpc, heldBytes, loadIndexAt } from "../durable/client.ts";
import type { TimeTravelTarget } from "../durable/protocol.ts";
import { boundedRpc, RPC_TIMEOUT_MS } from "./live-index.ts";

const KEPT = 4;
const MAX_BYTES = 8 * 1024 * 1024;
/** Re-fetched after this, so a replaced history is noticed even without live reads. */
const TTL_MS = 60_000;

export class TimeTravelIndexes {
  readonly #held = new Map<string, { held: HeldIndex; loadedAt: number }>();

  get size(): number {
    return this.#held.size;
  }

  get byteLength(): number {
    let n = 0;
    for (const v of this.#held.values()) n += heldBytes(v.held);
    return n;
  }

  async get(name: string, target: TimeTravelTarget, rpc: () => IndexRpc, force: boolean): Promise<HeldIndex> {
    const key = `${name}\n${"txid" in target ? `t${target.txid}` : `s${target.timestamp}`}`;
    const cached = this.#held.get(key);
    if (!force && cached && Date.now() - cached.loadedAt <= TTL_MS) {
      this.#held.delete(key);
      this.#held.set(key, cached);
      return cached.held;
    }
    // Errors carry the DO's stable codes; the HTTP layer maps them to statuses.
    const held = await loadIndexAt(boundedRpc(rpc(), () => RPC_TIMEOUT_MS), name, target);
    this.#held.set(key, { held, loadedAt: Date.now() });
    let bytes = this.byteLength;
    for (const [k, v] of this.#held) {
      if (this.#held.size <= KEPT && bytes <= MAX_BYTES) break;
      if (k === key) continue;
      bytes -= heldBytes(v.held);
      this.#held.delete(k);
    }
    return held;
  }

  /** Drops a database's indexes (those of another generation than `keep`, when given). */
  forget(name: string, keep?: number): void {
    for (const [k, v] of [...this.#held]) {
      if (k.startsWith(`${name}\n`) && v.held.root.generation !== keep) this.#held.delete(k);
    }
  }
}
