/**
 * The package as a user gets it: `npm pack` output installed into an empty
 * folder (npm's cache first, the registry only for what it lacks). The bin
 * starts from compiled JavaScript — the tarball holds no TypeScript source —
 * and runs `--help`, a Litestream-style `restore -o … -txid …` and `query`;
 * `ltx-edge/d1` loads in plain Node; the package's types (the CLI API and
 * the D1 client) compile in a strict consumer. The time of `--help` is
 * measured and reported as an annotation, never asserted.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { formatTxid } from "../../src/ltx/txid.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { REPO, assertBuilt } from "./dist.ts";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const FIX = join(REPO, "test", "fixtures");
const TMP = mkdtempSync(join(tmpdir(), "ltx-edge-pack-"));
const APP = join(TMP, "app");
/** node first on PATH: the bin's `#!/usr/bin/env node` must find the node running the tests. */
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env["PATH"] ?? ""}`, LTX_EDGE_PROGRESS: "" };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function exec(file: string, args: string[], cwd: string): Promise<Run> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(file, args, { cwd, env: ENV, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, shell: process.platform === "win32" }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const installedBin = () => join(APP, "node_modules", ".bin", process.platform === "win32" ? "ltx-edge.cmd" : "ltx-edge");
const ltxEdge = (args: string[]) => exec(installedBin(), args, APP);

let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  // The real bin runs dist/: never pack stale output. --ignore-scripts: pack what is built, never rebuild
  // dist/ under the other test files that are running it.
  assertBuilt();
  const pack = await exec(NPM, ["pack", "--ignore-scripts", "--json", "--pack-destination", TMP], REPO);
  expect(pack.code, pack.stderr).toBe(0);
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0] as typeof packed;
  mkdirSync(APP);
  writeFileSync(join(APP, "package.json"), `${JSON.stringify({ name: "consumer", private: true, type: "module" })}\n`);
  const install = await exec(NPM, ["install", join(TMP, packed.filename), "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], APP);
  expect(install.code, install.stderr).toBe(0);
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe("the packed tarball", () => {
  test("holds the bin, compiled JavaScript and declarations, and no TypeScript source", () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["package.json", "bin/ltx-edge.mjs", "dist/cli/main.js", "dist/cli/api.js", "dist/cli/api.d.ts", "dist/d1/client.js", "dist/d1/client.d.ts"]));
    expect(paths.filter((p) => /\.[cm]?ts$/.test(p) && !p.endsWith(".d.ts"))).toEqual([]);
    expect(paths.filter((p) => !/^(bin|dist)\//.test(p) && !/^(package\.json|README\.md|LICENSE)$/i.test(p))).toEqual([]);
    // What npm installed is what was packed: no TypeScript to compile at run time.
    const installed = readdirSync(join(APP, "node_modules", "ltx-edge"), { recursive: true, encoding: "utf8" }).map((p) => p.split(sep).join("/"));
    expect(installed.filter((p) => /\.[cm]?ts$/.test(p) && !p.endsWith(".d.ts"))).toEqual([]);
  });

  test("ltx-edge --help from the install", async ({ annotate }) => {
    const runs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await ltxEdge(["--help"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^Usage: ltx-edge <command>/);
      runs.push(r.ms);
    }
    // Reported, not asserted: timing depends on the machine's load.
    runs.sort((a, b) => a - b);
    await annotate(`ltx-edge --help from the installed tarball: median ${Math.round(runs[2] as number)} ms, fastest ${Math.round(runs[0] as number)} ms (process start included)`);
  });

  test("restore -o out.db -txid <16 hex> <replica> from the install", async () => {
    const m = JSON.parse(readFileSync(join(FIX, "multi-level", "manifest.json"), "utf8")) as FixtureManifest;
    const state = m.all_states.filter((s) => s.restorable === true)[5];
    if (!state) throw new Error("multi-level has too few restorable states");
    const out = join(APP, "out.db");
    const r = await ltxEdge(["restore", "-o", out, "-txid", formatTxid(state.txid_int), join(FIX, "multi-level")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^restored .*out\\.db: TXID ${state.txid} `));
    expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(state.sha256);
  });

  test("query from the install loads wa-sqlite from its dependency", async () => {
    const m = JSON.parse(readFileSync(join(FIX, "small", "manifest.json"), "utf8")) as FixtureManifest;
    const state = m.checked_states.find((s) => s.txid === m.final_txid && (s.queries?.length ?? 0) > 0);
    const q = state?.queries?.[0];
    if (!q) throw new Error("small has no query at its final TXID");
    const r = await ltxEdge(["query", join(FIX, "small"), q.sql, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { columns: string[]; rows: unknown[][] };
    expect(out.columns).toEqual(q.columns);
    expect(out.rows).toEqual(q.rows);
  });

  test("ltx-edge/d1 loads from the install in plain Node (no Workers imports) and its types compile", async () => {
    writeFileSync(join(APP, "d1.mjs"), `import { createD1, D1Error } from "ltx-edge/d1";\nconsole.log(typeof createD1, typeof D1Error);\n`);
    const r = await exec(process.execPath, [join(APP, "d1.mjs")], APP);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe("function function");
    writeFileSync(
      join(APP, "check-d1.ts"),
      `import { createD1, type LtxEdgeBinding } from "ltx-edge/d1";
declare const binding: LtxEdgeBinding;
const db = createD1(binding, "app");
const rows: Promise<{ results: { id: number }[] }> = db.prepare("SELECT id FROM users WHERE id = ?").bind(1).all<{ id: number }>();
void rows;
`,
    );
    writeFileSync(
      join(APP, "tsconfig.d1.json"),
      JSON.stringify({ compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, skipLibCheck: false, types: [] }, files: ["check-d1.ts"] }),
    );
    const t = await exec(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", join(APP, "tsconfig.d1.json")], APP);
    expect(t.code, t.stdout + t.stderr).toBe(0);
  });

  test("the package's types compile in a strict consumer", async () => {
    writeFileSync(
      join(APP, "check.ts"),
      `import { type RestoreResult, openReplica, restoreToFile } from "ltx-edge";
const replica = openReplica("./replica", { layout: "auto" });
const done: Promise<RestoreResult & { output: string; bytes: number }> = restoreToFile(replica, "out.db", { target: { kind: "txid", txid: 1 } });
void done;
`,
    );
    writeFileSync(
      join(APP, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, skipLibCheck: false, types: [] }, files: ["check.ts"] }),
    );
    const r = await exec(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", APP], APP);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
