/**
 * Node-side setup of the workerd benchmarks on synthetic replicas
 * (bench/large.workerd.ts): serves the cached replica files, the workerd
 * processes' memory and a results sink over HTTP (bench/bench-server.ts);
 * what the bench POSTs to /result/<key> is written to the plan's results file.
 *
 * What to run comes from LTX_EDGE_BENCH_PLAN (JSON, written by bench/run.ts).
 */
import type { TestProject } from "vitest/node";
import { startBenchServer } from "./bench-server.ts";
import type { BenchPlan } from "./large-plan.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plan = JSON.parse(process.env.LTX_EDGE_BENCH_PLAN ?? "null") as BenchPlan | null;
  if (!plan) throw new Error("LTX_EDGE_BENCH_PLAN is not set: run the benchmarks with `npm run bench`");
  const server = await startBenchServer(plan.cacheRoot, plan.resultsPath);
  project.provide("benchUrl", server.url);
  project.provide("benchPlan", plan);
  return () => server.close();
}
