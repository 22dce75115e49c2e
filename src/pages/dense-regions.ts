/**
 * @module
 * One query's record of the 1 MiB regions of LTX files it reads from
 * storage: a region read twice is *dense* (run-plan.ts then reads the rest
 * of it at once), and after a read there its frames are decoded ahead, once,
 * from the region's first frame (frame-walk.ts), so the query's later reads
 * in it find decoded pages even after the shared budget evicted raw bytes.
 */
import { concatBytes } from "../ltx/bytes.ts";
import { decodeAhead, firstFrameAtOrAfter, type WalkContext } from "./frame-walk.ts";
import type { LtxFileRef, PageLocation } from "./page-fetcher.ts";

/** Most pages decoded ahead in one region (a 1 MiB region holds a few hundred frames of 4 KiB pages). */
const MAX_DECODE_AHEAD = 2048;

/** What the walk needs besides bytes: see {@link WalkContext}. */
export type RegionWalkContext = Omit<WalkContext, "bytesAt">;

export class DenseRegions {
  readonly #regionBytes: number;
  readonly #segmentBytes: number;
  readonly #ctx: WalkContext;
  /** Regions read from storage; those read twice or more; dense regions decoded ahead. */
  readonly #seen = new Set<string>();
  readonly #dense = new Set<string>();
  readonly #walked = new Set<string>();

  /** `segments(file, first, last)`: the isolate's segments, or null when one is not at hand. */
  constructor(regionBytes: number, segmentBytes: number, ctx: RegionWalkContext, segments: (file: LtxFileRef, first: number, last: number) => Uint8Array[] | null) {
    this.#regionBytes = regionBytes;
    this.#segmentBytes = segmentBytes;
    this.#ctx = {
      ...ctx,
      bytesAt: (file, offset, length) => {
        const first = Math.floor(offset / segmentBytes);
        const parts = segments(file, first, Math.floor((offset + length - 1) / segmentBytes));
        if (parts === null) return null;
        const joined = parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts);
        const at = offset - first * segmentBytes;
        return at + length <= joined.length ? joined.subarray(at, at + length) : null;
      },
    };
  }

  /** Notes a storage read from segment `seg` of file version `id`; true when the query read its region before. */
  note(id: string, seg: number): boolean {
    const key = `${id}\n${Math.floor((seg * this.#segmentBytes) / this.#regionBytes)}`;
    const again = this.#seen.has(key);
    if (again) this.#dense.add(key);
    this.#seen.add(key);
    return again;
  }

  /** After page `pgno` was read at `ref` (file version `id`): decode its region ahead if it is dense. */
  afterRead(id: string, pgno: number, ref: PageLocation): void {
    const region = Math.floor(ref.offset / this.#regionBytes);
    const key = `${id}\n${region}`;
    if (!this.#dense.has(key) || this.#walked.has(key)) return;
    const start = region * this.#regionBytes;
    const from = Math.min(ref.offset, firstFrameAtOrAfter(this.#ctx, ref.file, pgno, start) ?? ref.offset);
    // A walk cut short (bytes evicted meanwhile) is tried again by the region's next read.
    if (decodeAhead(this.#ctx, ref.file, from, Math.min(ref.file.size, start + this.#regionBytes), MAX_DECODE_AHEAD).complete) this.#walked.add(key);
  }
}
