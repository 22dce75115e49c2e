import { env, exports } from "cloudflare:workers";
import { expect, inject, test } from "vitest";
test("workers smoke", async () => {
  expect(inject("hello")).toBe("world");
  const r = await exports.default.fetch("http://x/");
  expect(await r.text()).toBe("ltx-edge");
  const stub = env.DB_INDEX.getByName("a");
  expect(await stub.ping()).toBe("pong");
});
