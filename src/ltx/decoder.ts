/**
 * @module
 * Whole-file LTX decoding: walks every page frame from byte 100, checks the
 * walk against the page index at the tail, and verifies the file checksum
 * (CRC-64/GO-ISO over header, page headers, decompressed pages, terminator,
 * index and post-apply checksum; spec §9.3).
 */
import { readU64 } from "./bytes.ts";
import { CHECKSUM_FLAG, Crc64 } from "./crc64.ts";
import { LtxError } from "./errors.ts";
import { type FileIndex, decodeFileIndexFromTail } from "./file-index.ts";
import { HEADER_FLAG_NO_CHECKSUM, HEADER_SIZE, PAGE_HEADER_SIZE, TRAILER_SIZE, type LtxHeader, decodeHeader, isSnapshot, lockPgno } from "./header.ts";
import { PAGE_FLAG_SIZE, decodePageFrame } from "./page.ts";

export interface DecodedLtxFile {
  header: LtxHeader;
  index: FileIndex;
  postApplyChecksum: bigint;
  fileChecksum: bigint;
  /** Encodings seen among the page frames. */
  encodings: Set<"block" | "frame">;
}

export interface DecodeFileOptions {
  /** Name used in errors. */
  file?: string;
  /** Verify the trailer's file checksum (default true). */
  verifyChecksum?: boolean;
  /**
   * Called for every page in file order. `data` is a reused buffer: copy it
   * if you keep it beyond the call.
   */
  onPage?: (pgno: number, data: Uint8Array) => void;
}

/** Decodes and fully validates one LTX file held in memory. */
export function decodeLtxFile(bytes: Uint8Array, opts: DecodeFileOptions = {}): DecodedLtxFile {
  const file = opts.file;
  const header = decodeHeader(bytes, file);
  const size = bytes.length;
  const index = decodeFileIndexFromTail(bytes, size, { file, commit: header.commit, pageSize: header.pageSize });
  const indexStart = size - 24 - indexByteLength(bytes);
  const frameEnd = indexStart - PAGE_HEADER_SIZE;
  const verify = opts.verifyChecksum !== false;
  const crc = new Crc64();
  if (verify) crc.update(bytes, 0, HEADER_SIZE);
  const page = new Uint8Array(header.pageSize);
  const encodings = new Set<"block" | "frame">();
  const lock = lockPgno(header.pageSize);
  let pos = HEADER_SIZE;
  let i = 0;
  let expectPgno = 1;
  while (pos < frameEnd) {
    const entry = i < index.count ? i : -1;
    if (entry < 0) throw new LtxError("LTX_BAD_INDEX", "page frame not listed in the page index", { file, offset: pos });
    if (index.offset[entry] !== pos) {
      throw new LtxError("LTX_BAD_INDEX", `page index offset ${index.offset[entry]} does not match frame at ${pos}`, { file, offset: pos });
    }
    const frameSize = index.size[entry] ?? 0;
    const expected = index.pgno[entry] ?? 0;
    const r = decodePageFrame(bytes, pos, pos + frameSize, page, { file, expectedPgno: expected });
    if (r.consumed !== frameSize) {
      throw new LtxError("LTX_BAD_FRAME", `page ${r.pgno} frame is ${r.consumed} bytes, index says ${frameSize}`, { file, offset: pos });
    }
    if (isSnapshot(header)) {
      if (expectPgno === lock) expectPgno++;
      if (r.pgno !== expectPgno) {
        throw new LtxError("LTX_BAD_FRAME", `snapshot is missing page ${expectPgno}`, { file, offset: pos });
      }
      expectPgno++;
    }
    encodings.add(r.flags === PAGE_FLAG_SIZE ? "block" : "frame");
    if (verify) hashFrame(crc, bytes, pos, r.flags, page);
    opts.onPage?.(r.pgno, page);
    pos += frameSize;
    i++;
  }
  if (pos !== frameEnd || i !== index.count) {
    throw new LtxError("LTX_BAD_INDEX", `page block ends at ${pos}, index expects ${frameEnd} with ${index.count} pages`, {
      file,
      offset: pos,
    });
  }
  if (isSnapshot(header)) {
    if (expectPgno === lock) expectPgno++;
    if (expectPgno !== header.commit + 1) {
      throw new LtxError("LTX_BAD_FRAME", `snapshot holds pages up to ${expectPgno - 1}, commit is ${header.commit}`, { file, offset: pos });
    }
  }
  for (let k = 0; k < PAGE_HEADER_SIZE; k++) {
    if (bytes[frameEnd + k] !== 0) throw new LtxError("LTX_BAD_FRAME", "missing zero page header after the last page", { file, offset: frameEnd });
  }
  if (verify) crc.update(bytes, frameEnd, size - 8);
  const { postApplyChecksum, fileChecksum } = checkTrailer(header, bytes.subarray(size - TRAILER_SIZE), verify ? crc : null, file, size);
  return { header, index, postApplyChecksum, fileChecksum, encodings };
}

/** Feeds one decoded page frame into the file checksum: its stored header (and size prefix), then the page. */
export function hashFrame(crc: Crc64, bytes: Uint8Array, pos: number, flags: number, page: Uint8Array): void {
  crc.update(bytes, pos, pos + (flags === PAGE_FLAG_SIZE ? PAGE_HEADER_SIZE + 4 : PAGE_HEADER_SIZE));
  crc.update(page);
}

/**
 * Checks the 16-byte trailer of a file of `size` bytes: the file checksum
 * against `crc` (everything before the trailer's last 8 bytes already fed;
 * null skips it) and the post-apply checksum rule.
 */
export function checkTrailer(
  header: LtxHeader,
  trailer: Uint8Array,
  crc: Crc64 | null,
  file: string | undefined,
  size: number,
): { postApplyChecksum: bigint; fileChecksum: bigint } {
  const postApplyChecksum = readU64(trailer, 0);
  const fileChecksum = readU64(trailer, 8);
  if (crc) {
    const want = crc.digest() | CHECKSUM_FLAG;
    if (want !== fileChecksum) {
      throw new LtxError(
        "LTX_CHECKSUM_MISMATCH",
        `file checksum mismatch: stored ${fileChecksum.toString(16).padStart(16, "0")}, computed ${want.toString(16).padStart(16, "0")}`,
        { file, offset: size - 8 },
      );
    }
  }
  // Trailer rule (spec §8, Go Trailer.Validate): 0 under NoChecksum, else nonzero with bit 63 set.
  if ((header.flags & HEADER_FLAG_NO_CHECKSUM) !== 0 ? postApplyChecksum !== 0n : (postApplyChecksum & CHECKSUM_FLAG) === 0n) {
    throw new LtxError("LTX_BAD_HEADER", `invalid post-apply checksum ${postApplyChecksum.toString(16).padStart(16, "0")} for header flags 0x${header.flags.toString(16)}`, {
      file,
      offset: size - TRAILER_SIZE,
    });
  }
  return { postApplyChecksum, fileChecksum };
}

function indexByteLength(bytes: Uint8Array): number {
  return Number(readU64(bytes, bytes.length - 24));
}
