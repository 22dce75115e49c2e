/**
 * @module
 * Range reads of a local replica straight into the restore's reused buffers
 * (positioned file reads), so restoring from a directory allocates nothing
 * per range: memory stays flat however large the database.
 */
import { open } from "node:fs/promises";
import { join } from "node:path";
import { LtxError } from "../ltx/errors.ts";
import type { DirStore } from "../replica/dir.ts";
import type { LtxFileInfo } from "../replica/replica.ts";
import { StorageError } from "../replica/types.ts";
import type { ReadInto } from "../restore/restore.ts";

/** A {@link ReadInto} over the files of `store`; checks each file still has its listed size. */
export function dirReadInto(store: DirStore): ReadInto {
  return async (file: LtxFileInfo, offset: number, dst: Uint8Array): Promise<void> => {
    const path = join(store.root, ...file.key.split("/"));
    let fh;
    try {
      fh = await open(path, "r");
    } catch (e) {
      const missing = (e as { code?: unknown }).code === "ENOENT";
      throw new StorageError(missing ? "STORAGE_NOT_FOUND" : "STORAGE_ERROR", `reading ${path} failed: ${(e as Error).message}`, { key: file.key, cause: e });
    }
    try {
      const { size } = await fh.stat();
      if (size !== file.size) {
        throw new LtxError("LTX_TRUNCATED", `object is ${size} bytes, listing said ${file.size} (replaced while reading?)`, { file: file.key, offset });
      }
      let done = 0;
      while (done < dst.length) {
        const { bytesRead } = await fh.read(dst, done, dst.length - done, offset + done);
        if (bytesRead === 0) throw new LtxError("LTX_TRUNCATED", `short read: ${done} of ${dst.length} bytes`, { file: file.key, offset: offset + done });
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  };
}
