/**
 * @module
 * SQLite's transaction rules for a stream whose every read is one snapshot:
 * BEGIN, COMMIT/END, ROLLBACK, SAVEPOINT, RELEASE and ROLLBACK TO change only
 * the stream's state (the snapshot itself is pinned by the first read). Shared
 * by Hrana pipelines and the D1 entrypoint.
 *
 * Every BEGIN opens a read transaction, whatever its mode: `BEGIN IMMEDIATE`
 * and `BEGIN EXCLUSIVE` (what libSQL's `transaction("write")`, the default,
 * and ORMs send) ask for a write lock a replica cannot give, but an
 * application that only reads inside the transaction loses nothing, and the
 * first statement that would write still fails with `SQL_READONLY` (the
 * engine's authorizer refuses it).
 */
import { ApiError } from "../api/errors.ts";
import type { Control } from "./sql-text.ts";

/** The part of a stream's state that transaction control changes. */
export interface TxnState {
  autocommit: boolean;
  /** Open savepoints, innermost last. */
  savepoints: string[];
  /** The transaction was opened by SAVEPOINT (releasing the outermost one ends it). */
  savepointTxn: boolean;
}

/** Applies one transaction statement to `s` (in place); returns the error SQLite would give, or null. */
export function applyControl(s: TxnState, c: Control): ApiError | null {
  const end = (): null => {
    s.autocommit = true;
    s.savepoints = [];
    s.savepointTxn = false;
    return null;
  };
  const find = (name: string): number => s.savepoints.map((x) => x.toLowerCase()).lastIndexOf(name.toLowerCase());
  switch (c.kind) {
    case "begin":
      if (!s.autocommit) return new ApiError("SQL_ERROR", "cannot start a transaction within a transaction");
      s.autocommit = false;
      s.savepointTxn = false;
      return null;
    case "commit":
      return s.autocommit ? new ApiError("SQL_ERROR", "cannot commit - no transaction is active") : end();
    case "rollback":
      return s.autocommit ? new ApiError("SQL_ERROR", "cannot rollback - no transaction is active") : end();
    case "savepoint":
      if (s.autocommit) {
        s.autocommit = false;
        s.savepointTxn = true;
      }
      s.savepoints.push(c.name);
      return null;
    case "release": {
      const at = find(c.name);
      if (at < 0) return new ApiError("SQL_ERROR", `no such savepoint: ${c.name}`);
      s.savepoints = s.savepoints.slice(0, at);
      return at === 0 && s.savepointTxn ? end() : null;
    }
    case "rollback_to": {
      const at = find(c.name);
      if (at < 0) return new ApiError("SQL_ERROR", `no such savepoint: ${c.name}`);
      s.savepoints = s.savepoints.slice(0, at + 1);
      return null;
    }
    case "write_pragma":
      // Foreign keys are enforced on writes only, and a replica has none: accepted, changes nothing.
      return null;
  }
}
