/**
 * @module
 * Page frames (spec §5): both encodings a real replica holds, chosen per
 * frame from the page-header flags — block (0x0001 + u32 size + LZ4 block,
 * Litestream ≥ v0.5.16) and frame (0x0000 + one LZ4 frame, v0.5.0–v0.5.15).
 */
import { readU16, readU32 } from "./bytes.ts";
import { LtxError } from "./errors.ts";
import { PAGE_HEADER_SIZE } from "./header.ts";
import { decodeLz4Block, decodeLz4Frame } from "./lz4.ts";

export const PAGE_FLAG_SIZE = 0x0001;

function isLz4FrameMagic(b: Uint8Array, at: number): boolean {
  return b[at] === 0x04 && b[at + 1] === 0x22 && b[at + 2] === 0x4d && b[at + 3] === 0x18;
}

export interface DecodedFrame {
  pgno: number;
  /** Bytes consumed from `start` (the whole frame). */
  consumed: number;
  /** Flags as stored. */
  flags: number;
}

/**
 * Decodes one page frame at `src[start]` (not reading past `end`) into `dst`
 * (exactly pageSize bytes). `absBase` is the absolute file offset of `src[0]`
 * for error messages. When `expectedPgno` is given, a different pgno is an error.
 */
export function decodePageFrame(
  src: Uint8Array,
  start: number,
  end: number,
  dst: Uint8Array,
  opts: { file?: string; absBase?: number; expectedPgno?: number } = {},
): DecodedFrame {
  const abs = (rel: number) => (opts.absBase ?? 0) + rel;
  const file = opts.file;
  if (end > src.length) {
    // A short range read (object replaced or truncated since its index was read).
    throw new LtxError("LTX_TRUNCATED", `page frame needs ${end - start} bytes, only ${src.length - start} read`, { file, offset: abs(src.length) });
  }
  if (end - start < PAGE_HEADER_SIZE + 4) {
    throw new LtxError("LTX_TRUNCATED", "page frame too short", { file, offset: abs(start) });
  }
  const pgno = readU32(src, start);
  if (pgno === 0) throw new LtxError("LTX_BAD_FRAME", "page frame with pgno 0", { file, offset: abs(start) });
  if (opts.expectedPgno !== undefined && pgno !== opts.expectedPgno) {
    throw new LtxError("LTX_PGNO_MISMATCH", `page frame holds pgno ${pgno}, index says ${opts.expectedPgno}`, {
      file,
      offset: abs(start),
    });
  }
  if (isLz4FrameMagic(src, start + 4)) {
    throw new LtxError("LTX_UNSUPPORTED_VERSION", "unsupported: LTX v2 page frame (4-byte page header, ltx v0.4.0)", {
      file,
      offset: abs(start + 4),
    });
  }
  const flags = readU16(src, start + 4);
  // LZ4 errors carry offsets relative to `src` and no file; re-base only those
  // (errors built here already hold absolute offsets).
  const lz4 = <T>(run: () => T): T => {
    try {
      return run();
    } catch (e) {
      if (e instanceof LtxError && e.file === undefined) {
        throw new LtxError(e.code, e.message, { file, offset: abs(e.offset ?? start), cause: e.cause });
      }
      throw e;
    }
  };
  if (flags === PAGE_FLAG_SIZE) {
    const n = readU32(src, start + 6);
    const blockStart = start + 10;
    if (n === 0 || blockStart + n > end) {
      throw new LtxError("LTX_BAD_FRAME", `compressed size ${n} exceeds the frame`, { file, offset: abs(start + 6) });
    }
    const produced = lz4(() => decodeLz4Block(src, blockStart, blockStart + n, dst));
    if (produced !== dst.length) {
      throw new LtxError("LTX_BAD_LZ4", `page decompressed to ${produced} bytes, expected ${dst.length}`, {
        file,
        offset: abs(blockStart),
      });
    }
    return { pgno, consumed: 10 + n, flags };
  }
  if (flags === 0) {
    if (!isLz4FrameMagic(src, start + PAGE_HEADER_SIZE)) {
      throw new LtxError("LTX_BAD_FRAME", "frame-encoded page does not start with the LZ4 frame magic", {
        file,
        offset: abs(start + PAGE_HEADER_SIZE),
      });
    }
    const r = lz4(() => decodeLz4Frame(src, start + PAGE_HEADER_SIZE, end, dst));
    if (r.produced !== dst.length) {
      throw new LtxError("LTX_BAD_LZ4", `page decompressed to ${r.produced} bytes, expected ${dst.length}`, {
        file,
        offset: abs(start + PAGE_HEADER_SIZE),
      });
    }
    return { pgno, consumed: PAGE_HEADER_SIZE + r.consumed, flags };
  }
  throw new LtxError("LTX_BAD_FRAME", `invalid page header flags 0x${flags.toString(16).padStart(4, "0")}`, {
    file,
    offset: abs(start + 4),
  });
}
