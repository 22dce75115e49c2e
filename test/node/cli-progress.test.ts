/**
 * Progress on stderr for restore, verify, seed and import: bytes, rate and
 * ETA, redrawn on a terminal, a line per tenth when forced in a pipe
 * (`--progress`, `LTX_EDGE_PROGRESS=1`), nothing otherwise. The line format
 * and the ETA are checked with a fake clock; the commands run for real.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { Progress, REDRAW_MS, formatEta, progressMode } from "../../src/cli/progress.ts";
import { DirStore } from "../../src/replica/dir.ts";
import { type LtxFileInfo, Replica } from "../../src/replica/replica.ts";
import { resolvePlan } from "../../src/restore/restore.ts";
import { BIN, REPO, assertBuilt } from "./dist.ts";

const FIX = join(REPO, "test", "fixtures");
let TMP = "";
let seq = 0;
const tmp = (name: string) => join(TMP, `${++seq}-${name}`);

beforeAll(() => {
  assertBuilt();
  TMP = mkdtempSync(join(tmpdir(), "ltx-edge-progress-"));
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** A clock that moves only when told. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const MiB = 1024 * 1024;

describe("the progress line", () => {
  test("bytes, percentage, items, rate and ETA from the clock; 'done in' at the end", () => {
    const clock = fakeClock();
    const io = bufferIo({}, { stderrIsTTY: true, now: clock.now });
    const p = new Progress(io, "tty", "restoring");
    clock.advance(2000);
    p.update({ bytes: 4 * MiB, totalBytes: 10 * MiB, items: 1, totalItems: 3 });
    clock.advance(1000);
    p.update({ bytes: 10 * MiB, totalBytes: 10 * MiB, items: 3, totalItems: 3 });
    expect(io.err()).toBe(
      "\r\x1b[Krestoring: 4.00 MiB of 10.0 MiB (40%), 1/3 files, 2.00 MiB/s, ETA 3 s" +
        "\r\x1b[Krestoring: 10.0 MiB of 10.0 MiB (100%), 3/3 files, done in 3.0 s\n",
    );
  });

  test("no rate yet: ETA --; long ETAs in minutes and hours", () => {
    const clock = fakeClock();
    const p = new Progress(bufferIo({}, { now: clock.now }), "lines", "verifying");
    expect(p.line({ bytes: 0, totalBytes: 100 }, 0)).toBe("verifying: 0 B of 100 B (0%), ETA --");
    expect(formatEta(59.4)).toBe("59 s");
    expect(formatEta(125)).toBe("2m05s");
    expect(formatEta(3725)).toBe("1h02m");
  });

  test("a terminal is redrawn at most every REDRAW_MS, but the final state always shows", () => {
    const clock = fakeClock();
    const io = bufferIo({}, { stderrIsTTY: true, now: clock.now });
    const p = new Progress(io, "tty", "importing", "pages");
    p.update({ bytes: 1, totalBytes: 100 });
    clock.advance(REDRAW_MS - 1);
    p.update({ bytes: 2, totalBytes: 100 }); // too soon: skipped
    clock.advance(1);
    p.update({ bytes: 3, totalBytes: 100 });
    p.update({ bytes: 100, totalBytes: 100 }); // complete: drawn at once
    p.update({ bytes: 100, totalBytes: 100 }); // after the end: ignored
    const draws = io.err().split("\r\x1b[K").filter(Boolean);
    expect(draws.map((d) => d.replace(/,.*/s, ""))).toEqual(["importing: 1 B of 100 B (1%)", "importing: 3 B of 100 B (3%)", "importing: 100 B of 100 B (100%)"]);
    expect(io.err().endsWith("\n")).toBe(true);
  });

  test("forced in a pipe: one plain line per tenth of the bytes, no control characters", () => {
    const clock = fakeClock();
    const io = bufferIo({}, { now: clock.now });
    const p = new Progress(io, "lines", "seeding");
    for (let b = 1; b <= 1000; b++) {
      clock.advance(1);
      p.update({ bytes: b, totalBytes: 1000, items: b, totalItems: 1000 });
    }
    const lines = io.err().trimEnd().split("\n");
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe("seeding: 1 B of 1000 B (0%), 1/1000 files, 1000 B/s, ETA 1 s");
    expect(lines[10]).toBe("seeding: 1000 B of 1000 B (100%), 1000/1000 files, done in 1.0 s");
    expect(io.err()).not.toMatch(/[\r\x1b]/);
  });

  test("mode: a terminal shows it, a pipe only when forced; LTX_EDGE_PROGRESS=0 silences a terminal", () => {
    const mode = (tty: boolean, env: Record<string, string>, forced = false) => progressMode(bufferIo(env, { stderrIsTTY: tty }), forced);
    expect(mode(true, {})).toBe("tty");
    expect(mode(false, {})).toBe("off");
    expect(mode(false, {}, true)).toBe("lines");
    expect(mode(false, { LTX_EDGE_PROGRESS: "1" })).toBe("lines");
    expect(mode(true, { LTX_EDGE_PROGRESS: "0" })).toBe("off");
    expect(mode(true, { LTX_EDGE_PROGRESS: "0" }, true)).toBe("tty");
  });
});

