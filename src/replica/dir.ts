/**
 * @module
 * {@link ObjectStore} over a local directory (Node only: the CLI, tests and
 * benchmarks). Keys are paths relative to the root, with `/` separators.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { type RangeResult, StorageError, type StoredObject, type WritableObjectStore } from "./types.ts";

function notFound(e: unknown): boolean {
  return typeof e === "object" && e !== null && "code" in e && (e as { code: unknown }).code === "ENOENT";
}

export class DirStore implements WritableObjectStore {
  readonly root: string;
  readonly description: string;

  constructor(root: string) {
    this.root = root;
    this.description = `file://${root}`;
  }

  private path(key: string): string {
    if (key.split("/").some((s) => s === ".." )) throw new StorageError("STORAGE_ERROR", `invalid key ${key}`, { key });
    return join(this.root, ...key.split("/"));
  }

  private fail(e: unknown, key: string): never {
    if (notFound(e)) throw new StorageError("STORAGE_NOT_FOUND", `${this.path(key)} not found`, { key, status: 404 });
    throw new StorageError("STORAGE_ERROR", `reading ${this.path(key)} failed: ${e instanceof Error ? e.message : String(e)}`, { key, cause: e });
  }

  private async walk(dir: string, out: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (notFound(e)) return;
      throw e;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await this.walk(p, out);
      else if (e.isFile()) out.push(p);
    }
  }

  async list(prefix: string, options: { startAfter?: string } = {}): Promise<StoredObject[]> {
    // Walk only the deepest directory the prefix names fully.
    const cut = prefix.lastIndexOf("/");
    const dir = cut >= 0 ? this.path(prefix.slice(0, cut)) : this.root;
    const files: string[] = [];
    await this.walk(dir, files);
    const out: StoredObject[] = [];
    for (const f of files) {
      const key = relative(this.root, f).split(sep).join("/");
      if (!key.startsWith(prefix)) continue;
      if (options.startAfter !== undefined && key <= options.startAfter) continue;
      const s = await stat(f);
      out.push({ key, size: s.size, etag: etagOf(s.size, s.mtimeMs, s.ino), uploaded: Math.floor(s.mtimeMs) });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async getRange(key: string, offset: number, length: number): Promise<RangeResult> {
    let fh;
    try {
      fh = await open(this.path(key), "r");
    } catch (e) {
      this.fail(e, key);
    }
    try {
      const s = await fh.stat();
      const n = Math.max(0, Math.min(length, s.size - offset));
      const bytes = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(bytes, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return { bytes: bytes.subarray(0, done), size: s.size, etag: etagOf(s.size, s.mtimeMs, s.ino) };
    } finally {
      await fh.close();
    }
  }

  async getSuffix(key: string, length: number, size?: number): Promise<RangeResult> {
    const total = size ?? (await this.statKey(key)).size;
    const off = Math.max(0, total - length);
    return this.getRange(key, off, total - off);
  }

  async get(key: string): Promise<RangeResult> {
    try {
      const bytes = new Uint8Array(await readFile(this.path(key)));
      const s = await stat(this.path(key));
      return { bytes, size: bytes.length, etag: etagOf(s.size, s.mtimeMs, s.ino) };
    } catch (e) {
      this.fail(e, key);
    }
  }

  private async statKey(key: string): Promise<StoredObject> {
    try {
      const s = await stat(this.path(key));
      return { key, size: s.size, etag: etagOf(s.size, s.mtimeMs, s.ino), uploaded: Math.floor(s.mtimeMs) };
    } catch (e) {
      this.fail(e, key);
    }
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      return await this.statKey(key);
    } catch (e) {
      if (e instanceof StorageError && e.code === "STORAGE_NOT_FOUND") return null;
      throw e;
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const p = this.path(key);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, bytes);
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}

/** A stand-in ETag: changes when a file is replaced or rewritten. */
function etagOf(size: number, mtimeMs: number, ino: number): string {
  return createHash("sha1").update(`${size}:${mtimeMs}:${ino}`).digest("hex").slice(0, 16);
}
