/**
 * @module
 * Runs a request schema ({@link ./requests.ts}) and turns the first problem
 * into one {@link CodedError} with a stable code and a message that names the
 * field by its path from the root (`body.statements[1].sql`,
 * `body.limits.max_rowz`, `query.limt`):
 *
 * - an unknown field → `UNKNOWN_FIELD` (preferred over any other problem: a
 *   typo explains the rest), with the closest allowed name;
 * - a problem inside a field listed in `FIELD_CODES` → that field's code
 *   (`INVALID_TXID`, `INVALID_TIMESTAMP`, `SQL_BAD_PARAMS`);
 * - anything else → `BAD_REQUEST`.
 */
import * as v from "valibot";
import { CodedError } from "../errors.ts";
import { FIELD_CODES } from "./requests.ts";

type Issue = v.BaseIssue<unknown>;

/** `body.statements[1].sql` from a root label and path keys. */
function display(root: string, keys: readonly unknown[]): string {
  let out = root;
  for (const k of keys) out += typeof k === "number" ? `[${k}]` : `.${String(k)}`;
  return out;
}

function pathKeys(issue: Issue): unknown[] {
  return issue.path?.map((p) => p.key) ?? [];
}

function isUnknownField(issue: Issue): boolean {
  return (issue.type === "strict_object" || issue.type === "object") && issue.expected === "never";
}

/**
 * The problems an issue stands for, each with its full path. A union that
 * failed in every option stands for what went wrong inside the options that
 * got furthest (those reporting a path below the union): `{"sq": "…"}` as a
 * batch statement is the unknown field `sq`, not "must be a string or an
 * object". When no option got anywhere, the union's own message stands.
 */
function leaves(issue: Issue, prefix: readonly unknown[]): { issue: Issue; keys: unknown[] }[] {
  const keys = [...prefix, ...pathKeys(issue)];
  const deeper = issue.type === "union" ? (issue.issues ?? []).filter((sub) => (sub.path?.length ?? 0) > 0) : [];
  return deeper.length > 0 ? deeper.flatMap((sub) => leaves(sub, keys)) : [{ issue, keys }];
}

function codeFor(keys: readonly unknown[]): string {
  for (const k of keys) {
    const code = typeof k === "string" ? FIELD_CODES[k] : undefined;
    if (code) return code;
  }
  return "BAD_REQUEST";
}

/** The error for a failed parse; `root` names the whole input (`body`, `query`). */
export function requestError(issues: readonly Issue[], root: string): CodedError {
  const found = issues.flatMap((i) => leaves(i, []));
  const unknown = found.find((f) => isUnknownField(f.issue));
  const first = unknown ?? found[0];
  if (!first) return new CodedError("BAD_REQUEST", `${root} is invalid`);
  const where = display(root, first.keys);
  if (unknown) return new CodedError("UNKNOWN_FIELD", `unknown field ${where}; ${unknown.issue.message}`);
  const msg = first.issue.message;
  // "must …" and "is …" read as a sentence after the field; anything else follows a colon.
  return new CodedError(codeFor(first.keys), `${where}${/^(must|is) /.test(msg) ? " " : ": "}${msg}`);
}

/** Validates `input` against `schema` and returns the schema's output (transforms applied). */
export function parseRequest<S extends v.GenericSchema>(schema: S, input: unknown, root: string): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (!r.success) throw requestError(r.issues, root);
  return r.output;
}

/**
 * Validates `input` against `schema`; returns it unchanged (same objects, so
 * markers kept about the JSON text still apply), typed as the schema's input.
 */
export function validate<S extends v.GenericSchema>(schema: S, input: unknown, root: string): v.InferInput<S> {
  const r = v.safeParse(schema, input);
  if (!r.success) throw requestError(r.issues, root);
  return input as v.InferInput<S>;
}
