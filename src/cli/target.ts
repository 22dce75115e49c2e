/**
 * @module
 * The restore or query target from `--txid` / `--timestamp` (Litestream's
 * `-txid` / `-timestamp`): a TXID as Litestream prints it (16 hex digits),
 * `0x…` hex or decimal; a time as RFC 3339 with a zone, or relative to now
 * (`-5m`, `-2h`, `-1h30m`, `-1d`).
 */
import { parseTxid } from "../ltx/txid.ts";
import { LATEST, type PlanTarget } from "../plan/plan.ts";
import type { ParsedArgs } from "./args.ts";
import { badArgs } from "./errors.ts";

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;
const RELATIVE = /^-(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `-1h30m` → 5400000 (the magnitude, in ms). */
function relativeMs(text: string): number {
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms;
}

/**
 * Parses an RFC 3339 timestamp with an explicit zone, or a time relative to
 * `now` such as `-5m`, into ms; throws a user error otherwise.
 */
export function parseTimestamp(text: string, now: number = Date.now()): number {
  const t = text.trim();
  if (RELATIVE.test(t)) return now - relativeMs(t);
  const ms = RFC3339.test(t) ? Date.parse(t) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw badArgs(
      `--timestamp must be an RFC 3339 time with a zone, e.g. 2026-01-02T03:04:05Z, or relative to now, e.g. -5m or -2h; got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** Parses a user-given TXID; throws a user error otherwise. */
export function parseTxidArg(text: string, flag = "--txid"): number {
  const txid = parseTxid(text);
  if (txid === null) throw badArgs(`${flag} must be 16 hex digits, 0x-prefixed hex or a decimal number ≥ 1; got ${JSON.stringify(text)}`);
  return txid;
}

/** The plan target from --txid / --timestamp (default: the newest state). */
export function targetFrom(args: ParsedArgs): PlanTarget {
  const txid = args.string("txid");
  const timestamp = args.string("timestamp");
  if (txid !== undefined && timestamp !== undefined) throw badArgs("give --txid or --timestamp, not both");
  if (txid !== undefined) return { kind: "txid", txid: parseTxidArg(txid) };
  if (timestamp !== undefined) return { kind: "timestamp", timestamp: parseTimestamp(timestamp) };
  return LATEST;
}
