/**
 * The HTTP server Node-side vitest setups give the workerd benchmarks
 * (bench/large.setup.ts, bench/side.setup.ts), on 127.0.0.1:
 * - GET /file/<path under root> — a file, whole or one `Range: bytes=a-b`
 *   (so big files reach local R2 part by part, never whole in the isolate);
 * - POST /result/<key> — a JSON value, written into `resultsPath` (one JSON
 *   object by key, rewritten on every post: a crash keeps what came before);
 * - GET /memory — RSS and peak of the workerd processes below this one
 *   (POST resets the peak first), see bench/proc-memory.ts.
 */
import { createReadStream, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { resetPeak, workerdMemory } from "./proc-memory.ts";

export interface BenchServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `root` and collects results into `resultsPath`. */
export async function startBenchServer(root: string, resultsPath: string): Promise<BenchServer> {
  const results: Record<string, unknown> = {};
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname.startsWith("/result/") && req.method === "POST") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        results[decodeURIComponent(url.pathname.slice("/result/".length))] = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
        res.writeHead(204, { connection: "close" }).end();
      });
      return;
    }
    if (url.pathname === "/memory") {
      if (req.method === "POST") resetPeak(process.pid);
      res.writeHead(200, { "content-type": "application/json", connection: "close" }).end(JSON.stringify(workerdMemory(process.pid)));
      return;
    }
    const rel = normalize(decodeURIComponent(url.pathname.replace(/^\/file\//, "")));
    if (!url.pathname.startsWith("/file/") || rel.startsWith("..")) {
      res.writeHead(404).end();
      return;
    }
    const path = join(root, rel);
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
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
