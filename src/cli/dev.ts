/**
 * @module
 * `ltx-edge dev` (what `npm run dev` runs): seeds the committed fixture
 * `test/fixtures/small` into wrangler's local R2 as database `sample` when it
 * is not there yet, prints ready-to-paste requests, and runs `wrangler dev`.
 *
 * Wrangler runs in its own process group (it starts workerd children that a
 * plain kill of the wrangler pid would orphan), led by a small guard process.
 * SIGINT, SIGTERM and SIGHUP are forwarded to that whole group; a repeated
 * signal (a second or more after the first) escalates to SIGKILL; whatever is
 * left of the group when wrangler exits is terminated, so no workerd survives
 * `ltx-edge dev`. Should ltx-edge be killed outright, the guard notices and
 * ends the group. Wrangler's interactive hotkeys are off: a process outside
 * the terminal's foreground group must not read the terminal.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { constants } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type CommandSpec, formatHelp, parseArgs } from "./args.ts";
import { CliError, badArgs } from "./errors.ts";
import type { CliIo, TrappedSignal } from "./io.ts";
import { hasObjects, openLocalR2 } from "./local-r2.ts";
import { LOCAL_STATE_FLAGS, formatSeedSummary, seedInto } from "./seed.ts";
import { type WranglerProject, locateProject, persistDir, readBucketName } from "./wrangler-config.ts";

export const DEFAULT_PORT = 8787;
export const SAMPLE_NAME = "sample";
/** The committed fixture seeded as `sample`. */
export const SAMPLE_FIXTURE = fileURLToPath(new URL("../../test/fixtures/small/", import.meta.url));
export const SAMPLE_SQL = "SELECT id, name, email FROM users ORDER BY id LIMIT 3";

export const DEV_SPEC: CommandSpec = {
  name: "dev",
  positionals: [],
  flags: [
    { name: "port", value: "N", help: `port of the local Worker (default ${DEFAULT_PORT}); it listens on 127.0.0.1` },
    { name: "no-seed", help: `do not seed test/fixtures/small as database ${SAMPLE_NAME}` },
    ...LOCAL_STATE_FLAGS,
  ],
};

const HELP = formatHelp(
  DEV_SPEC,
  "Run the Worker locally with wrangler dev, with a sample database in local R2.",
  `Unless --no-seed is given, and local R2 has no database ${SAMPLE_NAME} yet, the
committed replica test/fixtures/small is seeded as ${SAMPLE_NAME} (like
'ltx-edge seed test/fixtures/small --db ${SAMPLE_NAME}'). Then wrangler dev runs
with --ip 127.0.0.1 --port N --persist-to <persist dir>; stop it with Ctrl-C.
More databases: 'ltx-edge seed <replica> --db NAME' (also while dev runs).`,
);

export function devHelp(): string {
  return HELP;
}

/** Parses --port. */
export function parsePort(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const n = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw badArgs(`--port must be a port number 1-65535, got ${JSON.stringify(text)}`);
  return n;
}

/** Fails early, with a clear message, when something already listens on the port. */
export async function checkPortFree(port: number, host = "127.0.0.1"): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (e: Error & { code?: string }) => {
      if (e.code === "EADDRINUSE") {
        reject(new CliError("CLI_PORT_IN_USE", `port ${port} on ${host} is in use (another wrangler dev?); stop it or pass --port`));
      } else reject(e);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** The ready-to-paste requests printed before wrangler starts. */
export function curlExamples(port: number): string {
  const body = JSON.stringify({ sql: SAMPLE_SQL });
  return [
    // The Worker wants a JSON content type; plain -d would send application/x-www-form-urlencoded.
    `  curl -s localhost:${port}/db/${SAMPLE_NAME}/query -d '${body}'`,
    `  curl -s localhost:${port}/db`,
    `  curl -s localhost:${port}/db/${SAMPLE_NAME}`,
  ].join("\n");
}

/** A path relative to the project when it is inside it, else absolute. */
function displayPath(root: string, path: string): string {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") ? rel : path;
}

/** Seeds the sample database unless local R2 already has it. */
async function ensureSample(project: WranglerProject, bucketName: string, dir: string, io: CliIo): Promise<void> {
  const r2 = await openLocalR2(dir, bucketName);
  try {
    if (await hasObjects(r2.bucket, `${SAMPLE_NAME}/`)) {
      io.stdout.write(`local R2 bucket ${bucketName} already has database ${SAMPLE_NAME} (${r2.r2Dir}); not seeding\n`);
      return;
    }
    if (!existsSync(SAMPLE_FIXTURE)) {
      io.stderr.write(`ltx-edge: warning: ${SAMPLE_FIXTURE} is missing; starting without database ${SAMPLE_NAME}\n`);
      return;
    }
    const summary = await seedInto(r2, { replica: SAMPLE_FIXTURE, name: SAMPLE_NAME, replicaOptions: { layout: "auto" } }, dir);
    io.stdout.write(formatSeedSummary({ ...summary, source: displayPath(project.root, SAMPLE_FIXTURE) }));
  } finally {
    await r2.dispose();
  }
}

/** How to run wrangler: the project's own install, else npx. */
export function wranglerCommand(root: string): { command: string; args: string[] } {
  try {
    const req = createRequire(join(root, "package.json"));
    const pkgPath = req.resolve("wrangler/package.json");
    const pkg: unknown = JSON.parse(readFileSync(pkgPath, "utf8"));
    const bin = typeof pkg === "object" && pkg !== null ? (pkg as { bin?: unknown }).bin : undefined;
    const rel = typeof bin === "string" ? bin : typeof bin === "object" && bin !== null ? (bin as { wrangler?: unknown }).wrangler : undefined;
    if (typeof rel === "string") {
      const path = join(dirname(pkgPath), rel);
      if (existsSync(path)) return { command: process.execPath, args: [path] };
    }
  } catch {
    // Not installed locally: npx finds or fetches it.
  }
  return { command: "npx", args: ["wrangler"] };
}

/**
 * A tiny supervisor that leads the child's process group (plain CommonJS for
 * `node -e`, so it needs no TypeScript loader). It runs the command, mirrors
 * its exit, and ignores the group-wide signals it receives with the command
 * (the command decides when to stop). If ltx-edge itself dies without a chance
 * to clean up (SIGKILL, a crash), the guard sees its parent change and takes
 * the whole group down: SIGTERM, then SIGKILL after 5 s, itself included.
 */
export const GUARD_SCRIPT = `
const { spawn } = require("node:child_process");
const parent = process.ppid;
const [cmd, ...args] = process.argv.slice(1);
const group = (sig) => { try { process.kill(-process.pid, sig); } catch {} };
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => {});
const child = spawn(cmd, args, { stdio: "inherit" });
let orphaned = false;
const watch = setInterval(() => {
  if (process.ppid === parent) return;
  orphaned = true;
  clearInterval(watch);
  group("SIGTERM");
  setTimeout(() => group("SIGKILL"), 5000);
}, 250);
child.on("error", (e) => { console.error("ltx-edge: cannot start " + cmd + ": " + e.message); process.exit(127); });
child.on("exit", (code, signal) => {
  clearInterval(watch);
  if (orphaned) return;
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(128), 1000);
  } else process.exit(code ?? 0);
});
`;

export interface WranglerRun {
  command: string;
  args: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** Where SIGINT/SIGTERM/SIGHUP come from; without it signals are not forwarded. */
  trapSignals?: CliIo["trapSignals"];
  /** How long the rest of the group may take to exit after the leader did (ms). */
  graceMs?: number;
}

/** A second signal at least this long after the first kills the group outright. */
const ESCALATE_AFTER_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    // EPERM: members exist but are not ours to signal; treat as alive.
    return (e as { code?: unknown }).code === "EPERM";
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    if (process.platform === "win32") child.kill(signal);
    else process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Kills what is left of the group: SIGTERM, then SIGKILL after the grace period. */
async function reapGroup(pgid: number, graceMs: number): Promise<void> {
  if (process.platform === "win32" || !groupAlive(pgid)) return;
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(100);
    if (!groupAlive(pgid)) return;
  }
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // Gone in the meantime.
  }
}

