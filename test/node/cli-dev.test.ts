/**
 * `ltx-edge seed` and `ltx-edge dev`: seeds into temporary wrangler persist
 * dirs and reads them back through a fresh Miniflare (and once through
 * wrangler's own `r2 object get --local`), so the on-disk state is checked to
 * be what `wrangler dev` reads; the process-group handling of `dev`; and one
 * end-to-end run of the real `ltx-edge dev` against a temporary persist dir.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, test, vi } from "vitest";
import { DEFAULT_PORT, GUARD_SCRIPT, checkPortFree, curlExamples, parsePort, runInGroup } from "../../src/cli/dev.ts";
import { bufferIo } from "../../src/cli/io.ts";
import { main } from "../../src/cli/main.ts";
import { seedKey } from "../../src/cli/seed.ts";
import { locateProject, parseR2Buckets, persistDir, readBucketName } from "../../src/cli/wrangler-config.ts";
import { parseLtxKey } from "../../src/replica/replica.ts";
import { S3Store } from "../../src/replica/s3.ts";
import type { FixtureManifest } from "../support/fixtures.ts";
import { waitUntil, waitPast } from "../support/wait.ts";
import { BIN, REPO, assertBuilt } from "./dist.ts";

const FIX = join(REPO, "test", "fixtures");
const BUCKET = readBucketName(locateProject(REPO));

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main` in-process (cwd is the repository, so wrangler.toml is found). */
async function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const io = bufferIo(env);
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

const tmpRoots: string[] = [];
function tmp(label: string): string {
  const d = mkdtempSync(join(tmpdir(), `ltx-edge-${label}-`));
  tmpRoots.push(d);
  return d;
}
// The real bin runs dist/: never test stale output.
beforeAll(assertBuilt);
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** Every file under a directory, as `/`-separated relative paths. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const go = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) go(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join("/"));
    }
  };
  go(dir);
  return out.sort();
}

/** Expected S3-layout key → sha256 for a fixture replica in either layout. */
function expectedObjects(replicaDir: string, name: string, layout: "file" | "s3"): Map<string, string> {
  const out = new Map<string, string>();
  for (const rel of walk(replicaDir)) {
    const parsed = parseLtxKey(rel, layout);
    if (!parsed) continue;
    out.set(seedKey(name, parsed), sha256(readFileSync(join(replicaDir, ...rel.split("/")))));
  }
  return out;
}

/** Reads every object of the bucket back with a fresh Miniflare on the same persist dir. */
async function readBack(dir: string, prefix = ""): Promise<Map<string, string>> {
  const mf = new Miniflare({ modules: true, script: "export default {}", r2Persist: join(dir, "v3", "r2"), r2Buckets: { BUCKET } });
  try {
    const bucket = await mf.getR2Bucket("BUCKET");
    const out = new Map<string, string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await bucket.list(cursor !== undefined ? { prefix, cursor } : { prefix });
      for (const o of page.objects) {
        const body = await bucket.get(o.key);
        expect(body, o.key).not.toBeNull();
        const bytes = new Uint8Array(await (body as NonNullable<typeof body>).arrayBuffer());
        expect(bytes.length, o.key).toBe(o.size);
        out.set(o.key, sha256(bytes));
      }
      if (!page.truncated) break;
      cursor = page.cursor;
    }
    return out;
  } finally {
    await mf.dispose();
  }
}

/** A copy of a file-layout fixture rewritten into the S3 layout (`%04x/<name>`). */
function s3LayoutCopy(fixture: string): string {
  const src = join(FIX, fixture);
  const dest = tmp(`${fixture}-s3`);
  for (const rel of walk(src)) {
    const parsed = parseLtxKey(rel, "file");
    if (!parsed) continue;
    const level = parsed.level.toString(16).padStart(4, "0");
    mkdirSync(join(dest, level), { recursive: true });
    cpSync(join(src, ...rel.split("/")), join(dest, level, rel.split("/").at(-1) as string));
  }
  return dest;
}

