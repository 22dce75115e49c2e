/**
 * @module
 * Bounds every request of any {@link ObjectStore}: a read that hangs (a
 * stalled connection, an overloaded backend) ends with STORAGE_TIMEOUT
 * instead of holding a query — and the SQL engine it runs in — forever.
 */
import { withTimeout } from "../sync/timeout.ts";
import { type ObjectStore, type RangeResult, StorageError, type StoredObject } from "./types.ts";

/** Default bound on one storage request. */
export const DEFAULT_STORAGE_TIMEOUT_MS = 10_000;

export class TimeoutStore implements ObjectStore {
  readonly inner: ObjectStore;
  readonly timeoutMs: number;

  constructor(inner: ObjectStore, timeoutMs = DEFAULT_STORAGE_TIMEOUT_MS) {
    this.inner = inner;
    this.timeoutMs = timeoutMs;
  }

  get description(): string {
    return this.inner.description;
  }

  private bounded<T>(op: string, key: string, p: Promise<T>): Promise<T> {
    return withTimeout(p, this.timeoutMs, () => new StorageError("STORAGE_TIMEOUT", `${op} ${this.description}/${key}: no complete response within ${this.timeoutMs} ms`, { key }));
  }

  list(prefix: string, options?: { startAfter?: string }): Promise<StoredObject[]> {
    return this.bounded("list", prefix, this.inner.list(prefix, options));
  }
  getRange(key: string, offset: number, length: number): Promise<RangeResult> {
    return this.bounded("read", key, this.inner.getRange(key, offset, length));
  }
  getSuffix(key: string, length: number, size?: number): Promise<RangeResult> {
    return this.bounded("read", key, this.inner.getSuffix(key, length, size));
  }
  get(key: string): Promise<RangeResult> {
    return this.bounded("read", key, this.inner.get(key));
  }
  head(key: string): Promise<StoredObject | null> {
    return this.bounded("head", key, this.inner.head(key));
  }
}
