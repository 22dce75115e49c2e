/**
 * @module
 * Loads wa-sqlite (@journeyapps/wa-sqlite) inside workerd and owns the one
 * live module instance of a {@link SqliteRuntime}.
 *
 * - Build choice: the JSPI build when `WebAssembly.Suspending` exists (about
 *   1.4× faster than Asyncify for the same VFS), else the Asyncify build.
 * - Where the loader and the compiled module come from is a
 *   {@link SqliteWasmProvider}: by default the workerd one (wasm-workerd.ts,
 *   static `.wasm` imports, loaded with a dynamic import so Node never sees
 *   them); the CLI passes a Node one (src/cli/wasm-node.ts). Either way the
 *   Emscripten loader gets the module through its `instantiateWasm` hook, and
 *   `locateFile` is stubbed so it never builds a URL from `import.meta.url`.
 * - wa-sqlite is not re-entrant: all use goes through {@link SqliteRuntime.exclusive}
 *   (a FIFO mutex). After a wasm trap the linear memory can be corrupt, so the
 *   instance is dropped ({@link SqliteRuntime.discard}) and the next caller
 *   gets a fresh one.
 */

import * as SQLite from "@journeyapps/wa-sqlite";
import { PromiseMutex } from "./mutex.ts";

export type SqliteBuild = "jspi" | "asyncify";

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

/** Resolves the build to use: the requested one, else JSPI when supported. */
export function chooseBuild(requested?: SqliteBuild): SqliteBuild {
  if (requested === "jspi" && !jspiSupported()) {
    throw new Error("the JSPI build was requested but WebAssembly.Suspending is not available");
  }
  return requested ?? (jspiSupported() ? "jspi" : "asyncify");
}

function isWasmModule(value: unknown): value is SqliteWasmModule {
  if (typeof value !== "object" || value === null) return false;
  const m = value as { HEAPU8?: unknown; ccall?: unknown };
  return m.HEAPU8 instanceof Uint8Array && typeof m.ccall === "function";
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

export interface SqliteRuntimeOptions {
  /** Force a build (tests); default: JSPI when supported, else Asyncify. */
  build?: SqliteBuild;
  /** Where the loader and wasm come from; default: the workerd provider. */
  wasm?: SqliteWasmProvider;
}

/**
 * Owns at most one live wa-sqlite instance and serializes all access to it.
 * Create one per isolate (or a few, for parallelism: each costs ≥16 MiB).
 */
export class SqliteRuntime {
  readonly build: SqliteBuild;
  readonly #mutex = new PromiseMutex();
  readonly #provider: SqliteWasmProvider | undefined;
  #instance: SqliteInstance | null = null;
  #generation = 0;

  private constructor(build: SqliteBuild, provider: SqliteWasmProvider | undefined) {
    this.build = build;
    this.#provider = provider;
  }

  /** Creates the runtime and its first instance (so load errors surface here). */
  static async create(options: SqliteRuntimeOptions = {}): Promise<SqliteRuntime> {
    const runtime = new SqliteRuntime(chooseBuild(options.build), options.wasm);
    await runtime.exclusive(async () => undefined);
    return runtime;
  }

  /** Callers holding or waiting for the instance. */
  get queueLength(): number {
    return this.#mutex.pending;
  }

  /**
   * Runs `fn` with exclusive use of the live instance (FIFO), creating a new
   * instance first if the previous one was discarded.
   */
  exclusive<R>(fn: (instance: SqliteInstance) => Promise<R>): Promise<R> {
    return this.#mutex.run(async () => {
      if (this.#instance === null) {
        this.#instance = await instantiateSqlite(this.build, ++this.#generation, this.#provider);
      }
      return fn(this.#instance);
    });
  }

  /**
   * Drops the live instance (call after a trap, while holding the lock).
   * Nothing is closed: after a trap the heap may be corrupt, so the whole
   * instance is left to the garbage collector.
   */
  discard(instance?: SqliteInstance): void {
    if (instance === undefined || this.#instance === instance) this.#instance = null;
  }
}
