/**
 * @module
 * The read-only policy enforced through sqlite3_set_authorizer: plain reads
 * (SELECT, column READ, recursive CTEs, most functions) and a small allowlist
 * of introspection PRAGMAs. Everything else (writes, DDL, ATTACH/DETACH,
 * transactions, savepoints, ANALYZE, REINDEX, setting PRAGMAs, dangerous
 * functions) is denied at prepare time. This is defence in depth: the
 * connection is also opened SQLITE_OPEN_READONLY, ATTACH is limited to 0
 * databases, and the VFS refuses every write.
 */

import * as SQLite from "@journeyapps/wa-sqlite";

/** PRAGMAs whose argument names something to inspect (never a setting). */
const PRAGMAS_WITH_TARGET = new Set([
  "table_info",
  "table_xinfo",
  "table_list",
  "index_list",
  "index_info",
  "index_xinfo",
  "foreign_key_list",
  "foreign_key_check",
  "integrity_check",
  "quick_check",
]);

/** PRAGMAs that are allowed only as reads (without `= value` or `(value)`). */
const PRAGMAS_READ_ONLY = new Set([
  "page_count",
  "page_size",
  "schema_version",
  "user_version",
  "application_id",
  "freelist_count",
  "encoding",
  "data_version",
  "database_list",
  "collation_list",
  "function_list",
  "module_list",
  "pragma_list",
  "compile_options",
  "auto_vacuum",
  "foreign_keys",
]);

/** sqlite3_set_authorizer action codes, named for error messages. */
const ACTION_NAMES: Record<number, string> = {
  1: "CREATE INDEX", 2: "CREATE TABLE", 3: "CREATE TEMP INDEX", 4: "CREATE TEMP TABLE", 5: "CREATE TEMP TRIGGER",
  6: "CREATE TEMP VIEW", 7: "CREATE TRIGGER", 8: "CREATE VIEW", 9: "DELETE", 10: "DROP INDEX", 11: "DROP TABLE",
  12: "DROP TEMP INDEX", 13: "DROP TEMP TABLE", 14: "DROP TEMP TRIGGER", 15: "DROP TEMP VIEW", 16: "DROP TRIGGER",
  17: "DROP VIEW", 18: "INSERT", 23: "UPDATE", 26: "ALTER TABLE", 27: "REINDEX", 28: "ANALYZE",
  29: "CREATE VIRTUAL TABLE", 30: "DROP VIRTUAL TABLE",
};

/** Functions that can reach outside SQL or take raw pointers. */
const DENIED_FUNCTIONS = new Set(["load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"]);

/**
 * Decides one authorizer callback. Returns null to allow, or a human-readable
 * reason to deny. wa-sqlite passes absent string arguments as "".
 */
export function readOnlyDenial(action: number, p3: string, p4: string): string | null {
  switch (action) {
    case SQLite.SQLITE_SELECT:
    case SQLite.SQLITE_READ:
    case SQLite.SQLITE_RECURSIVE:
      return null;
    case SQLite.SQLITE_FUNCTION: {
      const name = p4.toLowerCase();
      return DENIED_FUNCTIONS.has(name) ? `function ${name}() is not allowed` : null;
    }
    case SQLite.SQLITE_PRAGMA: {
      const name = p3.toLowerCase();
      if (PRAGMAS_WITH_TARGET.has(name)) return null;
      if (PRAGMAS_READ_ONLY.has(name)) {
        return p4 === "" ? null : `PRAGMA ${name} may only be read, not set`;
      }
      return `PRAGMA ${name} is not allowed`;
    }
    case SQLite.SQLITE_ATTACH:
    case SQLite.SQLITE_DETACH:
      return "ATTACH and DETACH are not allowed";
    case SQLite.SQLITE_TRANSACTION:
    case SQLite.SQLITE_SAVEPOINT:
      return "transaction control is not allowed (each statement runs in its own read transaction)";
    default: {
      const what = ACTION_NAMES[action] ?? `authorizer action ${action}`;
      return `the database is read-only: ${what}${p3 ? ` on ${p3}` : ""} is not allowed`;
    }
  }
}