/**
 * Runs a command in its own process group with inherited stdout/stderr,
 * forwards signals to the group and returns its exit code (128 + signal
 * number when it was killed by a signal) once the whole group is gone.
 */
export async function runInGroup(run: WranglerRun): Promise<number> {
  // Behind the guard on POSIX, so even an ltx-edge killed by SIGKILL leaves no orphans.
  const posix = process.platform !== "win32";
  const command = posix ? process.execPath : run.command;
  const args = posix ? ["-e", GUARD_SCRIPT, "--", run.command, ...run.args] : run.args;
  const child = spawn(command, args, {
    cwd: run.cwd,
    env: run.env ?? process.env,
    stdio: ["ignore", "inherit", "inherit"],
    detached: posix,
  });
  const pgid = child.pid;
  // Last resort if this process exits for any other reason: no orphaned workerd.
  const onExit = () => {
    if (pgid !== undefined && process.platform !== "win32") {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // Nothing left.
      }
    }
  };
  process.on("exit", onExit);
  let firstAt: number | undefined;
  const untrap = run.trapSignals?.((signal: TrappedSignal) => {
    // A repeated signal escalates, but not an echo: under npm, Ctrl-C can reach
    // ltx-edge twice at once (from the terminal and forwarded by npm).
    const now = Date.now();
    if (firstAt === undefined) firstAt = now;
    signalGroup(child, now - firstAt >= ESCALATE_AFTER_MS ? "SIGKILL" : signal);
  });
  try {
    const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", (e) => reject(new CliError("CLI_NOT_FOUND", `cannot start ${run.command}: ${e.message}`, { cause: e })));
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    if (pgid !== undefined) await reapGroup(pgid, run.graceMs ?? 5000);
    if (result.code !== null) return result.code;
    const num = result.signal !== null ? constants.signals[result.signal] : undefined;
    return 128 + (num ?? 0);
  } finally {
    untrap?.();
    process.off("exit", onExit);
  }
}

/** `ltx-edge dev …` */
export async function runDev(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, DEV_SPEC);
  if (args.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const port = parsePort(args.string("port"));
  const cwd = process.cwd();
  const config = args.string("config");
  const project = locateProject(cwd, config);
  const bucketName = readBucketName(project);
  const dir = persistDir(project, cwd, args.string("persist-to"));
  await checkPortFree(port);
  if (!args.bool("no-seed")) await ensureSample(project, bucketName, dir, io);

  const wrangler = wranglerCommand(project.root);
  const wranglerArgs = [
    ...wrangler.args,
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    dir,
    "--show-interactive-dev-session=false",
    // The web console (docs/console.md) is off unless configured; dev turns it on.
    "--var",
    "CONSOLE:true",
    ...(config !== undefined ? ["--config", project.configPath] : []),
  ];
  io.stdout.write(
    `\nStarting wrangler dev on http://127.0.0.1:${port} (local state: ${displayPath(project.root, dir)}).\n` +
      `Once it prints "Ready", try:\n${curlExamples(port)}\n` +
      `or open the console: http://127.0.0.1:${port}/console\n` +
      `Stop it with Ctrl-C.\n\n`,
  );
  return runInGroup({
    command: wrangler.command,
    args: wranglerArgs,
    cwd: project.root,
    ...(io.trapSignals ? { trapSignals: io.trapSignals } : {}),
  });
}
