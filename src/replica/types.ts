/**
 * @module
 * The storage abstraction every replica source implements: R2 bindings,
 * S3-compatible endpoints over HTTP, and local directories (Node only).
 * Stores know nothing about LTX; the {@link Replica} layer on top of them
 * parses keys, levels and TXIDs.
 */

import { CodedError } from "../errors.ts";

/** One object as a listing returns it. */
export interface StoredObject {
  /** Full key, including any prefix. */
  key: string;
  size: number;
  /** Opaque version tag; changes when an object is overwritten under the same key. */
  etag: string;
  /** Upload time in ms since the epoch (0 when the store cannot tell). */
  uploaded: number;
  /**
   * The LTX header timestamp (ms) when the listing carries it: Litestream's S3
   * client stores it as `litestream-timestamp` metadata, which R2 lists as
   * custom metadata. Saves a header read per file for time-travel plans.
   */
  timestamp?: number;
}

/** Result of a ranged read. */
export interface RangeResult {
  bytes: Uint8Array;
  /** Total size of the object. */
  size: number;
  etag: string;
}

/** Raised by stores; `code` is stable. */
export type StorageErrorCode = "STORAGE_NOT_FOUND" | "STORAGE_ERROR" | "STORAGE_TIMEOUT" | "STORAGE_BAD_RESPONSE";

export class StorageError extends CodedError<StorageErrorCode> {
  readonly key: string | undefined;
  readonly status: number | undefined;
  constructor(code: StorageErrorCode, message: string, opts: { key?: string; status?: number; cause?: unknown } = {}) {
    super(code, message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.key = opts.key;
    this.status = opts.status;
  }
}

/**
 * A minimal object store. Implementations must:
 * - list every key starting with `prefix` in ascending key order, following pagination,
 *   starting strictly after `startAfter` when given;
 * - throw `StorageError("STORAGE_NOT_FOUND")` for a missing key;
 * - never return fewer bytes than asked for a range inside the object.
 */
export interface ObjectStore {
  /** Human-readable description for messages, e.g. `r2://bucket/prefix`. */
  readonly description: string;
  list(prefix: string, options?: { startAfter?: string }): Promise<StoredObject[]>;
  /** Reads `length` bytes at `offset`. */
  getRange(key: string, offset: number, length: number): Promise<RangeResult>;
  /** Reads the last `length` bytes (or the whole object when shorter). `size` may be passed when known. */
  getSuffix(key: string, length: number, size?: number): Promise<RangeResult>;
  /** Reads a whole object. */
  get(key: string): Promise<RangeResult>;
  /** Returns null when the key does not exist. */
  head(key: string): Promise<StoredObject | null>;
}

/** Writable stores (local directories, test buckets, `import`, `seed`). */
export interface WritableObjectStore extends ObjectStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}
