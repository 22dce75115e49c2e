/**
 * @module
 * The base of every ltx-edge error: a message for people and a stable `code`
 * for programs (the HTTP API maps codes to statuses; the CLI prints them).
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
