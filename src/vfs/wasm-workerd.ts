/**
 * @module
 * The workerd {@link SqliteWasmProvider}: the three wa-sqlite builds as static
 * `.wasm` imports, which wrangler (and vitest-pool-workers) turn into
 * precompiled `WebAssembly.Module`s — workerd forbids compiling wasm from
 * bytes at runtime. Only loadable where `.wasm` imports are supported, so
 * sqlite-module.ts imports this file dynamically when no provider is given.
 */
import asyncFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs";
import asyncWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite-async.wasm";
import jspiFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.mjs";
import jspiWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.wasm";
import syncFactory from "@journeyapps/wa-sqlite/dist/wa-sqlite.mjs";
import syncWasm from "@journeyapps/wa-sqlite/dist/wa-sqlite.wasm";
import type { SqliteWasmProvider } from "./sqlite-module.ts";

export const workerdWasm: SqliteWasmProvider = {
  factory: async (build) => (build === "jspi" ? jspiFactory : build === "sync" ? syncFactory : asyncFactory),
  module: async (build) => (build === "jspi" ? jspiWasm : build === "sync" ? syncWasm : asyncWasm),
};
