/**
 * @module
 * Errors raised by the VFS itself (as opposed to errors thrown by a
 * PageSource, which are passed through untouched).
 */

export type VfsErrorCode =
  /** PageSource.readPage returned something that is not exactly pageSize bytes. */
  "VFS_BAD_PAGE";

export class VfsError extends Error {
  readonly code: VfsErrorCode;

  constructor(code: VfsErrorCode, message: string) {
    super(message);
    this.name = "VfsError";
    this.code = code;
  }
}
