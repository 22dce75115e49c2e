/**
 * @module
 * Loads wa-sqlite (@journeyapps/wa-sqlite) instances, in workerd or Node,
 * and caps their SQLite heap.
 *
 * - Build choice for reads that may wait on storage: the JSPI build when
 *   `WebAssembly.Suspending` exists (about 1.4× faster than Asyncify for the
 *   same VFS), else the Asyncify build. The synchronous build (no suspension
 *   machinery, the fastest of the three) serves the engine's fast lane.
 * - Where the loader and the compiled module come from is a
 *   {@link SqliteWasmProvider}: by default the workerd one (wasm-workerd.ts,
 *   static `.wasm` imports, loaded with a dynamic import so Node never sees
 *   them); the CLI passes a Node one (src/cli/wasm-node.ts). Either way the
 *   Emscripten loader gets the module through its `instantiateWasm` hook, and
 *   `locateFile` is stubbed so it never builds a URL from `import.meta.url`.
 * - wa-sqlite is not re-entrant and an instance's memory never shrinks: who
 *   may use an instance, and when one is replaced, is the SQL engine's
 *   business (src/sql/engine.ts); this file only creates and configures them.
 */

import * as SQLite from "@journeyapps/wa-sqlite";

/**
 * "jspi" and "asyncify" can suspend in a VFS call (a read awaits storage);
 * "sync" cannot, and is the fastest: the engine's fast lane runs it over a
 * memory-only VFS and hands a query that misses to a suspending build.
 */
export type SqliteBuild = "jspi" | "asyncify" | "sync";

/** An Emscripten module factory: resolves to the initialised module object. */
export type SqliteModuleFactory = (config?: object) => Promise<unknown>;

/** Supplies a build's loader and its compiled wasm (per runtime: workerd, Node). */
export interface SqliteWasmProvider {
  factory(build: SqliteBuild): Promise<SqliteModuleFactory>;
  module(build: SqliteBuild): Promise<WebAssembly.Module>;
}

/** The workerd provider, imported on first use so that Node never loads its `.wasm` imports. */
async function defaultProvider(): Promise<SqliteWasmProvider> {
  return (await import("./wasm-workerd.ts")).workerdWasm;
}

/** The few members of the Emscripten module object that we use directly. */
export interface SqliteWasmModule {
  readonly HEAPU8: Uint8Array;
  readonly HEAP32: Int32Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  ccall(
    ident: string,
    returnType: "number" | "string" | null,
    argTypes: readonly ("number" | "string")[],
    args: readonly (number | string)[],
  ): unknown;
}

/** One instantiated wa-sqlite module plus its JS API. */
export interface SqliteInstance {
  readonly build: SqliteBuild;
  readonly module: SqliteWasmModule;
  readonly sqlite3: SQLiteAPI;
  /** Increments every time a runtime creates a new instance (after a trap). */
  readonly generation: number;
}

/** True when this runtime can run the JSPI build. */
export function jspiSupported(): boolean {
  return typeof Reflect.get(WebAssembly, "Suspending") === "function";
}

/** Resolves the suspending build to use: the requested one, else JSPI when supported. */
export function chooseBuild(requested?: SqliteBuild): SqliteBuild {
  if (requested === "jspi" && !jspiSupported()) {
    throw new Error("the JSPI build was requested but WebAssembly.Suspending is not available");
  }
  return requested ?? (jspiSupported() ? "jspi" : "asyncify");
}

function isWasmModule(value: unknown): value is SqliteWasmModule {
  if (typeof value !== "object" || value === null) return false;
  const m = value as { HEAPU8?: unknown; HEAP32?: unknown; ccall?: unknown; _malloc?: unknown; _free?: unknown };
  return (
    m.HEAPU8 instanceof Uint8Array &&
    m.HEAP32 instanceof Int32Array &&
    typeof m.ccall === "function" &&
    typeof m._malloc === "function" &&
    typeof m._free === "function"
  );
}

type ReceiveInstance = (instance: WebAssembly.Instance, module: WebAssembly.Module) => void;

