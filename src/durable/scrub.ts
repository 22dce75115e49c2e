/**
 * @module
 * One step of the background scrub: verifies the file checksum of a large
 * LTX file in bounded range reads, resumable from persisted progress.
 *
 * A step makes one storage request of at most {@link SCRUB_CHUNK_BYTES} plus
 * one page frame, holding at most {@link SCRUB_DECODE_BYTES} of pages — or,
 * when the file's page index is not in memory, reads that instead (its
 * tail, and its header when the tail does not hold it; a small file whole).
 * The Durable Object runs at most {@link SCRUB_STEPS_PER_ALARM} steps and
 * {@link SCRUB_BYTES_PER_ALARM} per alarm, so an alarm stays within CPU and
 * memory bounds whatever the file size or compression ratio.
 */
import { CodedError } from "../errors.ts";
import { LtxFrameWalker, type WalkProgress } from "../ltx/frame-verifier.ts";
import { type VerifyProgress, LtxStreamVerifier } from "../ltx/verifier.ts";
import type { LtxFileInfo } from "../replica/replica.ts";
import { StorageError, type ObjectStore } from "../replica/types.ts";
import { type FileRejected, type IndexBuilder, SMALL_FILE_BYTES, rejectionOf } from "./index-builder.ts";

/** Bytes verified per step (one range read). */
export const SCRUB_CHUNK_BYTES = 1024 * 1024;
/** Page bytes decoded per step at most (~50 ms of CPU): bounds steps over compressible files. */
export const SCRUB_DECODE_BYTES = 4 * 1024 * 1024;
/** Bytes the scrub may read in one alarm, and steps it may run. */
export const SCRUB_BYTES_PER_ALARM = 4 * 1024 * 1024;
export const SCRUB_STEPS_PER_ALARM = 4;

export interface ReadRange {
  offset: number;
  length: number;
}

/** Where the scrub of a file stands: the indexed verifier's progress, or the frame walker's (files whose index is too large to hold). */
export type ScrubProgress = VerifyProgress | WalkProgress;

export type StepResult =
  | { kind: "progress"; read: ReadRange; progress: ScrubProgress | null }
  | { kind: "verified"; read: ReadRange }
  | { kind: "bad"; read: ReadRange; rejection: FileRejected }
  | { kind: "gone"; read: ReadRange };

const NOTHING: ReadRange = { offset: 0, length: 0 };

/**
 * Verifies the next part of `f`, continuing from `progress` (what is known
 * about a quarantined file was forgotten, so a re-check reads it anew). Bad
 * data is a `bad` result; a missing or replaced object is `gone`; other
 * storage errors propagate (the progress stays, the next alarm retries).
 */
export async function verifyStep(
  f: LtxFileInfo,
  progress: ScrubProgress | null,
  builder: IndexBuilder,
  store: ObjectStore,
  chunkBytes = SCRUB_CHUNK_BYTES,
): Promise<StepResult> {
  let read = NOTHING;
  try {
    if (!builder.has(f)) {
      const part = await builder.read(f);
      read = { offset: 0, length: f.size <= SMALL_FILE_BYTES ? f.size : 0 };
      // Small files verify as they are read (unless they hold too many pages); otherwise this step read the index.
      return part.verified ? { kind: "verified", read } : { kind: "progress", read, progress };
    }
    const part = await builder.read(f);
    if (part.verified) return { kind: "verified", read };
    const pageBytes = SCRUB_DECODE_BYTES / part.header.pageSize;
    let v: { nextRange(): ReadRange | null; feed(b: Uint8Array, o: number): boolean; progress: ScrubProgress };
    if (part.index) {
      const s = new LtxStreamVerifier({ file: f.key, size: f.size, header: part.header, index: part.index, progress: progress && !("phase" in progress) ? progress : null });
      v = { nextRange: () => s.nextRange(chunkBytes, pageBytes), feed: (b, o) => s.feed(b, o), get progress() { return s.progress; } };
    } else if (part.head) {
      // Too many pages to hold the index: walk the frames themselves (reads of SCRUB_DECODE_BYTES bound the pages decoded).
      const w = new LtxFrameWalker({ file: f.key, size: f.size, header: part.header, indexStart: part.head.start, indexEnd: part.head.end, progress: progress && "phase" in progress ? progress : null });
      const span = Math.max(part.header.pageSize + 64, Math.min(chunkBytes, SCRUB_DECODE_BYTES));
      v = { nextRange: () => w.nextRange(span), feed: (b, o) => w.feed(b, o), get progress() { return w.progress; } };
    } else {
      throw new Error(`no page index for ${f.key}`);
    }
    const r = v.nextRange();
    if (!r) return { kind: "verified", read };
    read = r;
    const got = await store.getRange(f.key, r.offset, r.length);
    if (got.etag && f.etag && got.etag.replace(/"/g, "") !== f.etag.replace(/"/g, "")) return { kind: "gone", read };
    return v.feed(got.bytes, r.offset) ? { kind: "verified", read } : { kind: "progress", read, progress: v.progress };
  } catch (e) {
    if (e instanceof StorageError && e.code === "STORAGE_NOT_FOUND") return { kind: "gone", read };
    const rejection = rejectionOf(e, f);
    if (rejection) return { kind: "bad", read, rejection };
    if (e instanceof CodedError) throw e;
    throw new StorageError("STORAGE_ERROR", `verifying ${f.key}: ${e instanceof Error ? e.message : String(e)}`, { key: f.key, cause: e });
  }
}
