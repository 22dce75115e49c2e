/**
 * @module
 * Whether an LTX file continues the chain it is about to be applied to,
 * judged from its own header rather than its object name: a file with a
 * fitting name but foreign content (another database, a stray upload) must
 * never be overlaid on the index.
 */
import { CHECKSUM_FLAG } from "../ltx/crc64.ts";
import { LtxError } from "../ltx/errors.ts";
import { HEADER_FLAG_NO_CHECKSUM, type LtxHeader } from "../ltx/header.ts";
import { formatTxid } from "../ltx/txid.ts";

/** The end of a chain: its TXID, page size and the post-apply checksum of its last file (0 when not tracked). */
export interface ChainEnd {
  txid: number;
  pageSize: number;
  postApplyChecksum: bigint;
}

/**
 * Throws unless `header` (of `key`) may be applied after `end` (null: as the
 * first file of a plan):
 * - the first file starts at TXID 1 (LTX_DISCONTINUOUS);
 * - same page size as the chain (LTX_PAGE_SIZE_MISMATCH);
 * - header MinTXID ≤ TXID + 1 < header MaxTXID + 1, i.e. it continues or
 *   overlaps the position and goes beyond it (LTX_DISCONTINUOUS);
 * - when it starts exactly at TXID + 1 and both it and the previous file
 *   carry database checksums, its pre-apply checksum equals the previous
 *   post-apply checksum (LTX_DISCONTINUOUS). Litestream writes NoChecksum
 *   files, where this rule has nothing to compare.
 */
export function checkContinues(end: ChainEnd | null, key: string, header: LtxHeader): void {
  const range = `${formatTxid(header.minTxid)}-${formatTxid(header.maxTxid)}`;
  if (end === null) {
    if (header.minTxid !== 1) throw new LtxError("LTX_DISCONTINUOUS", `header TXIDs ${range} cannot start a chain (it must start at TXID 1)`, { file: key, offset: 16 });
    return;
  }
  if (header.pageSize !== end.pageSize) {
    throw new LtxError("LTX_PAGE_SIZE_MISMATCH", `page size ${header.pageSize} differs from the replica's ${end.pageSize}`, { file: key, offset: 8 });
  }
  if (header.minTxid > end.txid + 1 || header.maxTxid <= end.txid) {
    throw new LtxError("LTX_DISCONTINUOUS", `header TXIDs ${range} do not continue TXID ${formatTxid(end.txid)}`, { file: key, offset: 16 });
  }
  const checksummed = (header.flags & HEADER_FLAG_NO_CHECKSUM) === 0 && (end.postApplyChecksum & CHECKSUM_FLAG) !== 0n;
  if (header.minTxid === end.txid + 1 && header.minTxid !== 1 && checksummed && header.preApplyChecksum !== end.postApplyChecksum) {
    throw new LtxError(
      "LTX_DISCONTINUOUS",
      `pre-apply checksum ${header.preApplyChecksum.toString(16).padStart(16, "0")} does not match the post-apply checksum ${end.postApplyChecksum.toString(16).padStart(16, "0")} of the file before`,
      { file: key, offset: 40 },
    );
  }
}
