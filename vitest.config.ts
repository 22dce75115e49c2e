import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["./test/support/global-setup.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          // Sized for a loaded 2-core machine (wasm start-up, workerd boot): generous, never a timing assertion.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: "browser",
          // Headless Chromium (Debian's chromium package) against the real Worker under wrangler dev.
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          // wrangler dev and a browser on a loaded 2-core machine: generous, never a timing assertion.
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest(({ inject }) => {
            const s3 = inject("s3");
            return {
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  // Polls only when a test runs the alarm, so storage counts are deterministic.
                  DATABASES: {
                    poll_interval_ms: 3_600_000,
                    databases: {
                      "idle-db": { prefix: "idle-db", idle_after_ms: 1000 },
                      "s3-small": {
                        source: "s3",
                        prefix: "small",
                        s3: { endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, force_path_style: true },
                      },
                    },
                  },
                  // One JSON line per request would bury test output; test/workers/observability.test.ts turns it on.
                  LOG_REQUESTS: "off",
                  S3_ACCESS_KEY_ID: s3.accessKeyId,
                  S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
                },
              },
            };
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          // Sized for a loaded 2-core machine (wasm start-up, workerd boot): generous, never a timing assertion.
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
