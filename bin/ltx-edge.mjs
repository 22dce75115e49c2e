#!/usr/bin/env node
// The ltx-edge CLI. Runs the TypeScript sources through tsx, so `npx ltx-edge …`
// works in a checkout after `npm ci` without a build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv.slice(2));
