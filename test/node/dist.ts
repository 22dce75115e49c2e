/**
 * The compiled CLI that bin/ltx-edge.mjs runs (dist/, from `npm run build`;
 * `npm ci` and `npm test` build it). Tests that spawn the real bin check
 * first that dist/ matches the sources, so an edit without a build fails
 * with a clear message instead of testing old code.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");
export const BIN = join(REPO, "bin", "ltx-edge.mjs");
export const DIST = join(REPO, "dist");
const SRC = join(REPO, "src");

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Throws unless every compiled source is older than its output and every CLI source is compiled. */
export function assertBuilt(): void {
  const stale: string[] = [];
  for (const ts of walk(SRC)) {
    if (!ts.endsWith(".ts") || ts.endsWith(".d.ts")) continue;
    const rel = relative(SRC, ts);
    const js = join(DIST, rel.replace(/\.ts$/, ".js"));
    const inCli = rel.startsWith(`cli${sep}`);
    if (existsSync(js) ? statSync(ts).mtimeMs > statSync(js).mtimeMs : inCli) stale.push(rel);
  }
  if (stale.length > 0) {
    throw new Error(`dist/ is missing or older than src/ (${stale.slice(0, 3).join(", ")}${stale.length > 3 ? ", …" : ""}): run \`npm run build\` (npm test builds first)`);
  }
}
