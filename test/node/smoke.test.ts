import { expect, inject, test } from "vitest";
test("node smoke", () => { expect(inject("hello")).toBe("world"); });
