import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { DirStore } from "../../src/replica/dir.ts";
import { lockPgno } from "../../src/ltx/header.ts";
import { decodePageFrame } from "../../src/ltx/page.ts";
import { formatTxid } from "../../src/ltx/txid.ts";
import { type LtxFileInfo, Replica } from "../../src/replica/replica.ts";
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
    const restorable = states(m);
    // Never an empty loop: the final state is always restorable.
    expect(restorable.map((s) => s.txid)).toContain(m.final_txid);
    for (const s of restorable) {
      const r = await restoreToBytes(replica, { target: { kind: "txid", txid: s.txid_int }, files });
      expect(sha256(r.bytes), `txid ${s.txid}`).toBe(s.sha256);
    }
  });

  test("TXIDs not marked restorable, and the one after the final TXID, fail with a clear error", async () => {
    const files = await replica.listFiles();
    const targets = [...m.all_states.filter((x) => x.restorable === false).map((s) => s.txid_int), m.final_txid_int + 1];
    for (const txid of targets) {
      await expect(restoreToBytes(replica, { target: { kind: "txid", txid }, files }), formatTxid(txid)).rejects.toMatchObject({
        code: "PLAN_TXID_NOT_AVAILABLE",
        message: expect.stringContaining(`TXID ${formatTxid(txid)} is not restorable`),
      });
    }
  });

  test("the page index built from the plan covers every page, and its pages are the final database", async () => {
    const { plan } = await resolvePlan(replica);
    const index = await buildPageIndex(replica, plan);
    const final = m.all_states.find((s) => s.txid === m.final_txid);
    if (!final) throw new Error(`${name}: no state for the final TXID`);
    expect(index.txid).toBe(m.final_txid_int);
    expect(index.pageSize).toBe(m.page_size);
    expect(index.commit).toBe(final.page_count);
    expect(index.commit * index.pageSize).toBe(final.db_size);
    // Every page read through the index (one range read per page) assembles the database of the manifest.
    const db = new Uint8Array(final.db_size);
    const page = new Uint8Array(index.pageSize);
    for (let p = 1; p <= index.commit; p++) {
      if (p === lockPgno(index.pageSize)) continue;
      const ref = index.lookup(p);
      if (!ref) throw new Error(`${name}: page ${p} is not in the index`);
      const bytes = await replica.readRange(plan.find((f) => f.key === ref.file.key) as LtxFileInfo, ref.offset, ref.size);
      decodePageFrame(bytes, 0, bytes.length, page, { file: ref.file.key, absBase: ref.offset, expectedPgno: p });
      db.set(page, (p - 1) * index.pageSize);
    }
    expect(sha256(db)).toBe(final.sha256);
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
    expect(ok.map((s) => s.txid_int)).toContain(r.txid);
    for (const s of ok) {
      const x = await restoreToBytes(replica, { target: { kind: "txid", txid: s.txid_int }, files });
      expect(sha256(x.bytes), `txid ${s.txid}`).toBe(s.sha256);
    }
  });
});
