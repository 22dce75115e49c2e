/**
 * @module
 * TXIDs and LTX file names. TXIDs are u64 on disk; we hold them as JS numbers
 * and refuse values above 2^53 - 1 (no real replica gets there) so that they
 * stay exact through JSON, RPC and DO storage.
 */

/** Largest TXID we can represent exactly. */
export const MAX_TXID = Number.MAX_SAFE_INTEGER;

/** Formats a TXID the way Litestream prints it: 16 lowercase hex digits. */
export function formatTxid(txid: number): string {
  return txid.toString(16).padStart(16, "0");
}

/**
 * Parses a TXID given by a user: exactly 16 hex digits (Litestream's form),
 * `0x…` hex, or decimal. Returns null when the text is none of those.
 */
export function parseTxid(text: string): number | null {
  const t = text.trim();
  let value: number;
  if (/^[0-9a-fA-F]{16}$/.test(t)) value = Number.parseInt(t, 16);
  else if (/^0[xX][0-9a-fA-F]{1,16}$/.test(t)) value = Number.parseInt(t.slice(2), 16);
  else if (/^[0-9]{1,16}$/.test(t)) value = Number.parseInt(t, 10);
  else return null;
  return Number.isSafeInteger(value) && value >= 1 ? value : null;
}

const NAME_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/;

/** Parses `<min>-<max>.ltx` (lowercase hex only, as Litestream's ParseFilename). */
export function parseLtxFilename(name: string): { minTxid: number; maxTxid: number } | null {
  const m = NAME_RE.exec(name);
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  const minTxid = Number.parseInt(m[1], 16);
  const maxTxid = Number.parseInt(m[2], 16);
  if (!Number.isSafeInteger(minTxid) || !Number.isSafeInteger(maxTxid)) return null;
  if (minTxid < 1 || maxTxid < minTxid) return null;
  return { minTxid, maxTxid };
}

/** `<min>-<max>.ltx` for a TXID range. */
export function formatLtxFilename(minTxid: number, maxTxid: number): string {
  return `${formatTxid(minTxid)}-${formatTxid(maxTxid)}.ltx`;
}
