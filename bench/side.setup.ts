/**
 * Node-side setup of the side-by-side benchmark in workerd
 * (bench/side.workerd.ts): serves the `medium` replica and its restored file
 * and collects results (bench/bench-server.ts). The plan comes from
 * LTX_EDGE_BENCH_SIDE (JSON, written by bench/run.ts).
 */
import type { TestProject } from "vitest/node";
import { startBenchServer } from "./bench-server.ts";
import type { SidePlan } from "./side-plan.ts";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plan = JSON.parse(process.env.LTX_EDGE_BENCH_SIDE ?? "null") as SidePlan | null;
  if (!plan) throw new Error("LTX_EDGE_BENCH_SIDE is not set: run the benchmarks with `npm run bench`");
  const server = await startBenchServer(plan.root, plan.resultsPath);
  project.provide("sideUrl", server.url);
  project.provide("sidePlan", plan);
  return () => server.close();
}
