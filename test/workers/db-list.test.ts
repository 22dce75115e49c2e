/**
 * `GET /db` pages through a bucket of many databases: a page costs a listing
 * or two whatever the bucket holds, pages never repeat or skip a name, and
 * the configured databases are merged into the bucket's folders in name order.
 */
import { env } from "cloudflare:workers";
import { beforeAll, expect, test } from "vitest";
import { expectError } from "../support/http.ts";
import { envWith, uniqueName, viaApp } from "../support/app.ts";

const ROOT = uniqueName("dblist");
const COUNT = 1205;
const names = Array.from({ length: COUNT }, (_, i) => `db-${String(i).padStart(5, "0")}`);
// Configured names sort before, among and after the bucket's folders.
const configured = ["configured", "db-00600a", "zz-last"];
const e = envWith({ DATABASES: { root: ROOT, databases: Object.fromEntries(configured.map((n) => [n, { prefix: `elsewhere/${n}` }])) } });

beforeAll(async () => {
  // One object per database folder is all a listing needs to see it.
  for (let i = 0; i < names.length; i += 50) {
    await Promise.all(names.slice(i, i + 50).map((n) => env.BUCKET.put(`${ROOT}/${n}/0000/0000000000000001-0000000000000001.ltx`, "x")));
  }
  await env.BUCKET.put(`${ROOT}/not a valid name!/0000/x`, "x");
});

interface Page {
  databases: { name: string; source: string; prefix: string }[];
  cursor: string | null;
}

async function page(query: string): Promise<Page> {
  const r = await viaApp(e, `/db${query}`);
  expect(r.status, r.text).toBe(200);
  return JSON.parse(r.text) as Page;
}

test(`${COUNT} + 3 databases in pages of 500: every name once, in one name order`, async () => {
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | null = null;
  do {
    const p: Page = await page(`?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    sizes.push(p.databases.length);
    seen.push(...p.databases.map((d) => d.name));
    cursor = p.cursor;
  } while (cursor);
  expect(seen).toEqual([...names, ...configured].sort());
  expect(sizes).toEqual([500, 500, 208]);
});

test("the default page is 100; a bad limit or cursor is a clear 400", async () => {
  const p = await page("");
  expect(p.databases).toHaveLength(100);
  expect(p.databases[0]!.name).toBe("configured");
  expect(p.cursor).not.toBeNull();
  expectError(await viaApp(e, "/db?limit=0"), 400, "BAD_REQUEST", /limit/);
  expectError(await viaApp(e, "/db?limit=5000"), 400, "BAD_REQUEST", /limit/);
  expectError(await viaApp(e, "/db?cursor=bogus"), 400, "BAD_REQUEST", /cursor/);
});
