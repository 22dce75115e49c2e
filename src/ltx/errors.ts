/**
 * @module
 * Typed errors for the LTX codec. Every error carries a stable `code` so that
 * callers (CLI, HTTP API, tests) can branch on it without parsing messages, and
 * names the file and byte offset where the problem was found when known.
 */

import { CodedError } from "../errors.ts";

/** Stable error codes raised while decoding LTX data. */
export type LtxErrorCode =
  | "LTX_BAD_MAGIC"
  | "LTX_ENCRYPTED"
  | "LTX_UNSUPPORTED_VERSION"
  | "LTX_BAD_HEADER"
  | "LTX_BAD_PAGE_SIZE"
  | "LTX_TRUNCATED"
  | "LTX_BAD_INDEX"
  | "LTX_BAD_FRAME"
  | "LTX_BAD_LZ4"
  | "LTX_CHECKSUM_MISMATCH"
  | "LTX_PGNO_MISMATCH"
  | "LTX_NAME_MISMATCH"
  /** A file's page size differs from the rest of the replica's chain (a foreign file). */
  | "LTX_PAGE_SIZE_MISMATCH"
  /** A file does not continue the chain it would be applied to (header TXIDs or database checksums). */
  | "LTX_DISCONTINUOUS"
  /** The state asked for needs a file that failed verification and is kept out of service. */
  | "LTX_QUARANTINED";

export interface LtxErrorDetails {
  /** Object key or path of the LTX file, when known. */
  file?: string;
  /** Absolute byte offset in the file where the problem was found. */
  offset?: number;
  cause?: unknown;
}

/** A decoding failure with a stable code, the file and the byte offset. */
export class LtxError extends CodedError<LtxErrorCode> {
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: LtxErrorCode, message: string, details: LtxErrorDetails = {}) {
    const where = [
      details.file !== undefined ? details.file : undefined,
      details.offset !== undefined ? `offset ${details.offset}` : undefined,
    ]
      .filter((x) => x !== undefined)
      .join(" at ");
    super(code, where ? `${message} (${where})` : message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.file = details.file;
    this.offset = details.offset;
  }

  /** The same error, re-labelled with the file it came from and an absolute offset base. */
  withFile(file: string, baseOffset = 0): LtxError {
    if (this.file !== undefined) return this;
    const e = new LtxError(this.code, this.message, {
      file,
      offset: this.offset !== undefined ? this.offset + baseOffset : undefined,
      cause: this.cause,
    });
    return e;
  }
}
