/**
 * @module
 * The Node {@link SqliteWasmProvider} for the CLI: Node cannot import `.wasm`
 * files, so the module is read from node_modules and compiled with
 * `WebAssembly.compile` (which Node, unlike workerd, allows). Loaders and
 * modules are cached per build for the life of the process.
 *
 * The Emscripten loaders are built for web/worker environments only (their
 * Node branch is empty); the `instantiateWasm` and `locateFile` hooks in
 * sqlite-module.ts keep them from fetching anything, so they run unchanged.
 */
/// <reference path="../wasm.d.ts" />
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { SqliteBuild, SqliteModuleFactory, SqliteWasmProvider } from "../vfs/sqlite-module.ts";

const require = createRequire(import.meta.url);

/** Absolute path of a file in wa-sqlite's dist/ (found through the package.json, so hoisting does not matter). */
function distFile(name: string): string {
  return join(dirname(require.resolve("@journeyapps/wa-sqlite/package.json")), "dist", name);
}

const STEMS: Record<SqliteBuild, string> = { jspi: "wa-sqlite-jspi", asyncify: "wa-sqlite-async", sync: "wa-sqlite" };
const stem = (build: SqliteBuild): string => STEMS[build];

const modules = new Map<SqliteBuild, Promise<WebAssembly.Module>>();
const factories = new Map<SqliteBuild, Promise<SqliteModuleFactory>>();

export const nodeWasm: SqliteWasmProvider = {
  factory(build) {
    let f = factories.get(build);
    if (!f) {
      const loader =
        build === "jspi"
          ? import("@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.mjs")
          : build === "sync"
            ? import("@journeyapps/wa-sqlite/dist/wa-sqlite.mjs")
            : import("@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs");
      f = loader.then((m) => m.default);
      factories.set(build, f);
    }
    return f;
  },
  module(build) {
    let m = modules.get(build);
    if (!m) {
      m = readFile(distFile(`${stem(build)}.wasm`)).then((bytes) => WebAssembly.compile(bytes));
      modules.set(build, m);
    }
    return m;
  },
};
