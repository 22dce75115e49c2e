/**
 * vitest config for the benchmarks that must run inside workerd (both
 * wa-sqlite builds, the real runtime's stack and timers): `npx vitest run
 * --config bench/vitest.workerd.config.ts`. They print tables; they assert
 * nothing about time.
 */
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" } })],
  test: { include: ["bench/*.workerd.ts"], testTimeout: 900_000, hookTimeout: 900_000 },
});
