/**
 * The build (dist/, `npm run build`): the CLI is plain JavaScript whose
 * imports Node can load — no `.ts` specifiers, no `cloudflare:` modules or
 * `.wasm` imports on any static path from a CLI module — and the real bin
 * runs without compiling any TypeScript (a loader hook refuses every `.ts`
 * module and tsx itself).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FixtureManifest } from "../support/fixtures.ts";
import { BIN, DIST, REPO, assertBuilt } from "./dist.ts";

const TMP = mkdtempSync(join(tmpdir(), "ltx-edge-build-"));
beforeAll(assertBuilt);
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Import specifiers of a module: static ones (from, bare import, export from) and string-literal dynamic ones. */
function specifiers(code: string): { static: string[]; dynamic: string[] } {
  const stat = [...code.matchAll(/^\s*(?:import|export)\s[^;]*?from\s*"([^"]+)"|^\s*import\s*"([^"]+)"/gm)].map((m) => m[1] ?? m[2] ?? "");
  const dyn = [...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? "");
  return { static: stat, dynamic: dyn };
}

describe("dist/", () => {
  test("no static path from a CLI module reaches cloudflare: modules or .wasm imports; every relative import is compiled JS", () => {
    const roots = readdirSync(join(DIST, "cli"))
      .filter((f) => f.endsWith(".js"))
      .map((f) => join(DIST, "cli", f));
    expect(roots.map((r) => r.slice(DIST.length + 1))).toContain("cli/main.js");
    const seen = new Set<string>();
    const queue = [...roots];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const { static: stat, dynamic } = specifiers(readFileSync(file, "utf8"));
      for (const s of [...stat, ...dynamic]) {
        if (!s.startsWith(".")) continue;
        expect(s, `${file}: ${s}`).toMatch(/\.js$/);
        expect(existsSync(resolve(dirname(file), s)), `${file}: ${s}`).toBe(true);
      }
      for (const s of stat) {
        expect(s.startsWith("cloudflare:") || s.endsWith(".wasm"), `${file} imports ${s}`).toBe(false);
        if (s.startsWith(".")) queue.push(resolve(dirname(file), s));
      }
    }
    // The walk reached the restore, LTX and replica code, not just the CLI folder.
    expect([...seen].some((f) => f.endsWith(join("ltx", "frame-verifier.js")))).toBe(true);
  });
});

describe("the real bin", () => {
  // Resolve hook: any TypeScript module or tsx itself fails the run.
  const hooks = join(TMP, "no-ts-hooks.mjs");
  const register = join(TMP, "no-ts.mjs");
  writeFileSync(
    hooks,
    `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/\\.[cm]?ts$/.test(new URL(r.url).pathname) || /[\\\\/]node_modules[\\\\/]tsx[\\\\/]/.test(r.url)) throw new Error("TypeScript at run time: " + r.url);
  return r;
}
`,
  );
  writeFileSync(register, `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

  const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((done) => {
      execFile(process.execPath, ["--import", pathToFileURL(register).href, BIN, ...args], { cwd: REPO }, (err, stdout, stderr) => {
        done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      });
    });

  test("--help and restore run on compiled JavaScript only", async () => {
    const help = await run(["--help"]);
    expect(help.stderr).toBe("");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: ltx-edge <command>");
    const out = join(TMP, "small.db");
    const fixture = join(REPO, "test", "fixtures", "small");
    const r = await run(["restore", fixture, out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const m = JSON.parse(readFileSync(join(fixture, "manifest.json"), "utf8")) as FixtureManifest;
    const want = m.all_states.find((s) => s.txid === m.final_txid)?.sha256;
    expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(want);
  });

  test("the hook does refuse TypeScript (so the test above means something)", async () => {
    const probe = join(TMP, "probe.mjs");
    writeFileSync(probe, `await import(${JSON.stringify(pathToFileURL(join(REPO, "src", "ltx", "txid.ts")).href)});\n`);
    const r = await new Promise<{ code: number; stderr: string }>((done) => {
      execFile(process.execPath, ["--import", pathToFileURL(register).href, probe], { cwd: REPO }, (err, _stdout, stderr) => {
        done({ code: err ? 1 : 0, stderr });
      });
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("TypeScript at run time");
  });
});
