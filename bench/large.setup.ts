/**
 * Node-side setup of the workerd benchmarks on synthetic replicas
 * (bench/large.workerd.ts): serves the cached replica files over HTTP on
 * 127.0.0.1 (with Range, so big files go into local R2 part by part), and
 * reports the memory of the workerd processes this vitest run started
 * (bench/proc-memory.ts); what the bench POSTs to /result/<key> is written
 * to the plan's results file.
 *
 * What to run comes from LTX_EDGE_BENCH_PLAN (JSON, written by bench/run.ts).
 */
import { createReadStream, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import type { TestProject } from "vitest/node";
import type { BenchPlan } from "./large-plan.ts";
import { resetPeak, workerdMemory } from "./proc-memory.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plan = JSON.parse(process.env.LTX_EDGE_BENCH_PLAN ?? "null") as BenchPlan | null;
  if (!plan) throw new Error("LTX_EDGE_BENCH_PLAN is not set: run the benchmarks with `npm run bench`");
  const results: Record<string, unknown> = {};
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname.startsWith("/result/") && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        results[decodeURIComponent(url.pathname.slice("/result/".length))] = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        writeFileSync(plan.resultsPath, `${JSON.stringify(results, null, 2)}\n`);
        res.writeHead(204, { connection: "close" }).end();
      });
      return;
    }
    if (url.pathname === "/memory") {
      if (req.method === "POST") resetPeak(process.pid);
      res.writeHead(200, { "content-type": "application/json", connection: "close" }).end(JSON.stringify(workerdMemory(process.pid)));
      return;
    }
    // /file/<path under the cache root>
    const rel = normalize(decodeURIComponent(url.pathname.replace(/^\/file\//, "")));
    if (!url.pathname.startsWith("/file/") || rel.startsWith("..")) {
      res.writeHead(404).end();
      return;
    }
    const path = join(plan.cacheRoot, rel);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range ? Math.min(Number(range[2]), size - 1) : size - 1;
    res.writeHead(range ? 206 : 200, { "content-type": "application/octet-stream", "content-length": end - start + 1, connection: "close" });
    createReadStream(path, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  project.provide("benchUrl", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  project.provide("benchPlan", plan);
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
