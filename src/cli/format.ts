/**
 * @module
 * Small formatting helpers shared by the commands' human-readable output.
 */

/** `12345678` → `11.8 MiB`; exact bytes below 1 KiB. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

/** Milliseconds as `850 ms` or `12.3 s`. */
export function humanDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** An LTX header timestamp (ms) as ISO 8601, or `unknown` when it is not a valid date. */
export function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "unknown" : d.toISOString();
}

/** Left-aligned `key: value` lines. */
export function keyValues(rows: readonly (readonly [string, string])[], width = Math.max(0, ...rows.map(([k]) => k.length))): string {
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}\n`).join("");
}

/** Rows as columns padded to their widest cell plus two spaces, like Go's tabwriter in Litestream's tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => `${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 2))).join("")}\n`).join("");
}

/** A time in ms as RFC 3339 to the second, as Litestream prints it (`unknown` for an invalid one). */
export function rfc3339Seconds(ms: number): string {
  const iso = isoTime(ms);
  return iso === "unknown" ? iso : iso.replace(/\.\d{3}Z$/, "Z");
}
