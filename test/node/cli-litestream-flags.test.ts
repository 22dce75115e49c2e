/**
 * Litestream's command lines work as typed: Go-style flags (`-flag`,
 * `--flag`, `-flag value`, `-flag=value`, `-bool=false`), `restore -o out.db
 * -txid … <replica>`, `-timestamp`, `-if-db-not-exists`,
 * `-if-replica-exists`, `-dry-run`, `-json`; Litestream flags ltx-edge does
 * not implement are refused with the reason. Restored bytes are checked
 * against the fixtures' manifests.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import type { DryRunPlan } from "../../src/cli/restore-dry-run.ts";
import { parseTimestamp } from "../../src/cli/target.ts";
import { formatTxid } from "../../src/ltx/txid.ts";
import { DirStore } from "../../src/replica/dir.ts";
import { Replica } from "../../src/replica/replica.ts";
import { resolvePlan } from "../../src/restore/restore.ts";
import type { FixtureManifest, FixtureState } from "../support/fixtures.ts";
import { REPO } from "./dist.ts";

const FIX = join(REPO, "test", "fixtures");
const SMALL = join(FIX, "small");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(FIX, name, "manifest.json"), "utf8")) as FixtureManifest;
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const stateOf = (m: FixtureManifest, txid: number): FixtureState => {
  const s = m.all_states.find((x) => x.txid_int === txid);
  if (!s) throw new Error(`no state ${txid}`);
  return s;
};

let TMP = "";
let seq = 0;
const tmp = (name: string) => join(TMP, `${++seq}-${name}`);
beforeAll(() => {
  TMP = mkdtempSync(join(tmpdir(), "ltx-edge-litestream-"));
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = bufferIo();
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

describe("restore as litestream restore", () => {
  test("-o and -txid in every Go spelling, flags before or after the replica", async () => {
    const m = manifest("small");
    const s = stateOf(m, 10);
    const hex = formatTxid(10);
    const spellings = (out: string): string[][] => [
      ["restore", "-o", out, "-txid", hex, SMALL],
      ["restore", `-o=${out}`, `-txid=${hex}`, SMALL],
      ["restore", "--o", out, "--txid", hex, SMALL],
      ["restore", SMALL, "-txid", hex, "-o", out],
      ["restore", "--output", out, `--txid=${hex}`, "--", SMALL],
    ];
    for (let k = 0; k < spellings("").length; k++) {
      const out = tmp("r.db");
      const line = spellings(out)[k] as string[];
      const r = await run(line);
      expect(r.code, `${line.join(" ")}: ${r.stderr}`).toBe(0);
      expect(sha256(out), line.join(" ")).toBe(s.sha256);
    }
  });

  test("-timestamp: RFC 3339 as Litestream takes it, and relative to now", async () => {
    const m = manifest("small");
    const final = stateOf(m, m.final_txid_int);
    const out = tmp("ts.db");
    // The fixtures were written long before now: a second ago is after every file.
    const r = await run(["restore", "-o", out, "-timestamp", "-1s", SMALL]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(out)).toBe(final.sha256);
    const ages = await run(["restore", "-o", tmp("old.db"), "-timestamp=-100000d", SMALL]);
    expect(ages.code).toBe(1);
    expect(ages.stderr).toMatch(/PLAN_TIME_NOT_AVAILABLE/);
    const iso = await run(["restore", "-o", tmp("iso.db"), "-timestamp", "2000-01-01T00:00:00Z", SMALL]);
    expect(iso.stderr).toMatch(/PLAN_TIME_NOT_AVAILABLE: no restorable state at or before 2000-01-01T00:00:00\.000Z/);
    expect(parseTimestamp("-1h30m", 10_000_000)).toBe(10_000_000 - 5_400_000);
    expect(parseTimestamp("-2h", 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseTimestamp("-5m", 10_000_000)).toBe(10_000_000 - 300_000);
    expect(() => parseTimestamp("5m")).toThrow(/RFC 3339 .* or relative to now/);
  });

  test("-if-db-not-exists: an existing output is kept and the exit code is 0", async () => {
    const out = tmp("exists.db");
    writeFileSync(out, "keep me");
    const r = await run(["restore", "-if-db-not-exists", "-o", out, SMALL]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/already exists, skipping the restore \(-if-db-not-exists\)/);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    const fresh = tmp("fresh.db");
    const made = await run(["restore", "-if-db-not-exists", "-o", fresh, SMALL]);
    expect(made.code, made.stderr).toBe(0);
    expect(sha256(fresh)).toBe(stateOf(manifest("small"), 0x15).sha256);
  });

  test("-if-replica-exists: nothing to restore exits 0 and writes nothing; other errors still fail", async () => {
    const empty = tmp("empty-replica");
    mkdirSync(empty);
    const past = formatTxid(manifest("small").final_txid_int + 1);
    const lines = [
      ["-o", tmp("a.db"), join(TMP, "missing-replica")],
      ["-o", tmp("b.db"), empty],
      ["-o", tmp("c.db"), "-txid", past, SMALL],
      ["-o", tmp("d.db"), "-timestamp", "2000-01-01T00:00:00Z", SMALL],
    ];
    for (const line of lines) {
      const without = await run(["restore", ...line]);
      expect(without.code, line.join(" ")).toBe(1);
      const r = await run(["restore", "-if-replica-exists", ...line]);
      expect(r.code, `${line.join(" ")}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^nothing to restore, skipping \(-if-replica-exists\): [A-Z_]+: /);
      expect(existsSync(line[1] as string)).toBe(false);
    }
    const badOutput = await run(["restore", "-if-replica-exists", "-o", join(TMP, "no-dir", "x.db"), SMALL]);
    expect(badOutput.code).toBe(1);
    expect(badOutput.stderr).toMatch(/CLI_NOT_FOUND: output directory/);
  });

  test("-dry-run prints the plan and writes nothing; -json gives Litestream's field names", async () => {
    const out = tmp("dry.db");
    const text = await run(["restore", "-dry-run", "-o", out, "-txid", "0x0a", SMALL]);
    expect(text.code, text.stderr).toBe(0);
    expect(existsSync(out)).toBe(false);
    expect(text.stdout).toMatch(/^Restore plan:\n {2}source: .*small\n {2}target: .*dry\.db\n {2}replica: file:\/\/.*\n {2}txid range: 0000000000000001 - 000000000000000a\n/);
    expect(text.stdout).toMatch(/\nFiles to fetch:\nlevel +file +min_txid +max_txid +size +created +modified\n/);
    const json = await run(["restore", "-dry-run", "-json", "-txid", "0x0a", SMALL]);
    const plan = JSON.parse(json.stdout) as DryRunPlan;
    const want = (await resolvePlan(new Replica(new DirStore(SMALL), { prefix: "" }), { kind: "txid", txid: 10 })).plan;
    expect(plan.files.map((f) => f.key)).toEqual(want.map((f) => f.key));
    expect(plan.files.map((f) => [f.level, f.min_txid, f.max_txid, f.size])).toEqual(want.map((f) => [f.level, formatTxid(f.minTxid), formatTxid(f.maxTxid), f.size]));
    expect(plan.target_path).toBeNull();
    expect(plan.max_txid).toBe("000000000000000a");
    expect(text.stdout.trimEnd().split("\n").length).toBe(9 + want.length);
  });

  test("-json prints the summary with Litestream's db_path, txid, duration_ms", async () => {
    const out = tmp("json.db");
    const r = await run(["restore", "-json", "-o", out, SMALL]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ db_path: out, txid: "0000000000000015", page_size: 4096, pages: 30, bytes: 122880, files: 5 });
    expect(typeof j["duration_ms"]).toBe("number");
    expect(j["replica"]).toMatch(/^file:\/\//);
  });

  test("-force and booleans as -flag=true / -flag=false", async () => {
    const out = tmp("bool.db");
    writeFileSync(out, "old");
    const off = await run(["restore", "-force=false", "-o", out, SMALL]);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/CLI_OUTPUT_EXISTS/);
    const on = await run(["restore", "-force=true", "-o", out, SMALL]);
    expect(on.code, on.stderr).toBe(0);
    expect(sha256(out)).toBe(stateOf(manifest("small"), 0x15).sha256);
    const bad = await run(["restore", "-force=yes", "-o", tmp("y.db"), SMALL]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/-force takes no value \(or =true \/ =false\)/);
  });
});

describe("command-line errors", () => {
  test("Litestream flags ltx-edge does not implement say why (exit 2)", async () => {
    for (const [flag, why] of [
      ["-f", /follow mode is not supported/],
      ["-config=/etc/litestream.yml", /not through litestream\.yml/],
      ["-parallelism", /fixed fan-out/],
      ["-integrity-check", /PRAGMA integrity_check/],
    ] as const) {
      const r = await run(["restore", flag, "-o", tmp("u.db"), SMALL]);
      expect(r.code, flag).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`restore: ${flag.replace(/=.*/, "")} is a Litestream flag ltx-edge does not support: `));
      expect(r.stderr).toMatch(why);
    }
  });

  test("the output: -o or the second argument, exactly once; a flag is not a value", async () => {
    const cases: [string[], RegExp][] = [
      [["restore", SMALL], /missing the output: -o <output\.db>/],
      [["restore", "-o", tmp("a.db"), SMALL, tmp("b.db")], /-o PATH or after <replica>, not both/],
      [["restore", "-o", "-txid", "5", SMALL], /-o needs a value PATH/],
      [["restore", "-o=", SMALL], /output path is empty/],
      [["restore", "-o", tmp("c.db"), SMALL, "extra", "more"], /unexpected argument "more"/],
      [["restore", "-o", tmp("d.db"), "-txid", "5", "-timestamp", "-1h", SMALL], /not both/],
      [["restore", "-o", tmp("d.db"), "---txid", "5", SMALL], /unknown flag ---txid/],
    ];
    for (const [args, pattern] of cases) {
      const r = await run(args);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr, args.join(" ")).toMatch(pattern);
    }
  });

  test("help and version in Go spellings", async () => {
    for (const args of [["-help"], ["-h"], ["restore", "-help"], ["ltx", "-h"], ["help", "ltx"]]) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/^Usage: ltx-edge /);
    }
    const restoreHelp = (await run(["restore", "-h"])).stdout;
    expect(restoreHelp).toMatch(/^Usage: ltx-edge restore \[flags\] -o <output\.db> <replica>\n {7}ltx-edge restore <replica> <output\.db> \[flags\]\n/);
    expect(restoreHelp).toContain("-o, --output PATH");
    for (const args of [["-version"], ["--version"], ["version"]]) {
      const r = await run(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ltx-edge \d+\.\d+\.\d+\n$/);
    }
    const debug = await run(["-debug", "info", join(TMP, "nope")]);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^\s+at /m);
  });
});
