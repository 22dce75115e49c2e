/**
 * @module
 * The web console (docs/console.md): one static page, its stylesheet and its
 * script, served under `/console` when the `CONSOLE` variable is `"true"`
 * (`ltx-edge dev` turns it on; deployments leave it off unless configured).
 *
 * The page holds no data, so it is served without a token; everything it
 * shows comes from the JSON API (`GET /db`, `GET /db/:name`,
 * `POST /db/:name/query`), which the script calls with the same bearer token
 * as any other client. Disabled, every console path answers exactly like a
 * route that does not exist.
 *
 * Every response carries a strict Content-Security-Policy: same-origin
 * script, style and fetch only, no inline code, nothing embeddable, and
 * Trusted Types with no policy — so HTML can never be assigned from a string
 * (`innerHTML` and friends throw), whatever a cell of a result contains.
 */
import { Hono } from "hono";
import { ApiError } from "../api/errors.ts";
import { CONSOLE_CSS, CONSOLE_HTML } from "./page.ts";
import { CONSOLE_JS } from "./script.ts";

/** What the console reads from the environment. */
export interface ConsoleBindings {
  /** `"true"` (or TOML `true`) serves the console; unset or `"false"` hides it. */
  CONSOLE?: unknown;
}

/** The policy of every console response. `connect-src 'self'`: the page talks to this Worker only. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  // Revalidate each time, so a deploy is picked up at once; the files are small.
  "cache-control": "no-cache",
};

/**
 * Whether the console is on. Anything but the two spellings of a boolean is
 * a configuration mistake, reported rather than guessed at.
 */
export function consoleEnabled(env: ConsoleBindings): boolean {
  const v = env.CONSOLE;
  if (v === undefined || v === null || v === "" || v === false || v === "false") return false;
  if (v === true || v === "true") return true;
  throw new ApiError("CONFIG_INVALID", `CONSOLE must be "true" or "false", got ${JSON.stringify(v)}`);
}

function asset(body: string, contentType: string): Response {
  return new Response(body, { headers: { ...SECURITY_HEADERS, "content-type": contentType } });
}

/** The console's routes, to be mounted at `/console`. */
export function consoleApp(): Hono<{ Bindings: ConsoleBindings }> {
  const app = new Hono<{ Bindings: ConsoleBindings }>();
  // Off: the same 404 as any unknown path, so a probe learns nothing.
  app.use("*", async (c, next) => {
    if (!consoleEnabled(c.env)) {
      return new ApiError("NOT_FOUND", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`).toResponse();
    }
    await next();
  });
  app.get("/", () => asset(CONSOLE_HTML, "text/html; charset=utf-8"));
  app.get("/console.css", () => asset(CONSOLE_CSS, "text/css; charset=utf-8"));
  app.get("/console.js", () => asset(CONSOLE_JS, "text/javascript; charset=utf-8"));
  return app;
}
