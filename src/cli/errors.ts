/**
 * @module
 * CLI errors and how any error becomes one line on stderr. User errors
 * (bad arguments, missing replica, unrestorable TXID, corrupt files) print
 * `ltx-edge: error: CODE: message` and exit 1; unknown commands and flags
 * exit 2. Stack traces appear only with `--debug`.
 */
import { CodedError } from "../errors.ts";

export type CliErrorCode =
  | "CLI_UNKNOWN_COMMAND"
  | "CLI_UNKNOWN_FLAG"
  | "CLI_BAD_ARGS"
  | "CLI_OUTPUT_EXISTS"
  | "CLI_NOT_FOUND"
  | "CLI_NOT_SQLITE"
  | "CLI_WAL_NOT_EMPTY"
  | "CLI_REPLICA_NOT_EMPTY"
  | "CLI_S3_CONFIG"
  | "CLI_NO_FILES"
  | "CLI_DATABASE_EXISTS"
  | "CLI_WRANGLER_CONFIG"
  | "CLI_PORT_IN_USE";

/** An error the user can fix; `exitCode` 2 marks a malformed command line. */
export class CliError extends CodedError<CliErrorCode> {
  readonly exitCode: 1 | 2;
  constructor(code: CliErrorCode, message: string, opts: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(code, message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Unknown command or flag: exit 2, with a pointer to the help text. */
export function usageError(code: "CLI_UNKNOWN_COMMAND" | "CLI_UNKNOWN_FLAG", message: string): CliError {
  return new CliError(code, message, { exitCode: 2 });
}

/** A value or argument the user got wrong (exit 1). */
export function badArgs(message: string): CliError {
  return new CliError("CLI_BAD_ARGS", message);
}

/** Node's system errors (ENOENT, EACCES, …) are user-facing too. */
function isSystemError(e: unknown): e is Error & { code: string; syscall: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string" && typeof (e as { syscall?: unknown }).syscall === "string";
}

/** True for errors caused by input or environment rather than by a bug in ltx-edge. */
export function isUserError(e: unknown): boolean {
  // Every ltx-edge error with a stable code is something the user can act on.
  return e instanceof CodedError || isSystemError(e);
}

/** The stable error code, when the error has one. */
export function errorCode(e: unknown): string | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** The one line printed for an error (no trailing newline). */
export function formatError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = errorCode(e);
  // System errors already start with their code ("ENOENT: no such file …").
  const body = code !== undefined && !message.startsWith(code) ? `${code}: ${message}` : message;
  if (isUserError(e)) return `ltx-edge: error: ${oneLine(body)}`;
  return `ltx-edge: error: internal error: ${oneLine(body)} (rerun with --debug for the stack trace)`;
}

/** Stack trace and causes, for `--debug`. */
export function formatDebug(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && depth < 5; depth++) {
    parts.push(cur instanceof Error ? (cur.stack ?? cur.message) : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
    if (cur !== undefined) parts.push("caused by:");
  }
  return parts.join("\n");
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ");
}