async function run(args: string[], opts: { tty?: boolean; env?: Record<string, string> } = {}) {
  const io = bufferIo(opts.env ?? {}, { stderrIsTTY: opts.tty ?? false });
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** The final progress line: every byte, and the item count when there is one. */
const FINAL = (label: string, items = "") => new RegExp(`${label}: ([\\d.]+ [KM]?i?B) of \\1 \\(100%\\)${items}, done in [\\d.]+ m?s\\n$`);

describe("the commands", () => {
  test("restore: silent in a pipe; bytes and files on a terminal; lines with --progress", async () => {
    const dir = join(FIX, "multi-level");
    const quiet = await run(["restore", dir, tmp("q.db")]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    const tty = await run(["restore", dir, tmp("t.db")], { tty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).toMatch(/^\r\x1b\[Krestoring: /);
    expect(tty.stderr).toMatch(FINAL("restoring", ", 4/4 files"));
    const lines = await run(["restore", dir, tmp("p.db"), "--progress"]);
    expect(lines.stderr).not.toMatch(/[\r\x1b]/);
    expect(lines.stderr).toMatch(/^restoring: [\d.]+ [KM]iB of [\d.]+ MiB \(\d+%\), [0-4]\/4 files, /);
    expect(lines.stderr).toMatch(FINAL("restoring", ", 4/4 files"));
  });

  test("restore: a failure mid-way ends the progress line before the error message", async () => {
    const dir = tmp("broken");
    cpSync(join(FIX, "multi-level"), dir, { recursive: true });
    const { plan } = await resolvePlan(new Replica(new DirStore(dir), { prefix: "" }));
    expect(plan).toHaveLength(4);
    // The last file of the plan: the line is drawn (three files applied) when it fails.
    const last = join(dir, (plan[3] as LtxFileInfo).key);
    const bytes = readFileSync(last);
    bytes[150] = (bytes[150] ?? 0) ^ 0xff;
    writeFileSync(last, bytes);
    const r = await run(["restore", dir, tmp("f.db")], { tty: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^\r\x1b\[Krestoring: .*[0-3]\/4 files[^\n]*\nltx-edge: error: LTX_[A-Z_]+: [^\n]*\n$/s);
  });

  test("verify: bytes of every file", async () => {
    const r = await run(["verify", join(FIX, "multi-level"), "--progress"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(FINAL("verifying", ", 101/101 files"));
    expect(r.stdout).toMatch(/^OK: verified 101 files/);
  });

  test("import: bytes of the database read", async () => {
    const db = tmp("src.db");
    expect((await run(["restore", join(FIX, "pagesize-1024"), db])).code).toBe(0);
    const r = await run(["import", db, tmp("replica"), "--progress"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(FINAL("importing"));
  });

  test("seed: bytes and files copied into local R2", async () => {
    const r = await run(["seed", join(FIX, "small"), "--db", "p", "--persist-to", tmp("state"), "--progress"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(FINAL("seeding", ", 26/26 files"));
  });

  test("the real bin in a pipe: nothing unless LTX_EDGE_PROGRESS=1", async () => {
    const bin = (env: Record<string, string>) =>
      new Promise<{ code: number; stderr: string }>((done) => {
        execFile(process.execPath, [BIN, "restore", "-o", tmp("bin.db"), join(FIX, "small")], { cwd: REPO, env: { ...process.env, ...env } }, (err, _out, stderr) =>
          done({ code: err ? 1 : 0, stderr }),
        );
      });
    const plain = await bin({ LTX_EDGE_PROGRESS: "" });
    expect(plain.code).toBe(0);
    expect(plain.stderr).toBe("");
    const forced = await bin({ LTX_EDGE_PROGRESS: "1" });
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(FINAL("restoring", ", 5/5 files"));
  });
});