describe("wrangler.toml and the persist dir", () => {
  test("the BUCKET binding's bucket_name is the local bucket id", () => {
    const toml = `name = "x"
[[r2_buckets]] # first
binding = "OTHER"
bucket_name = "other-bucket"

[[r2_buckets]]
bucket_name = 'replicas' # comment
binding = "BUCKET"

[[r2_buckets]]
binding = "NONAME"

[[env.staging.r2_buckets]]
binding = "BUCKET"
bucket_name = "staging"
`;
    expect(parseR2Buckets(toml)).toEqual([
      { binding: "OTHER", bucketName: "other-bucket" },
      { binding: "BUCKET", bucketName: "replicas" },
      { binding: "NONAME" },
    ]);
    const text = readFileSync(join(REPO, "wrangler.toml"), "utf8");
    expect(text).toContain(`bucket_name = "${BUCKET}"`);
  });

  test("default persist dir is <project>/.wrangler/state; --persist-to is relative to cwd", () => {
    const project = locateProject(join(REPO, "src", "cli"));
    expect(project.root).toBe(REPO);
    expect(persistDir(project, "/somewhere")).toBe(join(REPO, ".wrangler", "state"));
    expect(persistDir(project, "/somewhere", "st")).toBe("/somewhere/st");
    const empty = tmp("noproject");
    expect(() => locateProject(empty, "nope.toml")).toThrow(/does not exist/);
  });

  test("a directory without wrangler.toml is a clear error", () => {
    const dir = tmp("noconfig");
    const bad = join(dir, "wrangler.toml");
    writeFileSync(bad, 'name = "x"\n');
    expect(() => readBucketName({ configPath: bad, root: dir })).toThrow(/no \[\[r2_buckets\]\] entry with binding = "BUCKET"/);
  });
});

