/** docs/openapi.json stays in step with the routes the Worker serves. */
import { exports } from "cloudflare:workers";
import { expect, test } from "vitest";
import spec from "../../docs/openapi.json";

test("every endpoint the Worker lists is described in docs/openapi.json (Hrana aside)", async () => {
  const res = await exports.default.fetch("http://localhost/");
  const { endpoints } = (await res.json()) as { endpoints: string[] };
  const described = new Set(
    Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`)),
  );
  const own = endpoints.filter((e) => !e.includes("/pipeline"));
  expect(own.length).toBeGreaterThan(0);
  for (const e of own) expect(described, e).toContain(e);
  expect(described.size).toBe(own.length);
});
