/**
 * Node-side setup for all test projects: serves test/fixtures over HTTP on
 * 127.0.0.1 (workerd tests copy replicas from it into local R2 or S3) and
 * starts a real S3-compatible server (s3rver) for the S3 path.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize, relative, sep } from "node:path";
import type { TestProject } from "vitest/node";
import { S3RVER_CREDENTIALS, startS3Server } from "./s3-server.ts";

const FIXTURES = join(import.meta.dirname, "..", "fixtures");

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(relative(FIXTURES, p).split(sep).join("/"));
  }
  return out.sort();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/")).replace(/^\/+/, "");
    if (path.startsWith("..")) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(join(FIXTURES, path));
      // One request per connection: a kept-alive socket closed under load surfaced as "connection lost".
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length, connection: "close" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const s3 = await startS3Server({ buckets: ["replicas"] });

  project.provide("fixturesUrl", `http://127.0.0.1:${port}`);
  project.provide("fixtureFiles", listFiles(FIXTURES));
  project.provide("s3", { endpoint: s3.endpoint, bucket: "replicas", ...S3RVER_CREDENTIALS });

  return async () => {
    await s3.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
