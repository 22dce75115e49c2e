/**
 * `wrangler dev` for the benchmarks: the real Worker, its Durable Objects,
 * local R2 and the Cache API in one workerd process tree, on a free port,
 * with `--var`s (DATABASES, LIMITS) and a persist directory the bench owns.
 * Started in its own process group and stopped by that group's id (wrangler
 * leaves workerd children behind otherwise), so a restart keeps the state:
 * R2, Durable Object storage and the Cache API — a new isolate, nothing else new.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { wranglerCommand } from "../src/cli/dev.ts";

const ROOT = join(import.meta.dirname, "..");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up`);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a wrangler dev started in its own process group and waits until the group is gone (SIGKILL after 10 s). */
export async function stopGroup(dev: ChildProcess): Promise<void> {
  const pgid = dev.pid;
  if (pgid === undefined || !groupAlive(pgid)) return;
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return;
  }
  const end = Date.now() + 10_000;
  while (Date.now() < end && groupAlive(pgid)) await new Promise((r) => setTimeout(r, 100));
  if (groupAlive(pgid)) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

/** Stops a wrangler dev and removes its local state. */
export async function stopDev(dev: ChildProcess, state: string): Promise<void> {
  await stopGroup(dev);
  await rm(state, { recursive: true, force: true });
}

export interface DevServer {
  base: string;
  process: ChildProcess;
}

/** Starts wrangler dev on `state` with the given `--var`s (objects as JSON) and waits for GET /health. */
export async function startDev(state: string, vars: Record<string, unknown>): Promise<DevServer> {
  const port = await freePort();
  const w = wranglerCommand(ROOT);
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${typeof v === "string" ? v : JSON.stringify(v)}`]);
  const dev = spawn(w.command, [...w.args, "dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", state, "--show-interactive-dev-session=false", ...varArgs], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "ignore"],
    detached: true,
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/health`, 120_000);
  } catch (e) {
    await stopGroup(dev);
    throw e;
  }
  return { base, process: dev };
}
