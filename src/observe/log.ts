/**
 * @module
 * Structured logs: one JSON object per line, which Workers Logs and
 * `wrangler tail --format json` index field by field (docs/observability.md).
 * Pure: no Workers imports, so the Durable Object, the Worker and Node tools
 * log the same way.
 */

/** A log line's fields; `undefined` values are left out. */
export type LogFields = Record<string, unknown>;

export type LogLevel = "info" | "warn" | "error";

/**
 * Writes one line `{"event": …, …fields}` at `level` (console.log / warn /
 * error, which Workers Logs records as the line's level).
 */
export function logEvent(event: string, fields: LogFields, level: LogLevel = "info"): void {
  const line = JSON.stringify({ event, ...fields }, replacer);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

/** BigInts (SQLite integers) as strings; errors as their message. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

/**
 * An error's cause chain as plain data (message and code of each link, at
 * most 4 deep), so a log line says why and not only what.
 */
export function causeOf(error: unknown): { message: string; code?: string }[] | undefined {
  const out: { message: string; code?: string }[] = [];
  let e: unknown = error instanceof Error ? error.cause : undefined;
  while (e !== undefined && e !== null && out.length < 4) {
    const code = typeof e === "object" && "code" in e && typeof e.code === "string" ? e.code : undefined;
    out.push({ message: e instanceof Error ? e.message : String(e), ...(code ? { code } : {}) });
    e = e instanceof Error ? e.cause : undefined;
  }
  return out.length > 0 ? out : undefined;
}
