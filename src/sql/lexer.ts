/**
 * @module
 * The project's one SQL lexer: just enough of SQLite's tokenizer to split
 * statements (Hrana), recognise keywords and parameters, and measure how
 * deeply a statement nests before SQLite parses it (the SQL text guard).
 * Strings, quoted identifiers and comments are skipped exactly, so nothing
 * inside them ever counts as a `;`, `?`, `(` or operator. It never throws:
 * text SQLite would reject is left for SQLite to reject.
 */

export type TokenKind = "word" | "quoted" | "string" | "number" | "param" | "semi" | "comment" | "op";

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
}

function isIdStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 0x80;
}

function isIdChar(c: number): boolean {
  return isIdStart(c) || (c >= 48 && c <= 57) || c === 36;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 12 || c === 13;
}

/** SQLite's two-character operators; `->>` is the only longer one. */
const TWO_CHAR_OPERATORS = new Set(["||", "<=", ">=", "<>", "!=", "==", "<<", ">>", "->"]);

function operatorLength(sql: string, i: number): number {
  if (sql.startsWith("->>", i)) return 3;
  return TWO_CHAR_OPERATORS.has(sql.slice(i, i + 2)) ? 2 : 1;
}

/** Index after a quoted run that ends at `close`; a doubled `close` is an escape. Unterminated runs end at the text's end. */
function skipQuoted(sql: string, from: number, close: string): number {
  let i = from + 1;
  for (;;) {
    const j = sql.indexOf(close, i);
    if (j < 0) return sql.length;
    if (close !== "]" && sql[j + 1] === close) {
      i = j + 2;
      continue;
    }
    return j + 1;
  }
}

/** Index after a `:name`, `@name`, `$name` parameter (with SQLite's `::` and `(…)` suffixes), or -1 if there is no name. */
function skipNamedParam(sql: string, from: number): number {
  let i = from + 1;
  let n = 0;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (isIdChar(c)) {
      i++;
      n++;
    } else if (c === 40 /* ( */ && n > 0) {
      const j = sql.indexOf(")", i);
      if (j < 0) return -1;
      i = j + 1;
      n++;
      break;
    } else if (c === 58 /* : */ && sql.charCodeAt(i + 1) === 58) {
      i += 2;
    } else {
      break;
    }
  }
  return n > 0 ? i : -1;
}

/** Tokens of `sql`, whitespace dropped; an operator (`||`, `<=`, `->>`, `(`, `,` …) is one "op" token. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    const start = i;
    if (isSpace(c)) {
      i++;
      continue;
    }
    let kind: TokenKind;
    if (c === 45 /* - */ && sql.charCodeAt(i + 1) === 45) {
      const j = sql.indexOf("\n", i);
      i = j < 0 ? sql.length : j;
      kind = "comment";
    } else if (c === 47 /* / */ && sql.charCodeAt(i + 1) === 42 /* * */) {
      const j = sql.indexOf("*/", i + 2);
      i = j < 0 ? sql.length : j + 2;
      kind = "comment";
    } else if (c === 39 /* ' */) {
      i = skipQuoted(sql, i, "'");
      kind = "string";
    } else if (c === 34 /* " */ || c === 96 /* ` */) {
      i = skipQuoted(sql, i, sql[i] as string);
      kind = "quoted";
    } else if (c === 91 /* [ */) {
      i = skipQuoted(sql, i, "]");
      kind = "quoted";
    } else if (c === 59 /* ; */) {
      i++;
      kind = "semi";
    } else if (c === 63 /* ? */) {
      i++;
      while (i < sql.length && isDigit(sql.charCodeAt(i))) i++;
      kind = "param";
    } else if (c === 58 /* : */ || c === 64 /* @ */ || c === 36 /* $ */ || c === 35 /* # */) {
      const j = skipNamedParam(sql, i);
      if (j < 0) {
        i++;
        kind = "op";
      } else {
        i = j;
        kind = "param";
      }
    } else if (isDigit(c) || (c === 46 /* . */ && isDigit(sql.charCodeAt(i + 1)))) {
      i++;
      while (i < sql.length) {
        const d = sql.charCodeAt(i);
        const prev = sql.charCodeAt(i - 1);
        if (isIdChar(d) || d === 46) i++;
        else if ((d === 43 || d === 45) && (prev === 101 || prev === 69) && !/^0[xX]/.test(sql.slice(start, i))) i++;
        else break;
      }
      kind = "number";
    } else if (isIdStart(c)) {
      i++;
      while (i < sql.length && isIdChar(sql.charCodeAt(i))) i++;
      kind = "word";
    } else {
      i += operatorLength(sql, i);
      kind = "op";
    }
    out.push({ kind, start, end: i });
  }
  return out;
}

/** The upper-cased text of a word token; null for any other token (or none). */
export function upperWord(sql: string, t: Token | undefined): string | null {
  return t && t.kind === "word" ? sql.slice(t.start, t.end).toUpperCase() : null;
}

