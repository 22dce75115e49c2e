import { describe, expect, test } from "vitest";
import { databaseConfig, isValidName, parseDatabasesConfig } from "../../src/config/databases.ts";
import { DEFAULT_LIMITS, limitsFor, parseLimits } from "../../src/api/limits.ts";

describe("DATABASES", () => {
  test("absent: every valid name is served from the bucket under its own prefix", () => {
    const c = parseDatabasesConfig(undefined);
    expect(c.serveAll).toBe(true);
    expect(databaseConfig(c, "app")).toMatchObject({ name: "app", source: "r2", prefix: "app", pollIntervalMs: 1000, layout: "auto" });
    expect(databaseConfig(c, "app.db")?.prefix).toBe("app.db");
  });

  test("names: no path tricks", () => {
    for (const bad of ["", "..", "a/b", ".hidden", "a..b", "-x", "x".repeat(129), "a b", "%2e%2e"]) expect(isValidName(bad), bad).toBe(false);
    for (const ok of ["a", "app.db", "A_1-b.c", "x".repeat(128)]) expect(isValidName(ok), ok).toBe(true);
    expect(databaseConfig(parseDatabasesConfig(undefined), "../etc")).toBeNull();
  });

  test("explicit databases: renames, S3 sources, poll intervals, a root, and the default switched off", () => {
    const c = parseDatabasesConfig({
      default: false,
      poll_interval_ms: 2000,
      databases: {
        app: { prefix: "/prod/app.db/", poll_interval_ms: 500, token_secret: "APP_TOKEN", layout: "s3" },
        analytics: { source: "s3", prefix: "a", s3: { endpoint: "https://s3.example", bucket: "b", force_path_style: true } },
      },
    });
    expect(databaseConfig(c, "app")).toMatchObject({ prefix: "prod/app.db", pollIntervalMs: 500, tokenSecret: "APP_TOKEN", layout: "s3" });
    expect(databaseConfig(c, "analytics")).toMatchObject({
      source: "s3",
      pollIntervalMs: 2000,
      s3: { endpoint: "https://s3.example", region: "auto", bucket: "b", forcePathStyle: true, accessKeyIdSecret: "S3_ACCESS_KEY_ID", secretAccessKeySecret: "S3_SECRET_ACCESS_KEY" },
    });
    expect(databaseConfig(c, "other")).toBeNull(); // default off
    expect(databaseConfig(parseDatabasesConfig({ root: "replicas/" }), "x")?.prefix).toBe("replicas/x");
  });

  test("a JSON string works too", () => {
    expect(databaseConfig(parseDatabasesConfig('{"databases":{"a":{"prefix":"p"}}}'), "a")?.prefix).toBe("p");
  });

  test("every mistake is CONFIG_INVALID naming the field", () => {
    const cases: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      [[], /must be an object/],
      [{ default: "yes" }, /default/],
      [{ poll_interval_ms: 5 }, /poll_interval_ms/],
      [{ layout: "weird" }, /layout/],
      [{ databases: { "../x": {} } }, /invalid database name/],
      [{ databases: { a: { source: "gcs" } } }, /source/],
      [{ databases: { a: { prefix: "x/../y" } } }, /prefix/],
      [{ databases: { a: { source: "s3" } } }, /s3/],
      [{ databases: { a: { source: "s3", s3: { endpoint: "ftp://x", bucket: "b" } } } }, /endpoint/],
    ];
    for (const [raw, msg] of cases) {
      expect(() => parseDatabasesConfig(raw), JSON.stringify(raw)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringMatching(msg) }));
    }
  });
});

describe("LIMITS", () => {
  test("defaults, overrides, and CONFIG_INVALID for mistakes", () => {
    expect(parseLimits(undefined)).toEqual(DEFAULT_LIMITS);
    expect(parseLimits({ max_rows: 5, max_storage_requests: 40 })).toMatchObject({ maxRows: 5, maxStorageRequests: 40 });
    expect(parseLimits('{"query_timeout_ms": 100}').queryTimeoutMs).toBe(100);
    expect(() => limitsFor({ LIMITS: { max_rowz: 1 } })).toThrow(expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining("max_rowz") }));
    expect(() => limitsFor({ LIMITS: { max_rows: -1 } })).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });
});
