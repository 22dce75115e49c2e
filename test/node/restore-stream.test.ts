/**
 * Streaming restore: range sizes that cut frames anywhere (every fixture,
 * both encodings, 1–64 KiB pages) restore byte-identical; reads are bounded
 * ranges with one read ahead and no whole-file GET; damage in any range of a
 * multi-range file is refused, naming the file.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { dirReadInto } from "../../src/cli/dir-read.ts";
import { concatBytes } from "../../src/ltx/bytes.ts";
import { LtxError } from "../../src/ltx/errors.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { encodeLtxFile } from "../../src/ltx/writer.ts";
import { DirStore } from "../../src/replica/dir.ts";
import { Replica } from "../../src/replica/replica.ts";
import type { ObjectStore, RangeResult, StoredObject } from "../../src/replica/types.ts";
import { INDEX_LENGTH_TAIL } from "../../src/restore/ranges.ts";
import { resolvePlan, restoreToBytes } from "../../src/restore/restore.ts";
import { FIXTURES, type FixtureManifest } from "../support/fixtures.ts";
import { seededBytes } from "../support/seeded-bytes.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(ROOT, name, "manifest.json"), "utf8")) as FixtureManifest;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const TMP = mkdtempSync(join(tmpdir(), "ltx-edge-restore-stream-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** A DirStore that records every read and how many were in flight at once. */
class RecordingStore implements ObjectStore {
  readonly inner: DirStore;
  readonly ranges: { key: string; offset: number; length: number }[] = [];
  wholeGets = 0;
  private inFlight = 0;
  maxInFlight = 0;
  constructor(root: string) {
    this.inner = new DirStore(root);
  }
  get description(): string {
    return this.inner.description;
  }
  list(prefix: string, options?: { startAfter?: string }): Promise<StoredObject[]> {
    return this.inner.list(prefix, options);
  }
  async getRange(key: string, offset: number, length: number): Promise<RangeResult> {
    this.ranges.push({ key, offset, length });
    // The tail read that locates a large file's index goes with its first range; count data ranges.
    const counted = length !== INDEX_LENGTH_TAIL;
    if (counted) this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      return await this.inner.getRange(key, offset, length);
    } finally {
      if (counted) this.inFlight--;
    }
  }
  getSuffix(key: string, length: number, size?: number): Promise<RangeResult> {
    return this.inner.getSuffix(key, length, size);
  }
  get(key: string): Promise<RangeResult> {
    this.wholeGets++;
    return this.inner.get(key);
  }
  head(key: string): Promise<StoredObject | null> {
    return this.inner.head(key);
  }
}

describe.each(FIXTURES)("fixture %s", (name) => {
  const m = manifest(name);
  const store = new DirStore(join(ROOT, name));
  const replica = new Replica(store, { prefix: "" });
  const final = m.all_states.find((s) => s.txid === m.final_txid);

  test("the final TXID restores byte-identical with ranges that cut frames anywhere, read by the store or into reused buffers", async () => {
    const files = await replica.listFiles();
    // 128 is the floor (a first range holds the header); odd sizes put boundaries mid-frame, mid-varint, near the trailer.
    for (const rangeBytes of [128, 1000, 4099, 70_001]) {
      for (const readInto of [undefined, dirReadInto(store)]) {
        const r = await restoreToBytes(replica, { files, rangeBytes, ...(readInto ? { readInto } : {}) });
        expect(sha256(r.bytes), `ranges of ${rangeBytes}${readInto ? ", reused buffers" : ""}`).toBe(final?.sha256);
      }
    }
  });

  test("every restorable TXID restores byte-identical in 16,411-byte ranges", async () => {
    const files = await replica.listFiles();
    const restorable = m.all_states.filter((s) => s.restorable === true);
    expect(restorable.length).toBeGreaterThan(0);
    for (const s of restorable) {
      const r = await restoreToBytes(replica, { target: { kind: "txid", txid: s.txid_int }, files, rangeBytes: 16_411 });
      expect(sha256(r.bytes), `txid ${s.txid}`).toBe(s.sha256);
    }
  });
});

describe("files far larger than a range", () => {
  test.each(["block", "frame"] as const)("%s encoding: incompressible pages, frames cut in ranges of every size", async (encoding) => {
    const pageSize = 4096;
    const commit = 400;
    const pages = Array.from({ length: commit }, (_, i) => seededBytes(i + 1, pageSize));
    const dir = join(TMP, `synthetic-${encoding}`);
    mkdirSync(join(dir, "ltx", "0"), { recursive: true });
    const file = encodeLtxFile({ pageSize, commit, minTxid: 1, maxTxid: 1, timestamp: 0, encoding }, pages.map((p, i) => [i + 1, p] as const));
    writeFileSync(join(dir, "ltx", "0", formatLtxFilename(1, 1)), file);
    const want = sha256(concatBytes(pages));
    const store = new DirStore(dir);
    const replica = new Replica(store, { prefix: "" });
    // Ranges above 256 KiB complete a cut frame from the head of the next range; smaller ones join whole ranges.
    for (const rangeBytes of [300_007, 700_001, 4099]) {
      expect(file.length).toBeGreaterThan(2 * rangeBytes);
      expect(sha256((await restoreToBytes(replica, { rangeBytes })).bytes), `ranges of ${rangeBytes}`).toBe(want);
      expect(sha256((await restoreToBytes(replica, { rangeBytes, readInto: dirReadInto(store) })).bytes), `reused buffers of ${rangeBytes}`).toBe(want);
    }
  });
});

