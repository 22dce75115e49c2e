/**
 * @module
 * Wrangler's local R2, written through Miniflare itself so the on-disk format
 * (a Durable Object SQLite file for metadata plus blob files) is always the
 * one the installed `wrangler dev` reads. This mirrors what
 * `wrangler r2 object put --local` does in wrangler 4.86: a throwaway
 * Miniflare with the bucket bound by its `bucket_name`, persisting to the
 * directory wrangler dev's Miniflare uses for R2, `<persist dir>/v3/r2`.
 *
 * On disk (Miniflare 4.20260426): object metadata in the Durable Object
 * SQLite file `v3/r2/miniflare-R2BucketObject/<id>.sqlite` (the id is derived
 * from the bucket name), object bytes in `v3/r2/<bucket_name>/blobs/<blob id>`.
 *
 * Miniflare is loaded on demand (it comes with wrangler, a dev dependency),
 * so the other commands work without it.
 */
import { join } from "node:path";
import { CliError } from "./errors.ts";
import { miniflarePersistRoot } from "./wrangler-config.ts";

/** The part of Miniflare's R2 binding proxy the CLI uses. */
export interface LocalBucket {
  put(key: string, value: Uint8Array): Promise<unknown>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
  list(options: { prefix?: string; cursor?: string; limit?: number; delimiter?: string }): Promise<{
    objects: { key: string; size: number }[];
    delimitedPrefixes: string[];
    truncated: boolean;
    cursor?: string;
  }>;
  delete(keys: string | string[]): Promise<void>;
}

export interface LocalR2 {
  bucket: LocalBucket;
  /** Bucket id (the wrangler.toml `bucket_name`). */
  bucketName: string;
  /** Where Miniflare keeps R2 data: `<persist dir>/v3/r2`. */
  r2Dir: string;
  dispose(): Promise<void>;
}

/** R2's limit for one multi-key delete. */
const DELETE_BATCH = 1000;

interface MiniflareLike {
  getR2Bucket(binding: string): Promise<unknown>;
  dispose(): Promise<void>;
}

async function loadMiniflare(): Promise<new (opts: Record<string, unknown>) => MiniflareLike> {
  try {
    const mod = (await import("miniflare")) as unknown as { Miniflare: new (opts: Record<string, unknown>) => MiniflareLike };
    return mod.Miniflare;
  } catch (cause) {
    throw new CliError("CLI_NOT_FOUND", "miniflare is not installed (it comes with wrangler: run npm install in the ltx-edge project)", { cause });
  }
}

/** Opens the local R2 bucket `bucketName` under a wrangler persist dir (`.wrangler/state` or `--persist-to`). */
export async function openLocalR2(persistDir: string, bucketName: string): Promise<LocalR2> {
  const Miniflare = await loadMiniflare();
  // r2Persist is the directory wrangler dev's Miniflare derives from its default
  // persist root (<dir>/v3 + "r2"); naming it alone leaves the rest of the state
  // (cache, Durable Objects) untouched.
  const r2Dir = join(miniflarePersistRoot(persistDir), "r2");
  const mf = new Miniflare({
    modules: true,
    script: "export default {}",
    r2Persist: r2Dir,
    r2Buckets: { BUCKET: bucketName },
  });
  try {
    const bucket = (await mf.getR2Bucket("BUCKET")) as LocalBucket;
    return { bucket, bucketName, r2Dir, dispose: () => mf.dispose() };
  } catch (e) {
    await mf.dispose().catch(() => undefined);
    throw e;
  }
}

/** Every object under a prefix (all pages of the listing). */
export async function listAll(bucket: LocalBucket, prefix: string): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await bucket.list(cursor !== undefined ? { prefix, cursor } : { prefix });
    for (const o of page.objects) out.push({ key: o.key, size: o.size });
    if (!page.truncated || page.cursor === undefined) return out;
    cursor = page.cursor;
  }
}

/** True when at least one object exists under the prefix. */
export async function hasObjects(bucket: LocalBucket, prefix: string): Promise<boolean> {
  return (await bucket.list({ prefix, limit: 1 })).objects.length > 0;
}

/** The top-level folders (`name/`) of the bucket, without the slash. */
export async function topLevelFolders(bucket: LocalBucket): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await bucket.list(cursor !== undefined ? { delimiter: "/", cursor } : { delimiter: "/" });
    for (const p of page.delimitedPrefixes) out.push(p.replace(/\/$/, ""));
    if (!page.truncated || page.cursor === undefined) return out;
    cursor = page.cursor;
  }
}

/** Deletes every object under a prefix; returns how many were deleted. */
export async function deletePrefix(bucket: LocalBucket, prefix: string): Promise<number> {
  const keys = (await listAll(bucket, prefix)).map((o) => o.key);
  for (let i = 0; i < keys.length; i += DELETE_BATCH) await bucket.delete(keys.slice(i, i + DELETE_BATCH));
  return keys.length;
}

/**
 * Stores bytes under a key. Always passes a fresh Uint8Array that owns its
 * whole buffer: Miniflare's proxy rejects Node Buffers (pooled views).
 */
export async function putBytes(bucket: LocalBucket, key: string, bytes: Uint8Array): Promise<void> {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  await bucket.put(key, copy);
}
