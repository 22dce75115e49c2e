#!/usr/bin/env node
// The ltx-edge CLI, started from the compiled JavaScript in dist/ — nothing is compiled at run
// time. dist/ is built by `npm run build`, which `npm ci`, `npm install` and `npm pack` run
// through the `prepare` script.
let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (e) {
  // Only our own entry missing means "not built"; any other missing module is a real error.
  if (e?.code === "ERR_MODULE_NOT_FOUND" && /dist[\\/]cli[\\/]main\.js/.test(String(e.message))) {
    process.stderr.write("ltx-edge: error: dist/ is missing: run `npm run build` (npm ci runs it)\n");
    process.exit(1);
  }
  throw e;
}
process.exitCode = await cli.main(process.argv.slice(2));
