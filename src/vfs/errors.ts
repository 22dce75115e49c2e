/**
 * @module
 * Errors raised by the VFS itself (as opposed to errors thrown by a
 * PageSource, which are passed through untouched).
 */

import { CodedError } from "../errors.ts";

export type VfsErrorCode =
  /** PageSource.readPage returned something that is not exactly pageSize bytes. */
  "VFS_BAD_PAGE";

export class VfsError extends CodedError<VfsErrorCode> {}
