/**
 * @module
 * Turns a `<replica>` argument into a {@link Replica}: a directory path,
 * `file://…`, or `s3://bucket/prefix`. A directory is itself the replica
 * prefix (it holds `ltx/<n>/` or `<%04x>/` folders); S3 settings come from
 * flags, then the usual AWS environment variables.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DirStore } from "../replica/dir.ts";
import { type LayoutOption, type LtxFileInfo, Replica } from "../replica/replica.ts";
import { S3Store } from "../replica/s3.ts";
import type { FlagSpec, ParsedArgs } from "./args.ts";
import { CliError, badArgs } from "./errors.ts";

export type ReplicaLocation = { kind: "dir"; path: string } | { kind: "s3"; bucket: string; prefix: string };

export interface S3Options {
  endpoint?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Force `https://host/bucket/key` addressing; unset lets S3Store choose. */
  pathStyle?: boolean;
}

export interface ReplicaOptions {
  layout: LayoutOption;
  s3?: S3Options;
}

/** Flags of every command that reads a replica. */
export const REPLICA_FLAGS: readonly FlagSpec[] = [
  { name: "layout", value: "auto|s3|file", help: "key layout: <%04x level>/ (s3) or ltx/<level>/ (file); default auto-detect" },
  { name: "endpoint", value: "URL", help: "S3 endpoint (default $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS)" },
  { name: "region", value: "REGION", help: "S3 signing region (default $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1)" },
  { name: "access-key-id", value: "ID", help: "S3 access key id (default $AWS_ACCESS_KEY_ID)" },
  { name: "secret-access-key", value: "KEY", help: "S3 secret key (default $AWS_SECRET_ACCESS_KEY; session token: $AWS_SESSION_TOKEN)" },
  { name: "path-style", help: "S3 path-style URLs (https://host/bucket/key)" },
];

/** Parses `--layout`; `auto` only where detection makes sense. */
export function parseLayout(text: string | undefined, fallback: LayoutOption, allowAuto = true): LayoutOption {
  if (text === undefined) return fallback;
  if (text === "s3" || text === "file" || (allowAuto && text === "auto")) return text;
  throw badArgs(`--layout must be ${allowAuto ? "auto, s3 or file" : "s3 or file"}, got ${JSON.stringify(text)}`);
}

/** Classifies a replica argument (no I/O). */
export function parseReplicaLocation(spec: string): ReplicaLocation {
  if (spec === "") throw badArgs("empty replica argument");
  if (/^s3:\/\//i.test(spec)) {
    const rest = spec.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (bucket === "") throw badArgs(`replica URL ${spec} has no bucket (expected s3://bucket/prefix)`);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
    return { kind: "s3", bucket, prefix };
  }
  if (/^file:\/\//i.test(spec)) {
    try {
      return { kind: "dir", path: fileURLToPath(spec) };
    } catch (cause) {
      throw new CliError("CLI_BAD_ARGS", `invalid file URL ${spec}: ${(cause as Error).message}`, { cause });
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec);
  if (scheme) throw badArgs(`unsupported replica URL scheme ${scheme[1]}:// (use a directory, file://… or s3://bucket/prefix)`);
  return { kind: "dir", path: resolve(spec) };
}

/** S3 settings from flags, falling back to the environment. */
export function s3OptionsFrom(args: ParsedArgs, env: Readonly<Record<string, string | undefined>>): S3Options {
  const pick = (...values: (string | undefined)[]) => values.find((v) => v !== undefined && v !== "");
  const out: S3Options = {};
  const set = <K extends keyof S3Options>(k: K, v: S3Options[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("endpoint", pick(args.string("endpoint"), env["AWS_ENDPOINT_URL_S3"], env["AWS_ENDPOINT_URL"]));
  set("region", pick(args.string("region"), env["AWS_REGION"], env["AWS_DEFAULT_REGION"]));
  set("accessKeyId", pick(args.string("access-key-id"), env["AWS_ACCESS_KEY_ID"]));
  set("secretAccessKey", pick(args.string("secret-access-key"), env["AWS_SECRET_ACCESS_KEY"]));
  set("sessionToken", pick(env["AWS_SESSION_TOKEN"]));
  if (args.bool("path-style")) out.pathStyle = true;
  return out;
}

/** Checks that a local replica directory exists. */
function checkDir(path: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new CliError("CLI_NOT_FOUND", `replica directory ${path} does not exist`);
  }
  if (!isDir) throw new CliError("CLI_NOT_FOUND", `${path} is not a directory (give the replica directory, which holds ltx/ or 0000/ folders)`);
}

function openS3(loc: { bucket: string; prefix: string }, s3: S3Options): S3Store {
  if (!s3.accessKeyId || !s3.secretAccessKey) {
    throw new CliError(
      "CLI_S3_CONFIG",
      "S3 credentials missing: pass --access-key-id and --secret-access-key or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    );
  }
  const region = s3.region ?? "us-east-1";
  try {
    return new S3Store({
      endpoint: s3.endpoint ?? `https://s3.${region}.amazonaws.com`,
      region,
      bucket: loc.bucket,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      ...(s3.sessionToken !== undefined ? { sessionToken: s3.sessionToken } : {}),
      ...(s3.pathStyle !== undefined ? { forcePathStyle: s3.pathStyle } : {}),
    });
  } catch (cause) {
    // The constructor validates configuration with TypeErrors: those are user errors here.
    throw new CliError("CLI_S3_CONFIG", (cause as Error).message, { cause });
  }
}

/** Opens a replica for reading. Local directories must exist. */
export function openReplica(spec: string, opts: ReplicaOptions): Replica {
  const loc = parseReplicaLocation(spec);
  if (loc.kind === "dir") {
    checkDir(loc.path);
    return new Replica(new DirStore(loc.path), { prefix: "", layout: opts.layout });
  }
  return new Replica(openS3(loc, opts.s3 ?? {}), { prefix: loc.prefix, layout: opts.layout });
}

/** Lists the replica, failing with a clear message when it holds no LTX file. */
export async function listOrFail(replica: Replica, layout: LayoutOption): Promise<LtxFileInfo[]> {
  const files = await replica.listFiles();
  if (files.length > 0) return files;
  const shape =
    layout === "s3" ? "<%04x level>/<min>-<max>.ltx" : layout === "file" ? "ltx/<level>/<min>-<max>.ltx" : "ltx/<level>/<min>-<max>.ltx or <%04x level>/<min>-<max>.ltx";
  throw new CliError("CLI_NO_FILES", `no LTX files in ${replica.description} (looked for ${shape})`);
}
