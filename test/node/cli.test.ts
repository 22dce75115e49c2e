/**
 * The ltx-edge CLI: the real bin as a child process for a representative set
 * (help, exit codes, restore, errors), everything else in-process through
 * `main(argv, io)`. Restored bytes are compared with the fixtures' manifests.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { bufferIo } from "../../src/cli/io.ts";
import { restoreCommand } from "../../src/cli/restore.ts";
import type { ReplicaInfo } from "../../src/cli/info.ts";
import type { VerifyReport } from "../../src/cli/verify.ts";
import { decodeHeader } from "../../src/ltx/header.ts";
import { formatTxid } from "../../src/ltx/txid.ts";
import { S3Store } from "../../src/replica/s3.ts";
import { FIXTURES, type FixtureManifest, type FixtureState } from "../support/fixtures.ts";
import { BIN, REPO, assertBuilt } from "./dist.ts";

const FIX = join(REPO, "test", "fixtures");

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(FIX, name, "manifest.json"), "utf8")) as FixtureManifest;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real executable. */
function runBin(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `main` in-process with captured output. */
async function run(args: string[], env: Record<string, string> = {}, opts: { tty?: boolean } = {}): Promise<Run> {
  const io = bufferIo(env, { stderrIsTTY: opts.tty ?? false });
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** A user error: exactly one `ltx-edge: error:` line, no stack trace. */
function expectOneErrorLine(r: Run, pattern: RegExp): void {
  expect(r.stderr).toMatch(/^ltx-edge: error: .+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

let TMP = "";
let seq = 0;
/** A fresh path under this file's temp dir. */
const tmp = (name: string) => join(TMP, `${++seq}-${name}`);

beforeAll(() => {
  // The real bin runs dist/: never test stale output.
  assertBuilt();
  TMP = mkdtempSync(join(tmpdir(), "ltx-edge-cli-"));
});
afterAll(() => {
  rmSync(TMP, { recursive: true, force: true });
});

interface Case {
  label: string;
  dir: string;
  finalTxid: number;
  finalSha: string;
  restorable: FixtureState[];
  unrestorable: FixtureState[];
}

function fail(message: string): never {
  throw new Error(message);
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const name of FIXTURES) {
    const m = manifest(name);
    const final = m.all_states.find((s) => s.txid === m.final_txid);
    out.push({
      label: name,
      dir: join(FIX, name),
      finalTxid: m.final_txid_int,
      finalSha: final?.sha256 ?? fail(`${name}: no state for the final TXID`),
      restorable: m.all_states.filter((s) => s.restorable === true),
      unrestorable: m.all_states.filter((s) => s.restorable === false),
    });
  }
  const poll = manifest("poll");
  for (const state of ["before", "after"] as const) {
    const finalTxid = Number.parseInt((state === "before" ? poll.before_final_txid : poll.after_final_txid) ?? "", 16);
    const key = state === "before" ? "restorable_before" : "restorable_after";
    out.push({
      label: `poll/${state}`,
      dir: join(FIX, "poll", state),
      finalTxid,
      finalSha: poll.all_states.find((s) => s.txid_int === finalTxid)?.sha256 ?? fail(`poll/${state}: no state for the final TXID`),
      restorable: poll.all_states.filter((s) => s[key] === true),
      unrestorable: poll.all_states.filter((s) => s[key] === false),
    });
  }
  return out;
}

/** First, middle and last restorable states. */
function sample(states: FixtureState[]): FixtureState[] {
  const picks = [states[0], states[Math.floor(states.length / 2)], states[states.length - 1]];
  return [...new Set(picks.filter((s): s is FixtureState => s !== undefined))];
}

/** The three TXID notations the CLI accepts. */
const notations = (txid: number) => [formatTxid(txid), `0x${txid.toString(16)}`, String(txid)];

describe.each(cases())("fixture $label", (c) => {
  test("restores the final TXID byte-identical", async () => {
    const out = tmp("final.db");
    const r = await run(["restore", c.dir, out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`TXID ${formatTxid(c.finalTxid)}`);
    expect(sha256(readFileSync(out))).toBe(c.finalSha);
    expect(existsSync(`${out}.tmp`)).toBe(false);
  });

  test("restores sampled restorable TXIDs given in every notation", async () => {
    expect(c.restorable.length).toBeGreaterThan(0);
    for (const s of sample(c.restorable)) {
      for (const txid of notations(s.txid_int)) {
        const out = tmp("at.db");
        const r = await run(["restore", c.dir, out, "--txid", txid]);
        expect(r.code, `${txid}: ${r.stderr}`).toBe(0);
        expect(sha256(readFileSync(out)), `txid ${txid}`).toBe(s.sha256);
      }
    }
  });

  test("non-restorable TXIDs exit 1 with a clear message and write nothing", async () => {
    // The manifest's unrestorable states (first, middle, last), and always the TXID after the final one.
    const targets = [...sample(c.unrestorable).map((s) => s.txid), formatTxid(c.finalTxid + 1)];
    expect(targets.length).toBe(Math.min(3, c.unrestorable.length) + 1);
    for (const txid of targets) {
      const out = tmp("nope.db");
      const r = await run(["restore", c.dir, out, "--txid", txid]);
      expect(r.code, txid).toBe(1);
      expectOneErrorLine(r, new RegExp(`PLAN_TXID_NOT_AVAILABLE: TXID ${txid} is not restorable`));
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.tmp`)).toBe(false);
    }
  });

  test("info --json reports the restorable range", async () => {
    const r = await run(["info", c.dir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as ReplicaInfo;
    expect(info.layout).toBe("file");
    expect(info.newestTxid).toBe(formatTxid(c.finalTxid));
    expect(info.gap).toBeNull();
    expect(info.oldestTxid).toBe(formatTxid(Math.min(...c.restorable.map((s) => s.txid_int))));
  });

  test("verify passes", async () => {
    const r = await run(["verify", c.dir]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^OK: verified \d+ files/m);
    expect(r.stdout).not.toContain("FAIL");
  });
});

describe("the real executable", () => {
  test("restores, refuses to overwrite without --force, and replaces with it", async () => {
    const m = manifest("small");
    const out = tmp("bin.db");
    const first = await runBin(["restore", join(FIX, "small"), out]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^restored .*: TXID 0000000000000015 .*30 pages of 4096 bytes \(122880 bytes.*from 5 files in/);
    expect(sha256(readFileSync(out))).toBe(m.all_states.find((s) => s.txid === m.final_txid)?.sha256);

    const early = m.all_states[0] as FixtureState;
    const refused = await runBin(["restore", join(FIX, "small"), out, "--txid", early.txid]);
    expect(refused.code).toBe(1);
    expectOneErrorLine(refused, /CLI_OUTPUT_EXISTS: .* already exists; pass --force/);
    expect(sha256(readFileSync(out))).toBe(m.all_states.find((s) => s.txid === m.final_txid)?.sha256);

    rmSync(out);
    writeFileSync(`${out}-wal`, "stale");
    const walLeft = await runBin(["restore", join(FIX, "small"), out]);
    expect(walLeft.code).toBe(1);
    expectOneErrorLine(walLeft, /CLI_OUTPUT_EXISTS: .*bin\.db-wal already exists/);
    expect(existsSync(out)).toBe(false);
    const forced = await runBin(["restore", join(FIX, "small"), out, "--txid", early.txid, "--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(early.sha256);
    expect(existsSync(`${out}-wal`)).toBe(false);
    const replaced = await run(["restore", join(FIX, "small"), out, "--force"]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(m.all_states.find((s) => s.txid === m.final_txid)?.sha256);
  });

  test("user errors are one line without a stack trace, exit 1; --debug adds the trace", async () => {
    const r = await runBin(["restore", join(FIX, "multi-level"), tmp("x.db"), "--txid", "0x0a"]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r, /^ltx-edge: error: PLAN_TXID_NOT_AVAILABLE: TXID 000000000000000a is not restorable/);
    const missing = await runBin(["info", join(TMP, "no-such-replica")]);
    expect(missing.code).toBe(1);
    expectOneErrorLine(missing, /CLI_NOT_FOUND: replica directory .*no-such-replica does not exist/);
    const debug = await runBin(["info", join(TMP, "no-such-replica"), "--debug"]);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^\s+at /m);
  });

  test("--help on every command exits 0; unknown commands and flags exit 2", async () => {
    for (const args of [["--help"], ["-h"], ["restore", "--help"], ["info", "-h"], ["verify", "--help"], ["import", "--help"]]) {
      const r = await runBin(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stdout).toMatch(/^Usage: ltx-edge /);
      expect(r.stderr).toBe("");
    }
    const unknown = await runBin(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^ltx-edge: error: CLI_UNKNOWN_COMMAND: unknown command "frobnicate"\n/);
    const flag = await runBin(["info", join(FIX, "small"), "--frob"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("unknown flag --frob");
  });

  test("info --json and verify of a corrupt copy", async () => {
    const info = await runBin(["info", join(FIX, "small"), "--json"]);
    expect(info.code, info.stderr).toBe(0);
    expect((JSON.parse(info.stdout) as ReplicaInfo).newestTxid).toBe("0000000000000015");
    const dir = copyFixture("small");
    const key = "ltx/0/0000000000000003-0000000000000003.ltx";
    flipByte(join(dir, key), 120);
    const r = await runBin(["verify", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL ${key}: `);
    expect(r.stderr).toBe("");
  });
});

describe("restore details", () => {
  test("--timestamp picks the newest state whose header time is at or before it", async () => {
    const dir = join(FIX, "small");
    const m = manifest("small");
    const l0 = readdirSync(join(dir, "ltx", "0")).map((name) => {
      const h = decodeHeader(readFileSync(join(dir, "ltx", "0", name)).subarray(0, 100), name);
      return { txid: h.maxTxid, ts: h.timestamp };
    });
    expect(l0.length).toBe(m.files?.filter((f) => f.level === 0).length);
    expect(l0.length).toBeGreaterThan(12);
    const picks = [l0[0], l0[7], l0[12], l0[l0.length - 1]];
    for (const pick of picks) {
      if (!pick) throw new Error("fewer L0 files than picked");
      for (const target of [pick.ts, pick.ts + 1]) {
        const expected = Math.max(...l0.filter((f) => f.ts <= target).map((f) => f.txid));
        const out = tmp("ts.db");
        const r = await run(["restore", dir, out, "--timestamp", new Date(target).toISOString()]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`TXID ${formatTxid(expected)}`);
        expect(sha256(readFileSync(out))).toBe(m.all_states.find((s) => s.txid_int === expected)?.sha256);
      }
    }
    const first = Math.min(...l0.map((f) => f.ts));
    const early = await run(["restore", dir, tmp("early.db"), "--timestamp", new Date(first - 1000).toISOString()]);
    expect(early.code).toBe(1);
    expectOneErrorLine(early, /PLAN_TIME_NOT_AVAILABLE/);
  });

  test("the in-process API returns the summary", async () => {
    const out = tmp("api.db");
    const s = await restoreCommand(
      { replica: `file://${join(FIX, "pagesize-65536")}`, output: out, target: { kind: "txid", txid: 3 }, replicaOptions: { layout: "auto" } },
      bufferIo(),
    );
    expect(s.txid).toBe(3);
    expect(s.pageSize).toBe(65536);
    expect(s.bytes).toBe(statSync(out).size);
    expect(sha256(readFileSync(out))).toBe(manifest("pagesize-65536").all_states.find((x) => x.txid_int === 3)?.sha256);
  });

  test("a restore that fails midway leaves neither the output nor a temp file, and keeps an old output", async () => {
    const dir = copyFixture("small");
    // An L0 file of the latest plan, applied after the snapshot and compactions.
    flipByte(join(dir, "ltx/0/0000000000000015-0000000000000015.ltx"), 130);
    const out = tmp("fail.db");
    const r = await run(["restore", dir, out]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r, /LTX_(CHECKSUM_MISMATCH|BAD_LZ4|BAD_FRAME).*0000000000000015-0000000000000015\.ltx/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.tmp`)).toBe(false);
    writeFileSync(out, "keep me");
    const forced = await run(["restore", dir, out, "--force"]);
    expect(forced.code).toBe(1);
    expect(readFileSync(out, "utf8")).toBe("keep me");
    expect(existsSync(`${out}.tmp`)).toBe(false);
  });

  test("argument errors", async () => {
    const dir = join(FIX, "small");
    const creds = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
    const cases: [string[], number, RegExp, Record<string, string>?][] = [
      [[], 2, /Usage: ltx-edge/],
      [["restore", dir], 1, /missing the output: -o <output\.db>/],
      [["restore", dir, tmp("a.db"), "extra"], 1, /unexpected argument "extra"/],
      [["restore", dir, tmp("a.db"), "--txid", "12x"], 1, /--txid must be 16 hex digits/],
      [["restore", dir, tmp("a.db"), "--txid", "0"], 1, /--txid must be/],
      [["restore", dir, tmp("a.db"), "--txid"], 1, /--txid needs a value/],
      [["restore", dir, tmp("a.db"), "--txid", "1", "--timestamp", "2026-01-01T00:00:00Z"], 1, /not both/],
      [["restore", dir, tmp("a.db"), "--timestamp", "yesterday"], 1, /RFC 3339/],
      [["restore", dir, tmp("a.db"), "--timestamp", "2026-01-01T00:00:00"], 1, /with a zone/],
      [["restore", dir, tmp("a.db"), "--layout", "gcs"], 1, /--layout must be/],
      [["restore", dir, join(TMP, "missing-dir", "a.db")], 1, /CLI_NOT_FOUND: output directory .* does not exist/],
      [["restore", "gs://bucket/x", tmp("a.db")], 1, /unsupported replica URL scheme gs:\/\//],
      [["restore", "s3://", tmp("a.db")], 1, /has no bucket/],
      [["info", "s3://bucket/prefix"], 1, /CLI_S3_CONFIG: S3 credentials missing/],
      [["info", "s3://bucket/prefix", "--endpoint", "ftp://x"], 1, /CLI_S3_CONFIG: S3 endpoint ftp:\/\/x must be http/, creds],
      [["info", join(dir, "manifest.json")], 1, /is not a directory/],
      [["info", TMP], 1, /CLI_NO_FILES: no LTX files in file:\/\//],
      [["info", dir, "--layout", "s3"], 1, /CLI_NO_FILES: .*<%04x level>/],
      [["info", dir, "-x"], 2, /unknown flag -x/],
      [["info", dir, "--json=yes"], 1, /--json takes no value/],
      [["info", dir, "--json", "--json"], 1, /more than once/],
      [["--frob"], 2, /unknown flag --frob/],
      [["help", "nope"], 2, /unknown command "nope"/],
      [["constructor"], 2, /unknown command "constructor"/],
      [["help", "toString"], 2, /unknown command "toString"/],
    ];
    for (const [args, code, pattern, env] of cases) {
      const r = await run(args, env);
      expect(r.code, args.join(" ")).toBe(code);
      expect(r.stderr, args.join(" ")).toMatch(pattern);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  test("help, version", async () => {
    for (const args of [["help"], ["help", "restore"], ["restore", "-h"], ["--version"]]) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.stderr).toBe("");
    }
    expect((await run(["info", "--help"])).stdout).toContain("oldestTxid");
    expect((await run(["--version"])).stdout).toMatch(/^ltx-edge \d+\.\d+\.\d+/);
  });
});

/** Copies a fixture into the temp dir (fixtures are never modified). */
function copyFixture(name: string): string {
  const dir = tmp(name);
  cpSync(join(FIX, name), dir, { recursive: true });
  return dir;
}

function flipByte(path: string, offset: number): void {
  const b = readFileSync(path);
  b[offset] = (b[offset] ?? 0) ^ 0xff;
  writeFileSync(path, b);
}

describe("verify failures", () => {
  test("a flipped byte in a page frame names the file", async () => {
    const dir = copyFixture("multi-level");
    const key = readdirSync(join(dir, "ltx", "9")).map((n) => `ltx/9/${n}`)[0] as string;
    flipByte(join(dir, key), 200);
    const r = await run(["verify", dir]);
    expect(r.code).toBe(1);
    const fails = r.stdout.split("\n").filter((l) => l.startsWith("FAIL "));
    expect(fails).toHaveLength(1);
    expect(fails[0]).toMatch(new RegExp(`^FAIL ${key}: LTX_[A-Z_]+`));
    expect(r.stdout).toMatch(/^FAILED: 1 problem in 1 file after checking 101 files/m);
    const json = JSON.parse((await run(["verify", dir, "--json"])).stdout) as VerifyReport;
    expect(json.ok).toBe(false);
    expect(json.problems.map((p) => p.file)).toEqual([key]);
  });

  test("a truncated file names the file", async () => {
    const dir = copyFixture("small");
    const key = "ltx/1/0000000000000001-0000000000000009.ltx";
    truncateSync(join(dir, key), statSync(join(dir, key)).size - 7);
    const r = await run(["verify", dir, "--json"]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as VerifyReport;
    expect(json.problems.length).toBeGreaterThanOrEqual(1);
    expect(json.problems.every((p) => p.file === key)).toBe(true);
  });

  test("a gap in the latest plan is a problem, and info reports it without failing", async () => {
    const dir = copyFixture("small");
    // TXID 0x14 exists only as an L0 file: removing it splits the chain.
    rmSync(join(dir, "ltx/0/0000000000000014-0000000000000014.ltx"));
    const v = await run(["verify", dir]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^FAIL plan: PLAN_GAP: non-contiguous replica: missing TXIDs 0000000000000014-0000000000000014/m);
    const i = await run(["info", dir, "--json"]);
    expect(i.code).toBe(0);
    const info = JSON.parse(i.stdout) as ReplicaInfo;
    expect(info.gap?.code).toBe("PLAN_GAP");
    expect(info.newestTxid).toBe("0000000000000013");
    expect(info.maxTxid).toBe("0000000000000015");
    const text = await run(["info", dir]);
    expect(text.stdout).toMatch(/^gap: +PLAN_GAP: non-contiguous replica/m);
  });
});

describe("import", () => {
  /** Restores a fixture with the CLI: the result is a real SQLite database file. */
  async function sqliteFile(fixture: string): Promise<{ path: string; sha: string }> {
    const path = tmp(`${fixture}.db`);
    const r = await run(["restore", join(FIX, fixture), path]);
    expect(r.code, r.stderr).toBe(0);
    return { path, sha: sha256(readFileSync(path)) };
  }

  test.each(["small", "pagesize-1024", "pagesize-65536"])("round-trips %s through import and restore", async (fixture) => {
    const db = await sqliteFile(fixture);
    const dir = tmp("replica");
    const r = await run(["import", db.path, dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported .* as snapshot TXID 0000000000000001: /);
    expect(readdirSync(join(dir, "ltx", "9"))).toEqual(["0000000000000001-0000000000000001.ltx"]);
    const out = tmp("back.db");
    expect((await run(["restore", dir, out])).code).toBe(0);
    expect(sha256(readFileSync(out))).toBe(db.sha);
    expect((await run(["verify", dir])).code).toBe(0);
  });

  test("--layout s3 and --txid", async () => {
    const db = await sqliteFile("multi-level");
    const dir = tmp("replica-s3");
    const r = await runBin(["import", db.path, dir, "--layout", "s3", "--txid", "0x162"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(dir, "0009"))).toEqual(["0000000000000001-0000000000000162.ltx"]);
    const info = JSON.parse((await run(["info", dir, "--json"])).stdout) as ReplicaInfo;
    expect(info.layout).toBe("s3");
    expect(info.newestTxid).toBe("0000000000000162");
    expect(info.oldestTxid).toBe("0000000000000162");
    const out = tmp("back.db");
    const back = await run(["restore", dir, out, "--txid", "354"]);
    expect(back.code, back.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(db.sha);
  });

  test("refuses a database with a non-empty -wal, accepts an empty one", async () => {
    const db = await sqliteFile("small");
    writeFileSync(`${db.path}-wal`, "not empty");
    const dir = tmp("replica");
    const r = await run(["import", db.path, dir]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r, /CLI_WAL_NOT_EMPTY: .*-wal is not empty.*checkpoint/);
    expect(existsSync(dir)).toBe(false);
    writeFileSync(`${db.path}-wal`, "");
    expect((await run(["import", db.path, dir])).code).toBe(0);
  });

  test("refuses a non-empty directory without --force; --force replaces its LTX files", async () => {
    const small = await sqliteFile("small");
    const other = await sqliteFile("pagesize-1024");
    const dir = copyFixture("small");
    const refused = await run(["import", other.path, dir]);
    expect(refused.code).toBe(1);
    expectOneErrorLine(refused, /CLI_REPLICA_NOT_EMPTY/);
    const forced = await run(["import", other.path, dir, "--force", "--txid", "5"]);
    expect(forced.code, forced.stderr).toBe(0);
    const ltx = listRel(dir).filter((p) => p.endsWith(".ltx"));
    expect(ltx).toEqual(["ltx/9/0000000000000001-0000000000000005.ltx"]);
    const out = tmp("back.db");
    expect((await run(["restore", dir, out])).code).toBe(0);
    expect(sha256(readFileSync(out))).toBe(other.sha);
    expect(sha256(readFileSync(out))).not.toBe(small.sha);
  });

  test("refuses files that are not SQLite databases", async () => {
    const notDb = tmp("not.db");
    writeFileSync(notDb, "hello world, this is not a database".repeat(10));
    const r = await run(["import", notDb, tmp("r")]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r, /CLI_NOT_SQLITE: .* is not a SQLite database/);
    const db = await sqliteFile("small");
    const ragged = tmp("ragged.db");
    writeFileSync(ragged, readFileSync(db.path).subarray(0, 4096 * 3 + 10));
    const r2 = await run(["import", ragged, tmp("r")]);
    expect(r2.code).toBe(1);
    expectOneErrorLine(r2, /not a whole number of 4096-byte pages/);
    const missing = await run(["import", join(TMP, "nope.db"), tmp("r")]);
    expectOneErrorLine(missing, /CLI_NOT_FOUND/);
    const s3 = await run(["import", db.path, "s3://bucket/x"]);
    expectOneErrorLine(s3, /local directory/);
  });
});

function listRel(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

describe("s3:// replicas", () => {
  const s3 = inject("s3");
  test("info, verify and restore read an S3-layout replica from an S3 endpoint", async () => {
    const store = new S3Store({ ...s3, forcePathStyle: true });
    const prefix = `cli-${process.pid}-${Date.now()}/small`;
    const src = join(FIX, "small");
    for (const rel of listRel(src).filter((p) => p.endsWith(".ltx"))) {
      const [, level, name] = rel.split("/") as [string, string, string];
      await store.put(`${prefix}/${Number(level).toString(16).padStart(4, "0")}/${name}`, readFileSync(join(src, rel)));
    }
    const url = `s3://${s3.bucket}/${prefix}`;
    const env = {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };
    const info = await run(["info", url, "--json"], env);
    expect(info.code, info.stderr).toBe(0);
    const parsed = JSON.parse(info.stdout) as ReplicaInfo;
    expect(parsed.layout).toBe("s3");
    expect(parsed.newestTxid).toBe("0000000000000015");
    expect((await run(["verify", url], env)).code).toBe(0);
    const out = tmp("s3.db");
    const flags = ["--endpoint", s3.endpoint, "--region", s3.region, "--access-key-id", s3.accessKeyId, "--secret-access-key", s3.secretAccessKey, "--path-style"];
    const r = await runBin(["restore", url, out, "--txid", "0x0a", ...flags]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(manifest("small").all_states.find((s) => s.txid_int === 10)?.sha256);
    const wrong = await run(["info", url, "--json"], { ...env, AWS_SECRET_ACCESS_KEY: "wrong", AWS_ACCESS_KEY_ID: "nobody" });
    expect(wrong.code).toBe(1);
    expectOneErrorLine(wrong, /STORAGE_ERROR/);
  });
});
