/**
 * @module
 * Prepared statements kept per connection, by SQL text: a repeated query
 * (an ORM's point lookup, a dashboard's refresh) skips SQLite's parse and
 * code generation, most of a tiny query's cost.
 *
 * Invariants:
 * - a statement is in the cache only while nobody runs it: {@link take}
 *   removes it, and the runner gives it back ({@link give}) reset and with
 *   its bindings cleared, or finalizes it;
 * - only statements that ran to completion are given back, so every cached
 *   statement passed the authorizer, the read-only check and the
 *   one-statement check on the same text (SQLite re-prepares a statement
 *   itself when the schema changes, and the authorizer runs again then);
 * - the owner finalizes what {@link give} evicts and what {@link drain}
 *   returns before closing the connection (a connection with live
 *   statements cannot close).
 */

import { tokenize, upperWord } from "./lexer.ts";

/** True when the statement's first keyword is PRAGMA (comments and whitespace before it skipped). */
export function isPragma(sql: string): boolean {
  const first = tokenize(sql).find((t) => t.kind !== "comment");
  return upperWord(sql, first) === "PRAGMA";
}

export class StatementCache {
  /** SQL text → statement handle; insertion order is recency order. */
  readonly #map = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = Math.max(0, Math.floor(max));
  }

  get size(): number {
    return this.#map.size;
  }

  /** The cached statement for `sql`, removed from the cache while the caller runs it. */
  take(sql: string): number | undefined {
    const stmt = this.#map.get(sql);
    if (stmt !== undefined) this.#map.delete(sql);
    return stmt;
  }

  /** Keeps a statement (reset, bindings cleared); returns the statements evicted to make room, to finalize. */
  give(sql: string, stmt: number): number[] {
    const evicted: number[] = [];
    const old = this.#map.get(sql);
    // Two runs of one text prepared it twice: keep the newest, finalize the other.
    if (old !== undefined && old !== stmt) evicted.push(old);
    this.#map.delete(sql);
    if (this.#max === 0) return [...evicted, stmt];
    this.#map.set(sql, stmt);
    for (const [key, s] of this.#map) {
      if (this.#map.size <= this.#max) break;
      this.#map.delete(key);
      evicted.push(s);
    }
    return evicted;
  }

  /** Empties the cache; returns every statement, to finalize. */
  drain(): number[] {
    const all = [...this.#map.values()];
    this.#map.clear();
    return all;
  }
}
