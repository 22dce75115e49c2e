/**
 * @module
 * {@link ObjectStore} over a Workers R2 binding.
 */
import { type ObjectStore, type RangeResult, StorageError, type StoredObject, type WritableObjectStore } from "./types.ts";

/** Metadata key Litestream's S3 client writes (RFC 3339 with nanoseconds). */
export const TIMESTAMP_METADATA = "litestream-timestamp";

function wrap(e: unknown, key: string): StorageError {
  if (e instanceof StorageError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new StorageError("STORAGE_ERROR", `R2 request for ${key} failed: ${msg}`, { key, cause: e });
}

export class R2Store implements WritableObjectStore {
  readonly description: string;
  private readonly bucket: R2Bucket;

  constructor(bucket: R2Bucket, name = "BUCKET") {
    this.bucket = bucket;
    this.description = `r2://${name}`;
  }

  async list(prefix: string, options: { startAfter?: string } = {}): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let cursor: string | undefined;
    try {
      do {
        const res = await this.bucket.list({
          prefix,
          ...(options.startAfter !== undefined && cursor === undefined ? { startAfter: options.startAfter } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
          limit: 1000,
          include: ["customMetadata"],
        });
        for (const o of res.objects) {
          const item: StoredObject = { key: o.key, size: o.size, etag: o.etag, uploaded: o.uploaded.getTime() };
          const ts = Date.parse(o.customMetadata?.[TIMESTAMP_METADATA] ?? "");
          if (Number.isFinite(ts)) item.timestamp = ts;
          out.push(item);
        }
        cursor = res.truncated ? res.cursor : undefined;
      } while (cursor !== undefined);
    } catch (e) {
      throw wrap(e, prefix);
    }
    // R2 lists in UTF-8 byte order, which for our ASCII keys is key order.
    return out;
  }

  private async read(key: string, range: R2Range | undefined): Promise<RangeResult> {
    let obj: R2ObjectBody | null;
    try {
      obj = await this.bucket.get(key, range ? { range } : {});
    } catch (e) {
      throw wrap(e, key);
    }
    if (obj === null) throw new StorageError("STORAGE_NOT_FOUND", `${this.description}/${key} not found`, { key, status: 404 });
    const bytes = new Uint8Array(await obj.arrayBuffer());
    return { bytes, size: obj.size, etag: obj.etag };
  }

  async getRange(key: string, offset: number, length: number): Promise<RangeResult> {
    const r = await this.read(key, { offset, length });
    if (r.bytes.length !== Math.min(length, Math.max(0, r.size - offset))) {
      throw new StorageError("STORAGE_BAD_RESPONSE", `short read of ${key}: ${r.bytes.length} of ${length} bytes at ${offset}`, { key });
    }
    return r;
  }

  async getSuffix(key: string, length: number): Promise<RangeResult> {
    return this.read(key, { suffix: length });
  }

  async get(key: string): Promise<RangeResult> {
    return this.read(key, undefined);
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      const o = await this.bucket.head(key);
      return o ? { key: o.key, size: o.size, etag: o.etag, uploaded: o.uploaded.getTime() } : null;
    } catch (e) {
      throw wrap(e, key);
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.bucket.put(key, bytes);
    } catch (e) {
      throw wrap(e, key);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.bucket.delete(key);
    } catch (e) {
      throw wrap(e, key);
    }
  }
}

export type { ObjectStore };
