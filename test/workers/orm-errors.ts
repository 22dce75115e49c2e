/**
 * How a failure looks to an application using @libsql/client or an ORM on it:
 * the rejection of a promise, and the LibsqlError at the root of an ORM's
 * wrapped error. Shared by the workerd and the Node tests.
 */
import { LibsqlError } from "@libsql/client/web";

/** What `p` rejects with (it must reject). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected the promise to reject");
}

/** The LibsqlError behind an error (drizzle wraps it in DrizzleQueryError's cause). */
export function libsqlError(e: unknown): LibsqlError {
  for (let x: unknown = e; x instanceof Error; x = x.cause) if (x instanceof LibsqlError) return x;
  throw new Error(`not a libSQL error: ${String(e)}`);
}
