/**
 * The web console's switch and headers, inside workerd: absent (a plain
 * 404) unless `CONSOLE` is "true", every console response under a strict
 * Content-Security-Policy, no inline code the policy would block, and the
 * API behind it still asking for a token. What the page does in a browser
 * is test/browser/console.test.ts.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import { CONSOLE_CSP } from "../../src/console/app.ts";
import { envWith, viaApp } from "../support/app.ts";
import { expectError } from "../support/http.ts";

const PATHS = ["/console", "/console/console.js", "/console/console.css"];

describe("disabled", () => {
  test("the deployed default (wrangler.toml sets no CONSOLE) answers 404 like an unknown route", async () => {
    for (const path of PATHS) {
      const res = await exports.default.fetch(`http://localhost${path}`);
      const r = { status: res.status, headers: res.headers, text: await res.text() };
      expectError(r, 404, "NOT_FOUND", new RegExp(`^no route for GET ${path.replace(/\./g, "\\.")}$`));
      expect(r.headers.get("content-security-policy")).toBeNull();
    }
  });

  test('CONSOLE = "false", false or "" is off too', async () => {
    for (const value of ["false", false, ""]) {
      expectError(await viaApp(envWith({ CONSOLE: value }), "/console"), 404, "NOT_FOUND");
    }
  });

  test("any other value is a configuration error, named", async () => {
    for (const value of ["yes", "1", 1, "TRUE"]) {
      expectError(await viaApp(envWith({ CONSOLE: value }), "/console"), 500, "CONFIG_INVALID", /^CONSOLE must be "true" or "false", got /);
    }
  });
});

describe("enabled", () => {
  const on = () => envWith({ CONSOLE: "true" });

  test("page, script and stylesheet, each with its type and the strict policy", async () => {
    const want: Record<string, RegExp> = {
      "/console": /^text\/html; charset=utf-8$/,
      "/console/console.js": /^text\/javascript; charset=utf-8$/,
      "/console/console.css": /^text\/css; charset=utf-8$/,
    };
    for (const [path, type] of Object.entries(want)) {
      for (const e of [on(), envWith({ CONSOLE: true })]) {
        const r = await viaApp(e, path);
        expect(r.status, path).toBe(200);
        expect(r.headers.get("content-type"), path).toMatch(type);
        expect(r.headers.get("content-security-policy"), path).toBe(CONSOLE_CSP);
        expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
        expect(r.text.length, path).toBeGreaterThan(500);
      }
    }
  });

  test("the policy allows only this origin's script, style and API, no inline code, no HTML from strings", () => {
    const d = new Map(CONSOLE_CSP.split("; ").map((p) => [p.split(" ")[0], p.split(" ").slice(1).join(" ")]));
    expect(d.get("default-src")).toBe("'none'");
    expect(d.get("script-src")).toBe("'self'");
    expect(d.get("style-src")).toBe("'self'");
    expect(d.get("connect-src")).toBe("'self'");
    expect(d.get("frame-ancestors")).toBe("'none'");
    expect(d.get("require-trusted-types-for")).toBe("'script'");
    expect(d.get("trusted-types")).toBe("'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*|data:/);
  });

  test("the page has nothing the policy would block: no inline script, style or handlers", async () => {
    const html = (await viaApp(on(), "/console")).text;
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    expect(scripts).toEqual(['<script src="/console/console.js" defer>']);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    // Every form control has a label.
    for (const id of ["token", "db", "sql", "params", "txid", "timestamp"]) expect(html, id).toContain(`<label for="${id}">`);
    const js = (await viaApp(on(), "/console/console.js")).text;
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
  });

  test("the page is public (it holds no data); the API it calls still wants the token", async () => {
    const e = envWith({ CONSOLE: "true", API_TOKEN: "s3cret" });
    expect((await viaApp(e, "/console", {}, "https://edge.example")).status).toBe(200);
    expectError(await viaApp(e, "/db", {}, "https://edge.example"), 401, "UNAUTHORIZED");
    const ok = await viaApp(e, "/db", { headers: { authorization: "Bearer s3cret" } }, "https://edge.example");
    expect(ok.status, ok.text).toBe(200);
  });

  test("unknown console paths and other methods are still 404", async () => {
    expectError(await viaApp(on(), "/console/nope.js"), 404, "NOT_FOUND");
    expectError(await viaApp(on(), "/console", { method: "POST" }), 404, "NOT_FOUND");
  });
});
