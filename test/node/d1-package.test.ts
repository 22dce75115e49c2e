/**
 * The package export `ltx-edge/d1` (dist/, `npm run build`): it loads as
 * plain JavaScript with no Worker-only imports, and its declarations stand
 * alone — a consumer that has neither @cloudflare/workers-types nor our
 * sources type-checks against them (strict, with lib checks on).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { REPO, assertBuilt } from "./dist.ts";

const TMP = mkdtempSync(join(tmpdir(), "ltx-edge-d1-package-"));
beforeAll(assertBuilt);
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe("ltx-edge/d1", () => {
  test("resolves through the package's exports to compiled JavaScript that imports nothing from cloudflare:", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { exports: Record<string, { types: string; default: string }> };
    expect(pkg.exports["./d1"]).toEqual({ types: "./dist/d1/client.d.ts", default: "./dist/d1/client.js" });
    const mod = (await import(join(REPO, pkg.exports["./d1"]?.default ?? ""))) as typeof import("../../src/d1/client.ts");
    expect(typeof mod.createD1).toBe("function");
    const code = readFileSync(join(REPO, "dist", "d1", "client.js"), "utf8");
    expect(code).not.toMatch(/from\s+"cloudflare:/);
    // Without a binding, nothing is called: misuse is refused at once.
    expect(() => mod.createD1({ fetch: () => undefined }, "")).toThrow(/databaseName/);
  });

  test("its declarations type-check in a consumer without workers-types", { timeout: 120_000 }, async () => {
    const app = join(TMP, "app");
    mkdirSync(join(app, "node_modules"), { recursive: true });
    symlinkSync(REPO, join(app, "node_modules", "ltx-edge"), "dir");
    writeFileSync(
      join(app, "consumer.ts"),
      `import { createD1, D1Error, type D1Database, type D1Result } from "ltx-edge/d1";
declare const env: { LTX: { fetch(input: string): Promise<unknown> } };
const db: D1Database = createD1(env.LTX, "app", { integers: "bigint" });
const rows: Promise<D1Result<{ id: number }>> = db.prepare("SELECT id FROM t WHERE id = ?").bind(1).all<{ id: number }>();
const session = db.withSession("first-primary");
const bookmark: string | null = session.getBookmark();
const raw: Promise<[string[], ...unknown[][]]> = session.prepare("SELECT 1").raw({ columnNames: true });
export const used = [rows, bookmark, raw, D1Error];
`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022"], types: [], skipLibCheck: false },
        files: ["consumer.ts"],
      }),
    );
    const tsc = join(REPO, "node_modules", "typescript", "bin", "tsc");
    const out = await new Promise<{ code: number; text: string }>((done) => {
      execFile(process.execPath, [tsc, "-p", join(app, "tsconfig.json")], { cwd: app }, (err, stdout, stderr) => {
        done({ code: err ? 1 : 0, text: `${stdout}${stderr}` });
      });
    });
    expect(out.text).toBe("");
    expect(out.code).toBe(0);
  });
});