describe("ltx-edge seed", () => {
  let dir: string;
  beforeAll(async () => {
    dir = tmp("seed");
    const r = await run(["seed", join(FIX, "small"), "--db", "sample", "--persist-to", dir]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^seeded database sample: 26 LTX files, 275764 bytes \(269\.3 KiB\)/);
    expect(r.stdout).toContain("(file layout)");
    expect(r.stdout).toContain(`local R2 bucket ${BUCKET}, keys sample/<level %04x>/<min>-<max>.ltx, in ${join(dir, "v3", "r2")}`);
    expect(r.stdout).toContain("TXIDs: 0000000000000001-0000000000000015 (L0: 21, L1: 3, L2: 1, L9: 1)");
  });

  test("every file lands in local R2 in the S3 layout, byte for byte", async () => {
    const want = expectedObjects(join(FIX, "small"), "sample", "file");
    expect(want.size).toBe(26);
    expect([...want.keys()]).toContain("sample/0009/0000000000000001-000000000000000e.ltx");
    expect([...want.keys()]).toContain("sample/0000/0000000000000015-0000000000000015.ltx");
    expect(await readBack(dir)).toEqual(want);
    // Miniflare's R2 layout: DO SQLite metadata next to the bucket's blob folder.
    expect(existsSync(join(dir, "v3", "r2", "miniflare-R2BucketObject"))).toBe(true);
    expect(readdirSync(join(dir, "v3", "r2", BUCKET, "blobs"))).toHaveLength(26);
  });

  test("wrangler's own local R2 reader sees the same objects", async () => {
    const key = "sample/0009/0000000000000001-000000000000000e.ltx";
    const out = await new Promise<Buffer>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(REPO, "node_modules", "wrangler", "bin", "wrangler.js"), "r2", "object", "get", `${BUCKET}/${key}`, "--local", "--persist-to", dir, "--pipe"],
        { cwd: REPO, encoding: "buffer", maxBuffer: 1 << 24, timeout: 110_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      );
    });
    expect(sha256(out)).toBe(sha256(readFileSync(join(FIX, "small", "ltx", "9", "0000000000000001-000000000000000e.ltx"))));
  });

  test("an existing database is refused without --force and replaced with it", async () => {
    const before = await readBack(dir);
    const refused = await run(["seed", join(FIX, "pagesize-1024"), "--db", "sample", "--persist-to", dir]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^ltx-edge: error: CLI_DATABASE_EXISTS: database sample already exists in local R2 bucket .+; pass --force to replace it\n$/);
    expect(await readBack(dir)).toEqual(before);

    const forced = await run(["seed", join(FIX, "pagesize-1024"), "--db", "sample", "--persist-to", dir, "--force"]);
    expect(forced.stderr).toBe("");
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain("replaced 26 existing objects (--force)");
    expect(await readBack(dir)).toEqual(expectedObjects(join(FIX, "pagesize-1024"), "sample", "file"));
    // Blobs of the deleted objects are gone too.
    expect(readdirSync(join(dir, "v3", "r2", BUCKET, "blobs"))).toHaveLength(expectedObjects(join(FIX, "pagesize-1024"), "x", "file").size);

    // Back to the original for the other tests.
    expect((await run(["seed", join(FIX, "small"), "--db", "sample", "--persist-to", dir, "--force"])).code).toBe(0);
    expect(await readBack(dir)).toEqual(before);
  });

  test("databases sit side by side; a name prefix of another is not 'existing'", async () => {
    const other = tmp("side");
    expect((await run(["seed", join(FIX, "small"), "--db", "app.db", "--persist-to", other])).code).toBe(0);
    const r = await run(["seed", join(FIX, "pagesize-1024"), "--db", "app", "--persist-to", other]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const all = await readBack(other);
    expect(new Set([...all.keys()].map((k) => k.split("/")[0]))).toEqual(new Set(["app", "app.db"]));
    expect(all.size).toBe(expectedObjects(join(FIX, "small"), "x", "file").size + expectedObjects(join(FIX, "pagesize-1024"), "x", "file").size);
  });

  test("invalid names are refused before anything is written", async () => {
    const target = join(tmp("names"), "state");
    const bad = ["", "../x", "..", ".hidden", "-x", "_x", "a..b", "a/b", "a b", "é", "x".repeat(129), "a\\b"];
    for (const name of bad) {
      const r = await run(["seed", join(FIX, "small"), `--db=${name}`, "--persist-to", target]);
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toMatch(name === "" ? /CLI_BAD_ARGS: seed: --db NAME is required/ : /^ltx-edge: error: CLI_BAD_ARGS: invalid database name /);
    }
    const missing = await run(["seed", join(FIX, "small"), "--persist-to", target]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--db NAME is required/);
    expect(existsSync(target)).toBe(false);
    // The longest and the oddest valid names work.
    const ok = ["A", "x".repeat(128), "a.b-c_d", "9lives"];
    for (const name of ok) expect((await run(["seed", join(FIX, "small"), "--db", name, "--persist-to", target])).code, name).toBe(0);
  });

  test("an S3-layout directory, a file:// URL and an explicit --layout", async () => {
    const s3dir = s3LayoutCopy("multi-level");
    const target = tmp("s3layout");
    const r = await run(["seed", pathToFileURL(s3dir).href, "--db", "multi", "--persist-to", target]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("(s3 layout)");
    const want = expectedObjects(s3dir, "multi", "s3");
    expect(want).toEqual(expectedObjects(join(FIX, "multi-level"), "multi", "file"));
    expect(await readBack(target)).toEqual(want);

    const wrong = await run(["seed", s3dir, "--db", "other", "--layout", "file", "--persist-to", target]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/CLI_NO_FILES: no LTX files in .* \(looked for ltx\/<level>\/<min>-<max>\.ltx\)/);
    const explicit = await run(["seed", s3dir, "--db", "other", "--layout", "s3", "--persist-to", target]);
    expect(explicit.code).toBe(0);
  });

  const s3 = inject("s3");
  test("an s3:// replica (in the file layout, converted on the way)", async () => {
    const store = new S3Store({ ...s3, forcePathStyle: true });
    const prefix = `seed-${process.pid}-${Date.now()}/small`;
    const src = join(FIX, "small");
    for (const rel of walk(src).filter((p) => p.endsWith(".ltx"))) await store.put(`${prefix}/${rel}`, readFileSync(join(src, ...rel.split("/"))));
    const target = tmp("s3src");
    const env = { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: s3.region, AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const r = await run(["seed", `s3://${s3.bucket}/${prefix}`, "--db", "remote", "--path-style", "--persist-to", target], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`from:  s3://${s3.bucket} (`);
    expect(r.stdout).toContain("(file layout)");
    expect(await readBack(target)).toEqual(expectedObjects(src, "remote", "file"));
  });

  test("a corrupt file stops the seed with the database untouched", async () => {
    const src = tmp("corrupt");
    cpSync(join(FIX, "small"), src, { recursive: true });
    writeFileSync(join(src, "ltx", "0", "0000000000000007-0000000000000007.ltx"), "not an LTX file at all");
    const target = tmp("corrupt-target");
    const r = await run(["seed", src, "--db", "bad", "--persist-to", target]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ltx-edge: error: LTX_/);
    expect((await readBack(target)).size).toBe(0);
  });

  test("a missing replica, and help", async () => {
    const r = await run(["seed", join(tmp("empty"), "nope"), "--db", "x", "--persist-to", tmp("t")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CLI_NOT_FOUND: replica directory .* does not exist/);
    const h = await run(["seed", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: ltx-edge seed <replica> \[flags\]/);
    expect(h.stdout).toContain("--persist-to DIR");
    const top = await run(["--help"]);
    expect(top.stdout).toMatch(/^ {2}seed +copy a replica into wrangler's local R2/m);
    expect(top.stdout).toMatch(/^ {2}dev +run the Worker locally/m);
  });
});

describe("ltx-edge dev: pieces", () => {
  test("--port parsing and the printed requests", () => {
    expect(parsePort(undefined)).toBe(DEFAULT_PORT);
    expect(parsePort("9000")).toBe(9000);
    for (const bad of ["0", "65536", "x", "-1", "80.5", ""]) expect(() => parsePort(bad), bad).toThrow(/--port must be/);
    expect(curlExamples(8787)).toContain(
      `curl -s localhost:8787/db/sample/query -d '{"sql":"SELECT id, name, email FROM users ORDER BY id LIMIT 3"}'`,
    );
  });

  test("a busy port is reported before anything starts", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(checkPortFree(port)).rejects.toThrow(/port \d+ on 127\.0\.0\.1 is in use/);
      const r = await run(["dev", "--port", String(port), "--no-seed", "--persist-to", tmp("busy")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/CLI_PORT_IN_USE/);
    } finally {
      server.close();
    }
  });

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  test.skipIf(process.platform === "win32")("the whole process group is gone when the leader exits", async () => {
    const pidFile = join(tmp("group"), "pid");
    const code = await runInGroup({ command: "sh", args: ["-c", `sleep 300 & echo $! > ${pidFile}; exit 3`], cwd: REPO, graceMs: 2000 });
    expect(code).toBe(3);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  test.skipIf(process.platform === "win32")("signals are forwarded to the group; a second one kills it", async () => {
    let handler: ((s: "SIGINT" | "SIGTERM" | "SIGHUP") => void) | undefined;
    const trapSignals = (h: (s: "SIGINT" | "SIGTERM" | "SIGHUP") => void) => {
      handler = h;
      return () => void (handler = undefined);
    };
    // Every signal runInGroup sends to a process group (negative pid), observed, then delivered for real.
    const sent: { group: number; signal: string }[] = [];
    const realKill = process.kill.bind(process);
    const spy = vi.spyOn(process, "kill").mockImplementation((pid: number, signal?: string | number) => {
      if (pid < 0 && signal !== 0 && signal !== undefined) sent.push({ group: -pid, signal: String(signal) });
      return realKill(pid, signal);
    });
    try {
      // The command writes a file once it runs: the guard is up and the group exists (no fixed sleep).
      const dir = tmp("signals");
      const ready = join(dir, "first");
      const first = runInGroup({ command: "sh", args: ["-c", `echo up > ${ready}; exec sleep 300`], cwd: REPO, trapSignals });
      await waitUntil(() => existsSync(ready), "the first command to start");
      handler?.("SIGTERM");
      // Forwarded at once, to the whole group (what happens after the leader exits is reaping).
      expect(sent.map((s) => s.signal)).toEqual(["SIGTERM"]);
      expect(await first).toBe(143);
      expect(handler).toBeUndefined();
      sent.length = 0;

      // Ignores SIGTERM (ignored signals survive exec): only the escalation ends it.
      const stubbornReady = join(dir, "stubborn");
      const stubborn = runInGroup({ command: "sh", args: ["-c", `trap '' TERM INT; echo up > ${stubbornReady}; sleep 300`], cwd: REPO, trapSignals });
      await waitUntil(() => existsSync(stubbornReady), "the stubborn command to start");
      const firstSignalAt = Date.now();
      handler?.("SIGINT");
      handler?.("SIGTERM"); // an echo of the same Ctrl-C (npm forwards it too): no escalation yet
      expect(sent.map((s) => s.signal)).toEqual(["SIGINT", "SIGTERM"]);
      const group = (sent[0] as { group: number }).group;
      expect(sent.every((s) => s.group === group)).toBe(true);
      // Both were forwarded and ignored: the group is still there.
      expect(groupMembers(group).length).toBeGreaterThan(0);
      // A repeated signal counts as one only a second or more after the first (the documented threshold).
      await waitPast(firstSignalAt, 1000);
      handler?.("SIGINT");
      expect(sent.slice(0, 3).map((s) => s.signal)).toEqual(["SIGINT", "SIGTERM", "SIGKILL"]);
      expect(await stubborn).toBe(137);
      expect(groupMembers(group)).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe.skipIf(process.platform === "win32")("the guard when ltx-edge is killed outright", () => {
  test("an orphaned group is taken down", async () => {
    // A stand-in for ltx-edge: starts the guard (detached, like runInGroup), prints its pid and exits
    // as soon as the guarded command runs (so the guard has recorded its parent) — no fixed sleep.
    const ready = join(tmp("orphan"), "up");
    const starter = `const { spawn } = require("node:child_process"); const { existsSync } = require("node:fs");
      const g = spawn(process.execPath, ["-e", ${JSON.stringify(GUARD_SCRIPT)}, "--", "sh", "-c", ${JSON.stringify(`echo up > ${ready}; exec sleep 300`)}], { detached: true, stdio: "ignore" });
      console.log(g.pid);
      const t = setInterval(() => { if (existsSync(${JSON.stringify(ready)})) { clearInterval(t); process.exit(0); } }, 20);`;
    const out = execFileSync(process.execPath, ["-e", starter], { encoding: "utf8" });
    const guard = Number(out.trim());
    expect(guard).toBeGreaterThan(0);
    expect(existsSync(ready)).toBe(true);
    await waitUntil(() => groupMembers(guard).length === 0, `process group ${guard} to be gone`);
    expect(groupMembers(guard)).toEqual([]);
  });
});

/** Pids and process groups of every process whose command line contains `needle`. */
function processesWith(needle: string): { pid: number; pgid: number; args: string }[] {
  const out = execFileSync("ps", ["-eo", "pid=,pgid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && (m[3] ?? "").includes(needle))
    .map((m) => ({ pid: Number(m[1]), pgid: Number(m[2]), args: m[3] ?? "" }));
}

function groupMembers(pgid: number): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,pgid="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter(([, g]) => g === pgid)
    .map(([p]) => p as number);
}

function ownPgid(): number {
  return Number(execFileSync("ps", ["-o", "pgid=", "-p", String(process.pid)], { encoding: "utf8" }).trim());
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe.skipIf(process.platform === "win32")("ltx-edge dev end to end", () => {
  let child: ChildProcess | undefined;
  let log = "";
  let stateDir = "";
  /** wrangler's process group: its own, distinct from ltx-edge's. */
  let wranglerPgid: number | undefined;
  afterAll(() => {
    // Whatever happened, leave nothing running. Both groups are ones this test created.
    const groups = [child?.pid, wranglerPgid, ...(stateDir ? processesWith(`wrangler-dist/cli.js dev`).filter((p) => p.args.includes(stateDir)).map((p) => p.pgid) : [])];
    for (const g of new Set(groups)) {
      if (g === undefined || g === ownPgid()) continue;
      try {
        process.kill(-g, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  // wrangler dev boots a bundler and workerd: on a loaded machine that alone can take minutes.
  test("seeds sample, serves the printed query, and stops without leftovers", { timeout: 300_000 }, async () => {
    stateDir = join(tmp("dev"), "state");
    const port = await freePort();
    // In a group of its own, so the cleanup above can never hit the test runner's group.
    child = spawn(process.execPath, [BIN, "dev", "--port", String(port), "--persist-to", stateDir], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout?.on("data", (d: Buffer) => void (log += d.toString()));
    child.stderr?.on("data", (d: Buffer) => void (log += d.toString()));
    const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));

    const base = `http://127.0.0.1:${port}`;
    // Ready when it answers (the observable event), not after a fixed time.
    await waitUntil(
      () =>
        fetch(`${base}/db`).then(
          (r) => r.ok,
          () => false,
        ),
      `wrangler dev to answer on ${base}`,
      { deadlineMs: 240_000, intervalMs: 250 },
    ).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${log}`);
    });
    expect(log).toContain("seeded database sample: 26 LTX files");
    expect(log).toContain(curlExamples(port));

    const q = await fetch(`${base}/db/sample/query`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sql: "SELECT id, name, email FROM users ORDER BY id LIMIT 3" }),
    });
    expect(q.status).toBe(200);
    const body = (await q.json()) as { columns: string[]; rows: unknown[][] };
    expect(body.columns).toEqual(["id", "name", "email"]);
    // The sample is test/fixtures/small: its manifest has the first users (id, name, email, age, score).
    const small = JSON.parse(readFileSync(join(FIX, "small", "manifest.json"), "utf8")) as FixtureManifest;
    const firstUsers = small.checked_states
      .find((s) => s.txid === small.final_txid)
      ?.queries?.find((x) => x.sql === "SELECT id, name, email, age, score FROM users ORDER BY id LIMIT 5");
    expect(firstUsers).toBeDefined();
    expect(body.rows).toEqual((firstUsers?.rows ?? []).slice(0, 3).map((r) => r.slice(0, 3)));
    const list = (await (await fetch(`${base}/db`)).json()) as { databases: { name: string }[] };
    expect(list.databases.map((d) => d.name)).toEqual(["sample"]);

    // The guard, wrangler's bin and its wrangler-dist/cli.js child; workerd is found through the group.
    const wrangler = processesWith(`--persist-to ${stateDir}`).filter((p) => p.args.includes("wrangler"));
    expect(wrangler.length, JSON.stringify(wrangler)).toBe(3);
    const pgids = new Set(wrangler.map((p) => p.pgid));
    expect(pgids.size).toBe(1);
    const pgid = [...pgids][0] as number;
    wranglerPgid = pgid;
    expect(pgid).not.toBe(child.pid);
    expect(pgid).not.toBe(ownPgid());
    const members = groupMembers(pgid);
    expect(processesWith("workerd").filter((p) => members.includes(p.pid)).length).toBeGreaterThanOrEqual(1);

    // SIGTERM to ltx-edge alone: it must take wrangler's whole group down with it.
    child.kill("SIGTERM");
    const code = await exited;
    expect(groupMembers(pgid)).toEqual([]);
    expect(processesWith(`--persist-to ${stateDir}`)).toEqual([]);
    expect(typeof code).toBe("number");
    await expect(fetch(`${base}/db`)).rejects.toThrow();
    await checkPortFree(port);
  });
});
