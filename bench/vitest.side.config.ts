/**
 * vitest config of the side-by-side benchmark in workerd
 * (bench/side.workerd.ts): the project's wrangler.toml (local R2, the Cache
 * API), started by bench/run.ts with the plan in LTX_EDGE_BENCH_SIDE. It
 * measures and reports; it asserts nothing about time.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: {
    include: ["bench/side.workerd.ts"],
    globalSetup: ["./bench/side.setup.ts"],
    testTimeout: 1_800_000,
    hookTimeout: 1_800_000,
  },
});
