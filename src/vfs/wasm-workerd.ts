/**
 * @module
 * The workerd {@link SqliteWasmProvider}: both wa-sqlite builds as static
 * `.wasm` imports, which wrangler (and vitest-pool-workers) turn into
 * precompiled `WebAssembly.Module`s — workerd forbids compiling wasm from
 * bytes at runtime. Only loadable where `.wasm` imports are supported, so
 * sqlite-module.ts imports this file dynamically when no provider is given.
 */
import asyncFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs";
import asyncWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite-async.wasm";
import jspiFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.mjs";
import jspiWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.wasm";
import type { SqliteWasmProvider } from "./sqlite-module.ts";

export const workerdWasm: SqliteWasmProvider = {
  factory: async (build) => (build === "jspi" ? jspiFactory : asyncFactory),
  module: async (build) => (build === "jspi" ? jspiWasm : asyncWasm),
};
