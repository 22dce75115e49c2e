/**
 * @module
 * The hint that follows "unknown field x" in every strict input (request
 * bodies, query strings, `DATABASES`): the closest allowed name, if one is
 * close, and the full list.
 */

/** Edit distance, for "did you mean" (field names are short). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The hint after "unknown field x": the allowed name it most likely meant —
 * the same but for case and separators, a letter or two off, or a prefix
 * (`poll_interval` for `poll_interval_ms`) — when exactly one is closest,
 * and all of them.
 */
export function unknownFieldHint(field: string, allowed: readonly string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, "");
  const scored = allowed
    .map((k) => ({ k, d: norm(k) === norm(field) ? 0 : distance(k, field) }))
    .filter(({ k, d }) => d <= 2 || (field.length >= 4 && (k.startsWith(field) || field.startsWith(k))));
  const best = Math.min(...scored.map((c) => c.d));
  const near = scored.filter((c) => c.d === best);
  return `${near.length === 1 && near[0] ? `did you mean ${near[0].k}? ` : ""}allowed: ${allowed.join(", ")}`;
}
