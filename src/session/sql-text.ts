/**
 * @module
 * SQL text work for Hrana, on the project's one lexer (src/sql/lexer.ts):
 * splitting a `sequence` into statements, recognising transaction control
 * (BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE, which this read-only server
 * answers itself), and numbering parameters the way SQLite does for
 * `describe`. A `;` or `?` inside a string, quoted name or comment never counts.
 */

import { type Token, tokenize, upperWord } from "../sql/lexer.ts";

/** One statement of a SQL text: its text without surrounding comments or the terminating `;`. */
export interface StatementSpan {
  text: string;
  start: number;
  end: number;
}

/**
 * Splits SQL text into statements at top-level semicolons. Like
 * sqlite3_complete(), a `CREATE TRIGGER` body (`BEGIN … END;`) stays in one
 * piece, so the engine sees — and refuses — the whole trigger.
 */
export function splitStatements(sql: string): StatementSpan[] {
  const tokens = tokenize(sql);
  const out: StatementSpan[] = [];
  let current: Token[] = [];
  const flush = (): void => {
    const first = current[0];
    const last = current[current.length - 1];
    if (first && last) out.push({ text: sql.slice(first.start, last.end), start: first.start, end: last.end });
    current = [];
  };
  const isTrigger = (): boolean => {
    const w = current.filter((t) => t.kind === "word").slice(0, 3).map((t) => upperWord(sql, t));
    return w[0] === "CREATE" && (w[1] === "TRIGGER" || ((w[1] === "TEMP" || w[1] === "TEMPORARY") && w[2] === "TRIGGER"));
  };
  for (const t of tokens) {
    if (t.kind === "comment") continue;
    if (t.kind === "semi") {
      if (current.length === 0) continue;
      if (isTrigger() && upperWord(sql, current[current.length - 1]) !== "END") {
        current.push(t);
        continue;
      }
      flush();
      continue;
    }
    current.push(t);
  }
  flush();
  return out;
}

/** Transaction control that a Hrana stream answers without the engine. */
export type Control =
  | { kind: "begin"; mode: "deferred" | "immediate" | "exclusive" }
  | { kind: "commit" }
  | { kind: "rollback" }
  | { kind: "savepoint"; name: string }
  | { kind: "release"; name: string }
  | { kind: "rollback_to"; name: string }
  /** Setting a pragma that only governs writes (foreign key enforcement): nothing to do on a replica. */
  | { kind: "write_pragma"; name: string };

/** Pragmas that only change how writes are checked; setting them on a read-only replica changes nothing. */
const WRITE_ONLY_PRAGMAS = new Set(["FOREIGN_KEYS", "DEFER_FOREIGN_KEYS"]);
/** The values SQLite accepts for a boolean pragma. */
const BOOLEAN_WORDS = new Set(["ON", "OFF", "TRUE", "FALSE", "YES", "NO", "0", "1"]);

/**
 * `PRAGMA [main.]foreign_keys = ON` (or `(ON)`, quoted, 0/1…): a setting that
 * matters only to writes. libSQL clients send it around every `migrate()`
 * batch without looking at its result, so refusing it would leave an
 * unhandled rejection in the client.
 */
