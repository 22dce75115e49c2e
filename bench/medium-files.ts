/**
 * The LTX files of a replica directory (file layout, `ltx/<level>/…`) and
 * their keys in Litestream's S3 layout (`<prefix>/<level %04x>/<min>-<max>.ltx`),
 * the layout `ltx-edge seed` writes into local R2.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { type LocalBucket, putBytes } from "../src/cli/local-r2.ts";
import { formatLtxFilename, parseLtxFilename } from "../src/ltx/txid.ts";
import { levelDir } from "../src/replica/replica.ts";

export interface ReplicaFile {
  /** Path relative to the replica directory. */
  rel: string;
  /** Key under `prefix` in the S3 layout. */
  key: string;
}

/** Every LTX file under `<dir>/ltx/<level>/`, with its S3-layout key under `prefix`. */
export async function replicaFiles(dir: string, prefix: string): Promise<ReplicaFile[]> {
  const out: ReplicaFile[] = [];
  for (const e of await readdir(join(dir, "ltx"), { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith(".ltx")) continue;
    const rel = relative(dir, join(e.parentPath, e.name));
    const level = Number(rel.split("/")[1]);
    const range = parseLtxFilename(e.name);
    if (!range || !Number.isInteger(level)) throw new Error(`not an LTX file of the file layout: ${rel}`);
    out.push({ rel, key: `${levelDir(prefix, "s3", level)}${formatLtxFilename(range.minTxid, range.maxTxid)}` });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Copies a replica directory into local R2 (and a mirror directory) under `prefix`, S3 layout. */
export async function copyReplicaS3(dir: string, prefix: string, bucket: LocalBucket, mirror: string): Promise<void> {
  for (const f of await replicaFiles(dir, prefix)) {
    const bytes = new Uint8Array(await readFile(join(dir, f.rel)));
    await mkdir(dirname(join(mirror, f.key)), { recursive: true });
    await writeFile(join(mirror, f.key), bytes);
    await putBytes(bucket, f.key, bytes);
  }
}