describe("reads", () => {
  test("bounded ranges covering each planned file once, one read ahead, no whole-file GET", async () => {
    const store = new RecordingStore(join(ROOT, "multi-level"));
    const replica = new Replica(store, { prefix: "" });
    const { plan } = await resolvePlan(replica);
    const rangeBytes = 65_536;
    expect(plan.some((f) => f.size > 2 * rangeBytes), "a file spans several ranges").toBe(true);
    store.ranges.length = 0;
    const r = await restoreToBytes(replica, { files: await replica.listFiles(), rangeBytes });
    expect(r.txid).toBe(manifest("multi-level").final_txid_int);
    expect(store.wholeGets).toBe(0);
    expect(store.maxInFlight).toBe(1);
    for (const f of plan) {
      const reads = store.ranges.filter((x) => x.key === f.key && !(x.length === INDEX_LENGTH_TAIL && x.offset === f.size - INDEX_LENGTH_TAIL));
      // Consecutive, each at most one range (plus a trailer never split off), together exactly the file.
      let at = 0;
      for (const x of reads) {
        expect(x.offset).toBe(at);
        expect(x.length).toBeLessThanOrEqual(rangeBytes + 15);
        at += x.length;
      }
      expect(at, f.key).toBe(f.size);
    }
  });
});

describe("damage in a multi-range file", () => {
  const dir = join(TMP, "multi-level");
  cpSync(join(ROOT, "multi-level"), dir, { recursive: true });
  const replica = new Replica(new DirStore(dir), { prefix: "" });
  const rangeBytes = 4099;

  /** Restores with the last multi-range planned file replaced by `mutate(original)`. */
  async function withFile(mutate: (orig: Uint8Array) => Uint8Array, check: (err: unknown, key: string) => void): Promise<void> {
    const { plan } = await resolvePlan(replica);
    const f = plan.filter((x) => x.size > 4 * rangeBytes).at(-1);
    if (!f) throw new Error("no multi-range file in the plan");
    const path = join(dir, ...f.key.split("/"));
    const orig = new Uint8Array(readFileSync(path));
    writeFileSync(path, mutate(orig));
    try {
      check(await restoreToBytes(replica, { rangeBytes }).then(() => new Error("restore resolved"), (e: unknown) => e), f.key);
    } finally {
      writeFileSync(path, orig);
    }
  }

  const flip = (b: Uint8Array, at: number): Uint8Array => {
    const c = b.slice();
    c[at] = (c[at] as number) ^ 0x10;
    return c;
  };

  test.each([
    ["a page byte in the middle", (b: Uint8Array) => flip(b, Math.floor(b.length / 2))],
    ["a page byte right after the first range", (b: Uint8Array) => flip(b, rangeBytes + 7)],
    ["the file checksum", (b: Uint8Array) => flip(b, b.length - 1)],
    ["the page index", (b: Uint8Array) => flip(b, b.length - 30)],
  ])("%s: refused, naming the file", async (_, mutate) => {
    await withFile(mutate, (err, key) => {
      expect(err).toBeInstanceOf(LtxError);
      expect((err as LtxError).file).toBe(key);
    });
  });

  test("a planned file that vanished after the listing is refused", async () => {
    const files = await replica.listFiles();
    const { plan } = await resolvePlan(replica, undefined, files);
    const f = plan.at(-1);
    if (!f) throw new Error("empty plan");
    const path = join(dir, ...f.key.split("/"));
    const orig = new Uint8Array(readFileSync(path));
    unlinkSync(path);
    try {
      await expect(restoreToBytes(replica, { files, rangeBytes })).rejects.toMatchObject({ code: "STORAGE_NOT_FOUND" });
    } finally {
      writeFileSync(path, orig);
    }
  });

  test("a bad file followed by a vanished one fails on the bad one, without a stray rejection of the read ahead", async () => {
    const files = await replica.listFiles();
    const { plan } = await resolvePlan(replica, undefined, files);
    const [a, b] = plan.slice(-2);
    if (!a || !b) throw new Error("plan too short");
    const pa = join(dir, ...a.key.split("/"));
    const pb = join(dir, ...b.key.split("/"));
    const [oa, ob] = [new Uint8Array(readFileSync(pa)), new Uint8Array(readFileSync(pb))];
    // Damage a's last frame: b's first range is in flight while a fails.
    writeFileSync(pa, flip(oa, oa.length - 200));
    unlinkSync(pb);
    try {
      const err = await restoreToBytes(replica, { files, rangeBytes }).then(() => new Error("restore resolved"), (e: unknown) => e);
      expect(err).toBeInstanceOf(LtxError);
      expect((err as LtxError).file).toBe(a.key);
    } finally {
      writeFileSync(pa, oa);
      writeFileSync(pb, ob);
    }
  });

  test("the copy is intact again", async () => {
    const m = manifest("multi-level");
    const r = await restoreToBytes(replica, { rangeBytes });
    expect(sha256(r.bytes)).toBe(m.all_states.find((s) => s.txid === m.final_txid)?.sha256);
  });
});
