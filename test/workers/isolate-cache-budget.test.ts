/**
 * One isolate cache budget shared by raw segments and decoded pages
 * (docs/limits.md): either tier may use all of it; when both together exceed
 * it, segments are evicted first down to a floor of an eighth, then pages.
 */
import { expect, test } from "vitest";
import { IsolateCaches } from "../../src/pages/page-fetcher.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const block = () => new Uint8Array(256 * KiB);

test("a read that decodes few pages may keep raw segments up to the whole budget", () => {
  const c = IsolateCaches.fromBudget(8 * MiB);
  for (let i = 0; i < 32; i++) c.segments.set(`s${i}`, block());
  expect(c.segments.byteLength).toBe(8 * MiB);
  expect(c.segments.size).toBe(32);
  c.segments.set("s32", block());
  expect(c.segments.byteLength).toBe(8 * MiB);
  expect(c.segments.get("s0")).toBeUndefined();
});

test("decoded pages push segments out first, down to the floor (an eighth), and only then each other", () => {
  const c = IsolateCaches.fromBudget(8 * MiB);
  for (let i = 0; i < 32; i++) c.segments.set(`s${i}`, block());
  for (let i = 0; i < 24; i++) c.pages.set(`p${i}`, block());
  expect(c.pages.byteLength).toBe(6 * MiB);
  expect(c.segments.byteLength).toBe(2 * MiB);
  expect(c.segments.get("s31")).toBeDefined(); // the newest segments stayed
  for (let i = 24; i < 40; i++) c.pages.set(`p${i}`, block());
  expect(c.segments.byteLength).toBe(1 * MiB); // the floor: 8 MiB / 8
  expect(c.pages.byteLength).toBe(7 * MiB);
  expect(c.pages.get("p0")).toBeUndefined();
  expect(c.pages.get("p39")).toBeDefined();
  expect(c.segments.byteLength + c.pages.byteLength).toBeLessThanOrEqual(8 * MiB);
});

test("the floor is an eighth of the budget, between 256 KiB and 8 MiB; pages never take the floor", () => {
  expect(IsolateCaches.fromBudget(36 * MiB).pages.maxBytes).toBe(31.5 * MiB);
  expect(IsolateCaches.fromBudget(1 * MiB).pages.maxBytes).toBe(768 * KiB);
  expect(IsolateCaches.fromBudget(256 * MiB).pages.maxBytes).toBe(248 * MiB);
  expect(IsolateCaches.fromBudget(36 * MiB).segments.maxBytes).toBe(36 * MiB);
});