/** Instantiates one fresh wa-sqlite module of the given build. */
export async function instantiateSqlite(build: SqliteBuild, generation = 1, provider?: SqliteWasmProvider): Promise<SqliteInstance> {
  const p = provider ?? (await defaultProvider());
  const [factory, wasm] = await Promise.all([p.factory(build), p.module(build)]);
  // The loader never settles if instantiateWasm fails, so race it against the failure.
  let fail: (reason: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const loaded: unknown = await Promise.race([
    factory({
      locateFile: (path: string): string => path,
      instantiateWasm(imports: WebAssembly.Imports, receive: ReceiveInstance): object {
        WebAssembly.instantiate(wasm, imports).then((instance) => receive(instance, wasm), fail);
        return {};
      },
    }),
    failed,
  ]);
  if (!isWasmModule(loaded)) throw new Error(`wa-sqlite ${build} loader returned an unexpected module object`);
  return { build, module: loaded, sqlite3: SQLite.Factory(loaded), generation };
}

/**
 * True for errors that mean the wasm instance itself is no longer trustworthy:
 * traps (`WebAssembly.RuntimeError`: out-of-bounds access, unreachable, Emscripten
 * `abort()`), native stack overflow inside wasm, and JSPI suspension errors.
 */
export function isWasmTrap(error: unknown): boolean {
  if (error instanceof WebAssembly.RuntimeError) return true;
  if (!(error instanceof Error)) return false;
  if (error instanceof RangeError && /call stack/i.test(error.message)) return true;
  if (error.name === "SuspendError") return true;
  return /memory access out of bounds|unreachable|Aborted\(|table index is out of bounds|null function|trying to suspend/i.test(
    error.message,
  );
}

const SQLITE_CONFIG_MEMSTATUS = 9;

function callNumber(module: SqliteWasmModule, name: string, args: readonly number[]): number {
  const r = module.ccall(name, "number", args.map(() => "number" as const), args);
  return typeof r === "number" ? r : Number.NaN;
}

/**
 * Caps the SQLite heap of one instance at `hardBytes` (allocations beyond it
 * fail with SQLITE_NOMEM) and sets the soft limit at 3/4 of it, where page
 * caches start recycling their pages instead of growing. The builds are
 * compiled with SQLITE_DEFAULT_MEMSTATUS=0, without which the heap limits
 * are not enforced, so SQLite is shut down, switched to memory statistics
 * and initialized again; call this on a fresh instance, before anything is
 * opened or registered.
 */
export function limitHeap(instance: SqliteInstance, hardBytes: number): void {
  const m = instance.module;
  if (callNumber(m, "sqlite3_shutdown", []) !== SQLite.SQLITE_OK) throw new Error("sqlite3_shutdown failed");
  // sqlite3_config is variadic: in wasm its arguments travel in a buffer.
  const args = m._malloc(8);
  try {
    m.HEAP32[args >> 2] = 1;
    const rc = callNumber(m, "sqlite3_config", [SQLITE_CONFIG_MEMSTATUS, args]);
    if (rc !== SQLite.SQLITE_OK) throw new Error(`sqlite3_config(MEMSTATUS) failed: ${rc}`);
  } finally {
    m._free(args);
  }
  if (callNumber(m, "sqlite3_initialize", []) !== SQLite.SQLITE_OK) throw new Error("sqlite3_initialize failed");
  const split = (n: number): [number, number] => [n % 2 ** 32 | 0, Math.floor(n / 2 ** 32)];
  const hard = Math.max(1 << 20, Math.floor(hardBytes));
  // i64 arguments are passed as (low, high) halves in these builds.
  callNumber(m, "sqlite3_hard_heap_limit64", split(hard));
  callNumber(m, "sqlite3_soft_heap_limit64", split(Math.floor((hard * 3) / 4)));
}

/** SQLite heap in use (bytes) on an instance with memory statistics on ({@link limitHeap}). */
export function heapUsed(instance: SqliteInstance): number {
  return callNumber(instance.module, "sqlite3_memory_used", []);
}
