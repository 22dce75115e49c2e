/**
 * Parses JSON keeping the SQLite type of every number: integers become
 * `{int: "<digits>"}` and reals `{real: <number>}`, using the reviver's
 * source-text access (available in workerd's V8). Comparing two parses then
 * checks values *and* INTEGER-vs-REAL exactly, big integers included.
 */
export type Typed = null | boolean | string | { int: string } | { real: number } | Typed[] | { [k: string]: Typed };

export function parseTyped(text: string): Typed {
  return JSON.parse(text, function (this: unknown, _key: string, value: unknown, ctx?: { source?: string }) {
    if (typeof value === "number") {
      const src = ctx?.source;
      if (src === undefined) throw new Error("JSON.parse source access is not available in this runtime");
      return /[.eE]/.test(src) ? { real: value } : { int: BigInt(src).toString() };
    }
    return value;
  }) as Typed;
}
