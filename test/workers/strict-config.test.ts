/**
 * A misspelled key anywhere in DATABASES (or LIMITS) is refused, naming it:
 * every request answers 500 CONFIG_INVALID and /health is not ok, instead of
 * the key being silently ignored while /health says ok.
 */
import { describe, expect, test } from "vitest";
import { envWith, viaApp } from "../support/app.ts";
import { expectError } from "../support/http.ts";

const S3 = { endpoint: "https://s3.example", bucket: "b" };

/** Each misspelling, and how the error names it. */
const TYPOS: [string, Record<string, unknown>, RegExp][] = [
  ["top level", { poll_intervall_ms: 2000 }, /unknown field poll_intervall_ms; did you mean poll_interval_ms\?/],
  ["top level, camelCase", { idleAfterMs: 1000 }, /unknown field idleAfterMs; did you mean idle_after_ms\?/],
  ["default switch", { defaults: false }, /unknown field defaults; did you mean default\?/],
  ["a database", { databases: { app: { prefix: "p", poll_interval: 500 } } }, /unknown field databases\.app\.poll_interval; did you mean poll_interval_ms\?/],
  ["a database's token", { databases: { app: { token: "APP_TOKEN" } } }, /unknown field databases\.app\.token; did you mean token_secret\? allowed: source, prefix, layout, poll_interval_ms, idle_after_ms, token_secret, s3/],
  ["an S3 source", { databases: { app: { source: "s3", s3: { ...S3, regoin: "eu" } } } }, /unknown field databases\.app\.s3\.regoin; did you mean region\?/],
  ["S3 keys for an R2 source (source forgotten)", { databases: { app: { prefix: "p", s3: S3 } } }, /databases\.app\.s3 is only read with source = "s3"/],
];

describe("DATABASES is strict", () => {
  test.each(TYPOS)("%s: requests fail with 500 CONFIG_INVALID naming the key; /health is not ok", async (_, databases, message) => {
    const e = envWith({ DATABASES: databases, ALLOW_UNAUTHENTICATED: "true" });
    expectError(await viaApp(e, "/health"), 500, "CONFIG_INVALID", message);
    expectError(await viaApp(e, "/db/app/query", { method: "POST", body: '{"sql": "SELECT 1"}' }), 500, "CONFIG_INVALID", message);
    expectError(await viaApp(e, "/db"), 500, "CONFIG_INVALID", message);
  });

  test("the same keys spelled right are a healthy configuration", async () => {
    const e = envWith({
      ALLOW_UNAUTHENTICATED: "true",
      DATABASES: {
        default: true,
        root: "",
        poll_interval_ms: 2000,
        idle_after_ms: 1000,
        layout: "auto",
        databases: {
          app: { source: "r2", prefix: "p", layout: "s3", poll_interval_ms: 500, idle_after_ms: 1000, token_secret: "APP_TOKEN" },
          s3db: { source: "s3", s3: { ...S3, region: "eu", force_path_style: true, access_key_id_secret: "K", secret_access_key_secret: "S" } },
        },
      },
    });
    const r = await viaApp(e, "/health");
    expect(r.status, r.text).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ ok: true });
  });

  test("a DATABASES given as a JSON string is just as strict", async () => {
    const e = envWith({ DATABASES: '{"databases": {"app": {"prefx": "p"}}}' });
    expectError(await viaApp(e, "/health"), 500, "CONFIG_INVALID", /DATABASES: unknown field databases\.app\.prefx; did you mean prefix\?/);
  });
});

describe("LIMITS is strict", () => {
  test("a misspelled limit fails requests and /health with 500 CONFIG_INVALID naming it", async () => {
    const e = envWith({ LIMITS: { max_rowz: 5 }, ALLOW_UNAUTHENTICATED: "true" });
    expectError(await viaApp(e, "/health"), 500, "CONFIG_INVALID", /LIMITS: unknown key max_rowz/);
    expectError(await viaApp(e, "/db/app/query", { method: "POST", body: '{"sql": "SELECT 1"}' }), 500, "CONFIG_INVALID", /max_rowz/);
  });
});
