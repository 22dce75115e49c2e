/**
 * @module
 * Ambient declarations for imports that ship without usable types:
 * `.wasm` files (wrangler's default CompiledWasm rule turns them into a
 * precompiled `WebAssembly.Module`), the wa-sqlite JSPI loader, and wa-sqlite's
 * `FacadeVFS` base class. The rest of wa-sqlite (`SQLiteAPI`, `VFS.Base`, the
 * constants, the sync/Asyncify loaders) is typed by the package's own
 * `src/types/index.d.ts`, pulled in by the reference below.
 */

/// <reference path="../node_modules/@journeyapps/wa-sqlite/src/types/index.d.ts" />

declare module "*.wasm" {
  const wasmModule: WebAssembly.Module;
  export default wasmModule;
}

declare module "@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.mjs" {
  /** Emscripten module factory; resolves to the initialised module object. */
  export default function ModuleFactory(config?: object): Promise<unknown>;
}

declare module "@journeyapps/wa-sqlite/src/FacadeVFS.js" {
  import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";

  /**
   * wa-sqlite's convenience VFS base: the raw `xFoo` C-level callbacks decode
   * their pointers and call `jFoo` with JS values. Buffers are wasm-memory
   * proxies that survive memory growth; single values are little-endian views.
   */
  export class FacadeVFS extends VFS.Base {
    constructor(name: string, module: object);
    hasAsyncMethod(methodName: string): boolean;
    getFilename(pFile: number): string;
    jOpen(filename: string | null, pFile: number, flags: number, pOutFlags: DataView): number | Promise<number>;
    jDelete(filename: string, syncDir: number): number | Promise<number>;
    jAccess(filename: string, flags: number, pResOut: DataView): number | Promise<number>;
    jFullPathname(filename: string, zOut: Uint8Array): number | Promise<number>;
    jGetLastError(zBuf: Uint8Array): number | Promise<number>;
    jClose(pFile: number): number | Promise<number>;
    jRead(pFile: number, pData: Uint8Array, iOffset: number): number | Promise<number>;
    jWrite(pFile: number, pData: Uint8Array, iOffset: number): number | Promise<number>;
    jTruncate(pFile: number, size: number): number | Promise<number>;
    jSync(pFile: number, flags: number): number | Promise<number>;
    jFileSize(pFile: number, pSize: DataView): number | Promise<number>;
    jLock(pFile: number, lockType: number): number | Promise<number>;
    jUnlock(pFile: number, lockType: number): number | Promise<number>;
    jCheckReservedLock(pFile: number, pResOut: DataView): number | Promise<number>;
    jFileControl(pFile: number, op: number, pArg: DataView): number | Promise<number>;
    jSectorSize(pFile: number): number | Promise<number>;
    jDeviceCharacteristics(pFile: number): number | Promise<number>;
  }
}