function writePragma(stmt: string, toks: Token[]): Control | null {
  const text = (t: Token | undefined): string => (t ? stmt.slice(t.start, t.end) : "");
  let i = 1;
  if (upperWord(stmt, toks[1]) === "MAIN" && text(toks[2]) === ".") i = 3;
  const name = upperWord(stmt, toks[i]);
  if (name === null || !WRITE_ONLY_PRAGMAS.has(name)) return null;
  const rest = toks.slice(i + 1).map(text);
  const value = rest[0] === "=" && rest.length === 2 ? rest[1] : rest[0] === "(" && rest[2] === ")" && rest.length === 3 ? rest[1] : null;
  if (value === null || value === undefined) return null;
  const bare = /^(['"]).*\1$/.test(value) ? value.slice(1, -1) : value;
  return BOOLEAN_WORDS.has(bare.toUpperCase()) ? { kind: "write_pragma", name: name.toLowerCase() } : null;
}

function nameOf(sql: string, t: Token | undefined): string | null {
  if (!t) return null;
  const s = sql.slice(t.start, t.end);
  if (t.kind === "word") return s;
  if (t.kind === "quoted" || t.kind === "string") {
    const q = s[0] === "[" ? "]" : (s[0] as string);
    if (s.length < 2 || s[s.length - 1] !== q) return null;
    const inner = s.slice(1, -1);
    return q === "]" ? inner : inner.split(q + q).join(q);
  }
  return null;
}

/**
 * Recognises one statement of transaction control, or returns null for
 * anything else (which then goes to the engine, whose authorizer refuses
 * transaction statements it does not know). `BEGIN … READONLY` is libSQL's
 * spelling of a read transaction (`client.transaction("read")`); `BEGIN
 * IMMEDIATE`/`EXCLUSIVE` (a write transaction) are recognised too: on a
 * replica they open the same read snapshot, and the first statement that
 * would write fails.
 */
export function parseControl(stmt: string): Control | null {
  const toks = tokenize(stmt).filter((t) => t.kind !== "comment" && t.kind !== "semi");
  const w0 = upperWord(stmt, toks[0]);
  if (w0 === null) return null;
  const words = toks.map((t) => upperWord(stmt, t));
  const rest = words.slice(1);
  const optTransaction = (from: number): number => (words[from] === "TRANSACTION" ? from + 1 : from);
  switch (w0) {
    case "BEGIN": {
      let mode: "deferred" | "immediate" | "exclusive" = "deferred";
      const seen = new Set<string>();
      for (const w of rest) {
        if (w === null || seen.has(w)) return null;
        seen.add(w);
        if (w === "IMMEDIATE" || w === "EXCLUSIVE") mode = w === "IMMEDIATE" ? "immediate" : "exclusive";
        else if (w !== "DEFERRED" && w !== "TRANSACTION" && w !== "READONLY") return null;
      }
      if (["DEFERRED", "IMMEDIATE", "EXCLUSIVE"].filter((m) => seen.has(m)).length > 1) return null;
      return { kind: "begin", mode };
    }
    case "COMMIT":
    case "END":
      return optTransaction(1) === toks.length ? { kind: "commit" } : null;
    case "ROLLBACK": {
      let i = optTransaction(1);
      if (i === toks.length) return { kind: "rollback" };
      if (words[i] !== "TO") return null;
      i++;
      if (words[i] === "SAVEPOINT") i++;
      const name = nameOf(stmt, toks[i]);
      return name !== null && i + 1 === toks.length ? { kind: "rollback_to", name } : null;
    }
    case "PRAGMA":
      return writePragma(stmt, toks);
    case "SAVEPOINT": {
      const name = nameOf(stmt, toks[1]);
      return name !== null && toks.length === 2 ? { kind: "savepoint", name } : null;
    }
    case "RELEASE": {
      const i = words[1] === "SAVEPOINT" ? 2 : 1;
      const name = nameOf(stmt, toks[i]);
      return name !== null && i + 1 === toks.length ? { kind: "release", name } : null;
    }
    default:
      return null;
  }
}

/** The first keyword of a statement, upper-cased (null when it does not start with a word). */
export function firstKeyword(stmt: string): string | null {
  const t = tokenize(stmt).find((x) => x.kind !== "comment");
  return upperWord(stmt, t);
}

/** SQLITE_MAX_VARIABLE_NUMBER of the shipped builds (the SQLite default). */
const MAX_VARIABLE_NUMBER = 32766;

/**
 * Parameter names by index, numbered as SQLite numbers them: `?` takes the
 * next index, `?NNN` takes NNN, a name keeps the index of its first use.
 * Names keep their prefix; `?` and unused indexes are null. Returns null when
 * an index is out of SQLite's range (the engine would refuse the statement).
 */
export function parameterNames(stmt: string): (string | null)[] | null {
  const names: (string | null)[] = [];
  const byName = new Map<string, number>();
  for (const t of tokenize(stmt)) {
    if (t.kind !== "param") continue;
    const text = stmt.slice(t.start, t.end);
    let index: number;
    if (text === "?") {
      index = names.length + 1;
    } else if (text[0] === "?") {
      index = Number(text.slice(1));
      if (!Number.isInteger(index) || index < 1 || index > MAX_VARIABLE_NUMBER) return null;
      if (!byName.has(text)) byName.set(text, index);
    } else {
      const known = byName.get(text);
      index = known ?? names.length + 1;
      if (known === undefined) byName.set(text, index);
    }
    if (index > MAX_VARIABLE_NUMBER) return null;
    while (names.length < index) names.push(null);
    if (text !== "?" && names[index - 1] === null) names[index - 1] = text;
  }
  return names;
}
