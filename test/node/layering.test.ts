/**
 * Imports point down: the transports (the JSON API, Hrana, the web console,
 * the D1 entrypoint, the CLI) sit on the query service and the shared API
 * model (src/api: request schema, limits, errors, value encoding, auth), and
 * never on each other; the API model and the query service never import a
 * transport. A new transport is one new folder.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { expect, test } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");
const TRANSPORTS = ["http", "hrana", "console", "d1", "cli"];
const BELOW = ["api", "session", "query", "sql", "vfs", "pages", "page-index", "ltx", "plan", "replica", "restore", "durable", "config", "sync", "observe"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Folder under src/ of a file (or "" for src/ itself). */
function folderOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes("/") ? (rel.split("/")[0] as string) : "";
}

/** `[from folder, to folder, file]` of every relative import between two folders of src/. */
function edges(): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const f of files(SRC)) {
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(f), m[1] as string);
      if (!target.startsWith(SRC)) continue;
      const a = folderOf(f);
      const b = folderOf(target);
      if (a !== b) out.push([a, b, relative(SRC, f)]);
    }
  }
  return out;
}

test("the folders this test knows are the folders src/ has", () => {
  const dirs = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
  expect(dirs.sort()).toEqual([...TRANSPORTS.filter((t) => dirs.includes(t)), ...BELOW].sort());
});

test("no transport imports another transport", () => {
  const bad = edges().filter(([a, b]) => TRANSPORTS.includes(a) && TRANSPORTS.includes(b));
  expect(bad).toEqual([]);
});

test("nothing below the transports imports one", () => {
  const bad = edges().filter(([a, b]) => BELOW.includes(a) && TRANSPORTS.includes(b));
  expect(bad).toEqual([]);
});
