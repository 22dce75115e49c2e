/**
 * `ltx-edge ltx` lists a replica's files per level as `litestream ltx` does:
 * level, min/max TXID, size, then the header time (created) and the store's
 * time (modified). Checked against the fixtures' manifests, which list every
 * file with its header timestamp.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { FileRow } from "../../src/cli/file-table.ts";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import type { FixtureFile, FixtureManifest } from "../support/fixtures.ts";
import { REPO } from "./dist.ts";

const FIX = join(REPO, "test", "fixtures");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(FIX, name, "manifest.json"), "utf8")) as FixtureManifest;

async function run(args: string[]) {
  const io = bufferIo();
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** Manifest files in the command's order: level, then TXIDs. */
function expected(files: readonly FixtureFile[]): FixtureFile[] {
  return [...files].sort((a, b) => a.level - b.level || a.min_txid.localeCompare(b.min_txid) || a.max_txid.localeCompare(b.max_txid));
}

describe.each(["small", "multi-level"])("ltx %s", (name) => {
  const dir = join(FIX, name);
  const files = expected(manifest(name).files ?? []);

  test("--json: every file with level, TXIDs, size and both times", async () => {
    const r = await run(["ltx", dir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as FileRow[];
    expect(files.length).toBeGreaterThan(0);
    expect(rows.map((x) => [x.key, x.level, x.min_txid, x.max_txid, x.size])).toEqual(files.map((f) => [f.path, f.level, f.min_txid, f.max_txid, f.size]));
    // The manifest's header times are to the second, as Go prints them.
    expect(rows.map((x) => x.created.replace(/\.\d{3}Z$/, "Z"))).toEqual(files.map((f) => f.timestamp));
    expect(rows.map((x) => x.name)).toEqual(files.map((f) => f.path.split("/").pop()));
    for (const x of rows) expect(Date.parse(x.modified)).toBe(Math.floor(statSync(join(dir, x.key)).mtimeMs));
  });

  test("the table: Litestream's columns, one line per file", async () => {
    const r = await run(["ltx", dir]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^level +min_txid +max_txid +size +created +modified$/);
    expect(lines.slice(1).map((l) => l.split(/ +/).slice(0, 5))).toEqual(files.map((f) => [String(f.level), f.min_txid, f.max_txid, String(f.size), f.timestamp]));
  });

  test("-level narrows to one level; all is the default", async () => {
    for (const level of [...new Set(files.map((f) => f.level))]) {
      const r = await run(["ltx", "-level", String(level), dir, "-json"]);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as FileRow[]).map((x) => x.key)).toEqual(files.filter((f) => f.level === level).map((f) => f.path));
    }
    const all = await run(["ltx", "-level=all", dir, "--json"]);
    expect((JSON.parse(all.stdout) as FileRow[]).length).toBe(files.length);
  });
});

test("a level with no files prints the header only; bad levels are refused", async () => {
  const dir = join(FIX, "small");
  const empty = await run(["ltx", dir, "-level", "5"]);
  expect(empty.code).toBe(0);
  expect(empty.stdout).toMatch(/^level +min_txid +max_txid +size +created +modified\n$/);
  for (const bad of ["10", "x", "-1"]) {
    const r = await run(["ltx", dir, `-level=${bad}`]);
    expect(r.code, bad).toBe(1);
    expect(r.stderr).toMatch(/--level must be 0-9 or all/);
  }
  const missing = await run(["ltx", join(FIX, "no-such")]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/CLI_NOT_FOUND/);
});
