/**
 * @module
 * Builds the chunks of a page index from a restore plan, streaming: every
 * file's page index arrives in pgno order (in batches, as range reads bring
 * it), files later in the plan win, and chunks come out one at a time in
 * order. Memory is one chunk plus one batch per file, whatever the size of
 * the database. Pure TypeScript.
 */
import type { FileIndex } from "../ltx/file-index.ts";
import { lockPgno } from "../ltx/header.ts";
import { CHUNK_PAGES, type ChunkFile, ChunkData, chunkCount, pagesIn } from "./chunk.ts";

/** One file of a plan: who it is, and its page index in pgno order. */
export interface PlanSource {
  file: ChunkFile;
  entries: AsyncIterable<FileIndex> | Iterable<FileIndex>;
}

/** A plan that leaves a page without any version (a broken chain or a bad file). */
export class IncompletePlanError extends Error {
  readonly code = "PLAN_INCONSISTENT";
  readonly pgno: number;
  constructor(pgno: number) {
    super(`the restore plan provides no version of page ${pgno}`);
    this.pgno = pgno;
  }
}

/** Reads one source's batches on demand, remembering where it stopped. */
class Cursor {
  readonly file: ChunkFile;
  readonly #it: AsyncIterator<FileIndex> | Iterator<FileIndex>;
  #batch: FileIndex | null = null;
  #i = 0;
  #done = false;

  constructor(src: PlanSource) {
    this.file = src.file;
    const e = src.entries;
    this.#it = Symbol.asyncIterator in e ? e[Symbol.asyncIterator]() : (e as Iterable<FileIndex>)[Symbol.iterator]();
  }

  /** Applies this file's entries with pgno < `end` to `chunk`. */
  async applyUpTo(chunk: ChunkData, end: number): Promise<void> {
    for (;;) {
      if (this.#done) return;
      if (this.#batch === null || this.#i >= this.#batch.count) {
        const r = await this.#it.next();
        if (r.done) {
          this.#done = true;
          return;
        }
        this.#batch = r.value;
        this.#i = 0;
        continue;
      }
      const b = this.#batch;
      while (this.#i < b.count) {
        const p = b.pgno[this.#i] as number;
        if (p >= end) return;
        if (p >= chunk.first) chunk.set(p, this.file, b.offset[this.#i] as number, b.size[this.#i] as number);
        this.#i++;
      }
    }
  }

  /** Stops reading (a plan that shrank leaves entries past Commit unread). */
  async close(): Promise<void> {
    if (!this.#done) await this.#it.return?.();
  }
}

/**
 * Calls `emit` with every chunk of the database the plan describes: pages
 * 1 … `commit` (of the plan's last file), each at its newest version.
 * Throws {@link IncompletePlanError} if a page has no version.
 */
export async function buildChunks(
  pageSize: number,
  commit: number,
  sources: readonly PlanSource[],
  emit: (chunk: ChunkData) => Promise<void> | void,
): Promise<void> {
  const cursors = sources.map((s) => new Cursor(s));
  const lock = lockPgno(pageSize);
  try {
    for (let c = 0; c < chunkCount(commit); c++) {
      const chunk = new ChunkData(c, pageSize, pagesIn(c, commit));
      const end = chunk.first + CHUNK_PAGES;
      for (const cur of cursors) await cur.applyUpTo(chunk, end);
      chunk.truncate(commit);
      const missing = chunk.missing(lock, 1);
      if (missing.length > 0) throw new IncompletePlanError(missing[0] as number);
      await emit(chunk);
    }
  } finally {
    for (const cur of cursors) await cur.close();
  }
}
