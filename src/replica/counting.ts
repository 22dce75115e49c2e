/**
 * @module
 * An {@link ObjectStore} wrapper that counts requests and bytes, so the DO's
 * status and each query's stats can report exactly what storage cost.
 */
import type { ObjectStore, RangeResult, StoredObject } from "./types.ts";

export interface StorageCounters {
  lists: number;
  gets: number;
  heads: number;
  bytes: number;
}

export function newCounters(): StorageCounters {
  return { lists: 0, gets: 0, heads: 0, bytes: 0 };
}

export class CountingStore implements ObjectStore {
  readonly inner: ObjectStore;
  counters: StorageCounters;

  constructor(inner: ObjectStore, counters: StorageCounters = newCounters()) {
    this.inner = inner;
    this.counters = counters;
  }

  get description(): string {
    return this.inner.description;
  }

  private got(r: RangeResult): RangeResult {
    this.counters.bytes += r.bytes.length;
    return r;
  }

  async list(prefix: string, options?: { startAfter?: string }): Promise<StoredObject[]> {
    this.counters.lists++;
    return this.inner.list(prefix, options);
  }
  async getRange(key: string, offset: number, length: number): Promise<RangeResult> {
    this.counters.gets++;
    return this.got(await this.inner.getRange(key, offset, length));
  }
  async getSuffix(key: string, length: number, size?: number): Promise<RangeResult> {
    this.counters.gets++;
    return this.got(await this.inner.getSuffix(key, length, size));
  }
  async get(key: string): Promise<RangeResult> {
    this.counters.gets++;
    return this.got(await this.inner.get(key));
  }
  async head(key: string): Promise<StoredObject | null> {
    this.counters.heads++;
    return this.inner.head(key);
  }
}
