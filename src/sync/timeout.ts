/**
 * @module
 * Bounding an await. The promise keeps running (nothing here can cancel an
 * R2 read or a Durable Object call); the caller just stops waiting for it,
 * and a late rejection is swallowed so it never surfaces as unhandled.
 */

/** `p`, or `onTimeout()` thrown after `ms` (no timer when `ms` is Infinity). */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  p.catch(() => undefined);
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}
