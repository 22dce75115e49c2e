import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DirStore } from "../../src/replica/dir.ts";
import { Replica } from "../../src/replica/replica.ts";
import { buildPageIndex, resolvePlan, restoreToBytes } from "../../src/restore/restore.ts";
import { FIXTURES, type FixtureManifest, type FixtureState } from "../support/fixtures.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(ROOT, name, "manifest.json"), "utf8")) as FixtureManifest;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function states(m: FixtureManifest, key: "restorable" | "restorable_before" | "restorable_after" = "restorable"): FixtureState[] {
  return m.all_states.filter((s) => s[key] === true);
}

describe.each(FIXTURES)("fixture %s", (name) => {
  const m = manifest(name);
  const replica = new Replica(new DirStore(join(ROOT, name)), { prefix: "" });

  test("restores the final TXID byte-identical", async () => {
    const r = await restoreToBytes(replica);
    const final = m.all_states.find((s) => s.txid === m.final_txid);
    expect(r.txid).toBe(m.final_txid_int);
    expect(replica.layout).toBe("file");
    expect(sha256(r.bytes)).toBe(final?.sha256);
  });

  test("restores every restorable TXID byte-identical", async () => {
    const files = await replica.listFiles();
    for (const s of states(m)) {
      const r = await restoreToBytes(replica, { target: { kind: "txid", txid: s.txid_int }, files });
      expect(sha256(r.bytes), `txid ${s.txid}`).toBe(s.sha256);
    }
  });

  test("TXIDs not marked restorable fail with a clear error", async () => {
    const files = await replica.listFiles();
    for (const s of m.all_states.filter((x) => x.restorable === false)) {
      await expect(restoreToBytes(replica, { target: { kind: "txid", txid: s.txid_int }, files })).rejects.toMatchObject({
        code: "PLAN_TXID_NOT_AVAILABLE",
      });
    }
  });

  test("the page index built from the plan covers every page", async () => {
    const { plan } = await resolvePlan(replica);
    const index = await buildPageIndex(replica, plan);
    expect(index.txid).toBe(m.final_txid_int);
    expect(index.commit * index.pageSize).toBe(m.all_states.find((s) => s.txid === m.final_txid)?.db_size);
  });
});

describe.each(["before", "after"] as const)("poll fixture, %s", (state) => {
  const m = manifest("poll");
  const replica = new Replica(new DirStore(join(ROOT, "poll", state)), { prefix: "" });
  const key = state === "before" ? "restorable_before" : "restorable_after";
  test("restores its final and every restorable TXID", async () => {
    const r = await restoreToBytes(replica);
    expect(r.txid).toBe(Number.parseInt((state === "before" ? m.before_final_txid : m.after_final_txid) ?? "", 16));
    const files = await replica.listFiles();
    const ok = states(m, key);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.map((s) => s.txid_int)).toContain(r.txid);
    for (const s of ok) {
      const x = await restoreToBytes(replica, { target: { kind: "txid", txid: s.txid_int }, files });
      expect(sha256(x.bytes), `txid ${s.txid}`).toBe(s.sha256);
    }
  });
});
