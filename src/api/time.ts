/**
 * @module
 * The `timestamp` of a time-travel read: an absolute time (RFC 3339 / ISO
 * 8601, or milliseconds since the epoch) or a time relative to the request,
 * written as a negative duration: `-30s`, `-5m`, `-2h`, `-1d`, `-1h30m`,
 * `-250ms`.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** One or more `<amount><unit>` parts after a leading minus; amounts may have a fraction. */
const RELATIVE_RE = /^-((?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+)$/;
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** The span of a relative time (`-5m` → 300000), or null when `text` is not one. */
export function relativeSpanMs(text: string): number | null {
  const m = RELATIVE_RE.exec(text.trim());
  if (!m?.[1]) return null;
  let total = 0;
  for (const [, amount, unit] of m[1].matchAll(PART_RE)) total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return Number.isFinite(total) ? total : null;
}

/**
 * A `timestamp` value as milliseconds since the epoch, or null when it is not
 * one. Relative times count back from `now` (the time the request arrived).
 */
export function timestampMs(value: string | number, now: number): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  const span = relativeSpanMs(value);
  if (span !== null) return now - span;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/** True when `value` is a string {@link timestampMs} can read (for the schema's check). */
export function isTimestampText(value: string): boolean {
  return timestampMs(value, 0) !== null;
}
