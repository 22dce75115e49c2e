/**
 * Typed comparison of query results with fixture manifests (workerd side):
 * the manifest parsed with {@link parseTyped}, so INTEGER and REAL stay apart.
 */
import { expect } from "vitest";
import type { FixtureManifest } from "./fixtures.ts";
import { fixtureBytes } from "./seed.ts";
import { type Typed, parseTyped } from "./typed-json.ts";

export type TypedQuery = { sql: string; columns: Typed; rows: Typed };

/**
 * Compares typed results. INTEGER, TEXT and NULL must be identical; a REAL
 * must be a REAL within 1e-12 relative: the manifests were computed by SQLite
 * 3.40.1, while wa-sqlite ships 3.5x, whose sum()/total()/avg() use
 * Kahan-Babuska-Neumaier summation (since 3.43), which changes the last digit
 * of some floating-point sums (e.g. 1674.3899999999999 vs 1674.39).
 */
export function sameTyped(actual: Typed, expected: Typed): boolean {
  if (expected !== null && typeof expected === "object" && "real" in expected && typeof expected.real === "number") {
    if (actual === null || typeof actual !== "object" || !("real" in actual) || typeof actual.real !== "number") return false;
    const e = expected.real;
    return Math.abs(actual.real - e) <= 1e-12 * Math.max(1, Math.abs(e));
  }
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((x, i) => sameTyped(actual[i] as Typed, x));
  }
  return JSON.stringify(actual) === JSON.stringify(expected);
}

export function expectRows(actual: Typed | undefined, expected: Typed, what: string): void {
  if (!sameTyped(actual ?? null, expected)) expect(actual, what).toEqual(expected);
}

/** A fixture's manifest, plain and typed. */
export async function typedManifest(name: string): Promise<{ m: FixtureManifest; typed: Typed }> {
  const text = new TextDecoder().decode(await fixtureBytes(`${name}/manifest.json`));
  return { m: JSON.parse(text) as FixtureManifest, typed: parseTyped(text) };
}

/** The typed queries of `checked_states[stateIndex]` (throws when the state has none: never an empty list). */
export function typedQueries(typed: Typed, stateIndex: number): TypedQuery[] {
  const states = (typed as { checked_states: { queries?: TypedQuery[] }[] } & Typed).checked_states;
  const queries = states[stateIndex]?.queries;
  if (!queries || queries.length === 0) throw new Error(`manifest state ${stateIndex} has no queries`);
  return queries;
}

/** The typed queries of the manifest state at `txid`. */
export function typedQueriesAt(m: FixtureManifest, typed: Typed, txid: string): TypedQuery[] {
  const i = m.checked_states.findIndex((s) => s.txid === txid);
  if (i < 0) throw new Error(`no checked state ${txid} in ${m.name}`);
  return typedQueries(typed, i);
}

/** SQL values as the engine returns them (INTEGER → bigint, REAL → number), typed like a manifest. */
export function typedRows(rows: readonly (readonly unknown[])[] | undefined): Typed {
  return (rows ?? []).map((row) =>
    row.map((v): Typed => {
      if (typeof v === "bigint") return { int: v.toString() };
      if (typeof v === "number") return { real: v };
      if (typeof v === "string" || v === null) return v;
      throw new Error(`unexpected value in a manifest query result: ${String(v)}`);
    }),
  );
}
