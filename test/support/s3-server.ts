/**
 * @module
 * Starts an s3rver (fake S3 on the local filesystem, v3.7.1) on 127.0.0.1 for tests.
 * Node only. Importing this module has no side effects, so a vitest globalSetup can
 * import it and hand the endpoint to workerd tests.
 *
 * s3rver runs in a child Node process started with `--openssl-legacy-provider`: it
 * encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17+) only
 * has in its legacy provider, so in-process every truncated listing (> max-keys
 * objects, 1000 by default) fails with 500 InternalError. The child also keeps
 * s3rver's Koa/winston globals out of the test process, and exits when its stdin
 * closes, so it cannot outlive the test process.
 *
 * s3rver facts callers must know: it accepts any signature (only an unknown access key
 * id gets 403); it serves `Range: bytes=-N` from the start of the object and answers
 * `bytes=0-0` with the whole object; it lists in directory-walk order, not byte order,
 * when a key is also a "directory" prefix of others (`a/b` comes before `a` and `a.x`).
 */

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The credentials s3rver's built-in account accepts (it checks only the key id). */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER", region: "us-east-1" } as const;

export interface S3ServerHandle {
  /** `http://127.0.0.1:<port>`; address it path-style. */
  endpoint: string;
  port: number;
  /** Stops the server and removes the temp directory it created (not a caller-supplied one). */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;

// CommonJS run with `node -e`; argv: s3rver module path, directory, JSON bucket names.
// s3rver ships no types; this script is the only code that touches its API.
const CHILD_SCRIPT = `
const [modulePath, directory, buckets] = process.argv.slice(1);
const S3rver = require(modulePath);
const server = new S3rver({
  port: 0,
  address: "127.0.0.1",
  directory,
  silent: true,
  configureBuckets: JSON.parse(buckets).map((name) => ({ name })),
});
server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + "\\n"),
  (error) => { console.error(error); process.exit(1); },
);
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

/**
 * Starts s3rver with the given buckets (default `["test"]`) in `directory` (default a new
 * temp directory). The OS picks the port, so parallel test files never collide.
 */
export async function startS3Server(opts: { buckets?: string[]; directory?: string } = {}): Promise<S3ServerHandle> {
  const ownsDirectory = opts.directory === undefined;
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), "ltx-edge-s3rver-")));
  const buckets = opts.buckets ?? ["test"];
  const modulePath = createRequire(import.meta.url).resolve("s3rver");

  const child = spawn(process.execPath, ["--openssl-legacy-provider", "-e", CHILD_SCRIPT, modulePath, directory, JSON.stringify(buckets)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let stdout = "";
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk;
        const line = stdout.split("\n")[0];
        if (line === undefined || !stdout.includes("\n")) return;
        clearTimeout(timer);
        const parsed: unknown = JSON.parse(line);
        const value = typeof parsed === "object" && parsed !== null && "port" in parsed ? parsed.port : undefined;
        if (typeof value === "number") resolve(value);
        else reject(new Error(`unexpected s3rver startup output: ${line}`));
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited during startup (code ${code}, signal ${signal}): ${stderr.trim()}`));
      });
    });
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.stdin.end(); // the child exits on stdin EOF
          const grace = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
          await exited;
          clearTimeout(grace);
        }
        if (ownsDirectory) await rm(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
