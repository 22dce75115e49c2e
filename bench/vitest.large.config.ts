/**
 * vitest config for the workerd benchmarks on synthetic replicas
 * (bench/large.workerd.ts): the project's wrangler.toml (the real Worker and
 * Durable Object, local R2), with polling left to the bench — an hourly
 * interval, so no alarm fires unless runDurableObjectAlarm runs it. Started
 * by bench/run.ts, which generates the replicas and passes the plan.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          DATABASES: { poll_interval_ms: 3_600_000, databases: { "poll-idle": { prefix: "poll-idle", idle_after_ms: 1000 } } },
        },
      },
    }),
  ],
  test: {
    include: ["bench/large.workerd.ts"],
    globalSetup: ["./bench/large.setup.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
  },
});
