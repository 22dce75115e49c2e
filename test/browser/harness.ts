/**
 * What the browser tests stand on: the real `ltx-edge dev` (wrangler dev,
 * local R2 seeded with test/fixtures/small as `sample`, the console on) with
 * an API token, and Debian's headless Chromium driven by puppeteer-core.
 *
 * The token reaches the Worker the way a developer would give it: a
 * `.dev.vars` next to the wrangler config. So that no tracked file is
 * written (nor a developer's own `.dev.vars` read), the config is a copy of
 * wrangler.toml in a temporary folder under the git-ignored .wrangler/ (inside
 * the project, so the project's wrangler is found) whose `main` points back at
 * src/.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { freePort } from "../../bench/dev-server.ts";
import { waitUntil } from "../support/wait.ts";
import { BIN, REPO } from "../node/dist.ts";

/** Where screenshots go (git-ignored; CI keeps the folder as an artifact). */
export const ARTIFACTS = join(REPO, "test-artifacts");

const CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The browser binary: $CHROMIUM_PATH, else Debian's chromium (`apt-get install chromium`). */
export function chromiumPath(): string {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return given;
  }
  const found = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
  if (!found) throw new Error(`no Chromium at ${CHROMIUM_CANDIDATES.join(", ")}: install Debian's package (apt-get install -y chromium; .ci/run does) or set CHROMIUM_PATH`);
  return found;
}

/** Headless Chromium. No sandbox: CI runs as root, where Chromium's sandbox refuses to start. */
export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-extensions"],
    defaultViewport: { width: 1280, height: 1000 },
    // A loaded machine can take a while to start a browser.
    timeout: 120_000,
    protocolTimeout: 180_000,
  });
}

export interface DevServer {
  base: string;
  token: string;
  /** Everything wrangler printed, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Starts `ltx-edge dev` with API_TOKEN set, and resolves once the Worker answers. */
export async function startDev(token: string): Promise<DevServer> {
  mkdirSync(join(REPO, ".wrangler"), { recursive: true });
  const dir = mkdtempSync(join(REPO, ".wrangler", "console-test-"));
  const toml = readFileSync(join(REPO, "wrangler.toml"), "utf8");
  const mainLine = /^main = "src\/index\.ts"$/m;
  if (!mainLine.test(toml)) throw new Error('wrangler.toml no longer has main = "src/index.ts": update test/browser/harness.ts');
  writeFileSync(join(dir, "wrangler.toml"), toml.replace(mainLine, `main = ${JSON.stringify(join(REPO, "src", "index.ts"))}`));
  writeFileSync(join(dir, ".dev.vars"), `API_TOKEN=${token}\n`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  // Its own process group, so stopping it can never signal the test runner.
  const child: ChildProcess = spawn(process.execPath, [BIN, "dev", "--port", String(port), "--persist-to", join(dir, "state"), "--config", join(dir, "wrangler.toml")], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (d: Buffer) => void (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => void (log += d.toString()));
  let exited = false;
  const exit = new Promise<void>((r) => child.once("exit", () => ((exited = true), r())));
  const stop = async () => {
    if (!exited && child.pid !== undefined) {
      // ltx-edge dev takes wrangler's whole group down on SIGTERM; SIGKILL only if it does not.
      process.kill(child.pid, "SIGTERM");
      await waitUntil(() => exited, "ltx-edge dev to stop", { deadlineMs: 60_000, intervalMs: 100 }).catch(() => {
        if (!exited && child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      });
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error(`ltx-edge dev exited early`);
        return fetch(`${base}/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      `wrangler dev to answer on ${base}`,
      { deadlineMs: 240_000, intervalMs: 250 },
    );
  } catch (e) {
    await stop();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${log}`);
  }
  return { base, token, log: () => log, stop };
}
