/**
 * @module
 * What the CLI needs from the project's wrangler.toml, and where `wrangler
 * dev` keeps its local state. Wrangler 4.86 (`getLocalPersistencePath`,
 * `getDefaultPersistRoot`) persists to `<dir of wrangler.toml>/.wrangler/state`
 * unless `--persist-to DIR` is given (relative to the current directory), and
 * hands Miniflare `<that>/v3` as its default persist root; Miniflare's R2
 * plugin stores buckets under `<root>/r2`. A binding's local bucket id is its
 * `bucket_name` (the binding name when there is none), exactly as
 * `wrangler r2 object put --local` and `wrangler dev` use it.
 *
 * The TOML reading is deliberately small: it understands `[[r2_buckets]]`
 * tables with `binding = "…"` and `bucket_name = "…"` lines, which is what
 * this project's wrangler.toml has.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CliError } from "./errors.ts";

/** The binding the Worker reads replicas from. */
export const BUCKET_BINDING = "BUCKET";

export interface WranglerProject {
  /** Absolute path of wrangler.toml. */
  configPath: string;
  /** The directory holding it: wrangler's project root. */
  root: string;
}

/** Finds wrangler.toml in `from` or its parents, as wrangler does; null when there is none. */
export function findWranglerConfig(from: string): string | null {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, "wrangler.toml");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The project for `--config PATH`, or the wrangler.toml found from `cwd`. */
export function locateProject(cwd: string, configFlag?: string): WranglerProject {
  if (configFlag !== undefined) {
    const configPath = resolve(cwd, configFlag);
    if (!existsSync(configPath)) throw new CliError("CLI_WRANGLER_CONFIG", `wrangler config ${configPath} does not exist`);
    return { configPath, root: dirname(configPath) };
  }
  const configPath = findWranglerConfig(cwd);
  if (configPath === null) {
    throw new CliError("CLI_WRANGLER_CONFIG", `no wrangler.toml in ${resolve(cwd)} or its parents (run this in the ltx-edge project or pass --config)`);
  }
  return { configPath, root: dirname(configPath) };
}

/** Value of a `key = "string"` line (double or single quotes, optional trailing comment). */
function stringValue(line: string, key: string): string | undefined {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|'([^']*)')\\s*(?:#.*)?$`).exec(line);
  if (!m) return undefined;
  if (m[2] !== undefined) return m[2];
  return (m[1] ?? "").replace(/\\(["\\])/g, "$1");
}

export interface R2BucketBinding {
  binding: string;
  bucketName?: string;
}

/** Every top-level `[[r2_buckets]]` table of a wrangler.toml text. */
export function parseR2Buckets(toml: string): R2BucketBinding[] {
  const out: R2BucketBinding[] = [];
  let current: R2BucketBinding | null = null;
  let binding: string | undefined;
  let bucketName: string | undefined;
  const flush = () => {
    if (current !== null && binding !== undefined) out.push(bucketName !== undefined ? { binding, bucketName } : { binding });
    current = null;
    binding = undefined;
    bucketName = undefined;
  };
  for (const raw of toml.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("[")) {
      flush();
      if (/^\[\[\s*r2_buckets\s*\]\]\s*(#.*)?$/.test(line)) current = { binding: "" };
      continue;
    }
    if (current === null) continue;
    binding = stringValue(line, "binding") ?? binding;
    bucketName = stringValue(line, "bucket_name") ?? bucketName;
  }
  flush();
  return out;
}

/**
 * The local bucket id `wrangler dev` uses for the `BUCKET` binding:
 * its `bucket_name`, else the binding name.
 */
export function readBucketName(project: WranglerProject, binding = BUCKET_BINDING): string {
  let text: string;
  try {
    text = readFileSync(project.configPath, "utf8");
  } catch (cause) {
    throw new CliError("CLI_WRANGLER_CONFIG", `cannot read ${project.configPath}: ${(cause as Error).message}`, { cause });
  }
  const found = parseR2Buckets(text).find((b) => b.binding === binding);
  if (!found) throw new CliError("CLI_WRANGLER_CONFIG", `${project.configPath} has no [[r2_buckets]] entry with binding = "${binding}"`);
  return found.bucketName ?? found.binding;
}

/** `--persist-to` as wrangler resolves it (relative to cwd), else `<project>/.wrangler/state`. */
export function persistDir(project: WranglerProject, cwd: string, persistTo?: string): string {
  return persistTo !== undefined ? resolve(cwd, persistTo) : join(project.root, ".wrangler", "state");
}

/** Miniflare's default persist root for a wrangler persist dir (`<dir>/v3`). */
export function miniflarePersistRoot(dir: string): string {
  return join(dir, "v3");
}
