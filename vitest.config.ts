import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { buildSync } from "esbuild";
import { defineConfig } from "vitest/config";

/**
 * The test Worker's name inside vitest-pool-workers (`vitest-pool-workers-runner-<project>`):
 * the auxiliary consumer Worker binds its `LtxEdge` entrypoint by this name, as a deployed
 * consumer binds `service = "ltx-edge"`.
 */
const RUNNER_WORKER = "vitest-pool-workers-runner-workers";

/**
 * A second Worker for the D1 binding tests (test/workers/d1-*.test.ts): test/workers/d1-consumer,
 * bundled with its npm dependencies (drizzle-orm, kysely, kysely-d1) the way wrangler would, and
 * bound to the test Worker with `entrypoint = "LtxEdge"`. Auxiliary Workers are not built by
 * vitest, hence esbuild here.
 */
function d1Consumer() {
  const out = buildSync({
    entryPoints: ["test/workers/d1-consumer/worker.ts"],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    external: ["cloudflare:*"],
    target: "es2022",
    logLevel: "error",
  });
  const code = out.outputFiles[0]?.text;
  if (code === undefined) throw new Error("bundling test/workers/d1-consumer produced nothing");
  return {
    name: "d1-consumer",
    modules: [{ type: "ESModule" as const, path: "worker.mjs", contents: code }],
    compatibilityDate: "2026-04-20",
    serviceBindings: {
      LTX: { name: RUNNER_WORKER, entrypoint: "LtxEdge" },
      LTX_DEFAULT: { name: RUNNER_WORKER },
    },
  };
}

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
                workers: [d1Consumer()],
                serviceBindings: { D1_CONSUMER: "d1-consumer" },
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
