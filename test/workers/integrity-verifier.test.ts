/**
 * The pure integrity pieces: the streaming verifier (real fixture files of
 * both page encodings and files from the project's writer, in bounded steps,
 * resumed from persisted progress, every flipped byte caught), the
 * continuity rule (header TXIDs, page size, database checksums) and
 * planning around quarantined files.
 */
import { describe, expect, test } from "vitest";
import { decodeLtxFile } from "../../src/ltx/decoder.ts";
import { LtxError } from "../../src/ltx/errors.ts";
import { decodeFileIndexFromTail } from "../../src/ltx/file-index.ts";
import { decodeHeader } from "../../src/ltx/header.ts";
import { LtxStreamVerifier, type VerifyProgress } from "../../src/ltx/verifier.ts";
import { LtxWriter, encodeLtxFile } from "../../src/ltx/writer.ts";
import { checkContinues } from "../../src/plan/continuity.ts";
import { type PlanFile, planAvoiding } from "../../src/plan/plan.ts";
import { fixtureBytes } from "../support/seed.ts";

function verifierFor(bytes: Uint8Array, progress: VerifyProgress | null = null, file = "test.ltx"): LtxStreamVerifier {
  const header = decodeHeader(bytes, file);
  const index = decodeFileIndexFromTail(bytes, bytes.length, { file, commit: header.commit, pageSize: header.pageSize });
  return new LtxStreamVerifier({ file, size: bytes.length, header, index, progress });
}

/** Runs a verification in steps of `chunk` bytes; returns the reads made. */
function verifyInSteps(v: LtxStreamVerifier, bytes: Uint8Array, chunk: number, maxSteps = Number.POSITIVE_INFINITY): { offset: number; length: number }[] {
  const reads: { offset: number; length: number }[] = [];
  for (let r = v.nextRange(chunk); r && reads.length < maxSteps; r = v.nextRange(chunk)) {
    reads.push(r);
    v.feed(bytes.subarray(r.offset, r.offset + r.length), r.offset);
  }
  return reads;
}

function randomPages(pageSize: number, n: number, compressible: boolean): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => (compressible ? new Uint8Array(pageSize).fill(i % 251) : crypto.getRandomValues(new Uint8Array(pageSize))));
}

function snapshot(pageSize: number, pages: Uint8Array[], encoding: "block" | "frame" = "block"): Uint8Array {
  return encodeLtxFile(
    { pageSize, commit: pages.length, minTxid: 1, maxTxid: 1, timestamp: 1_700_000_000_000, encoding },
    pages.map((p, i) => [i + 1, p] as const),
  );
}

describe("LtxStreamVerifier", () => {
  test("verifies real fixture files of both encodings and writer files in bounded steps", async () => {
    const files = [
      await fixtureBytes("multi-level/ltx/9/0000000000000001-00000000000000f5.ltx"),
      await fixtureBytes("legacy-frame/ltx/0/0000000000000001-0000000000000001.ltx"),
      await fixtureBytes("pagesize-65536/ltx/0/0000000000000009-0000000000000009.ltx"),
      snapshot(4096, randomPages(4096, 300, false)),
      snapshot(1024, randomPages(1024, 500, true), "frame"),
    ];
    for (const bytes of files) {
      decodeLtxFile(bytes); // the whole-file decoder agrees they are sound
      for (const chunk of [4096, 64 * 1024, 1024 * 1024]) {
        const v = verifierFor(bytes);
        const reads = verifyInSteps(v, bytes, chunk);
        expect(v.done).toBe(true);
        const largestFrame = 65536 + 64;
        for (const r of reads) expect(r.length).toBeLessThanOrEqual(Math.max(chunk, largestFrame) + 16 + 100);
        expect(reads.reduce((n, r) => n + r.length, 0)).toBeLessThan(bytes.length + reads.length * (largestFrame + 16));
        expect(reads.length).toBeGreaterThanOrEqual(Math.ceil(bytes.length / Math.max(chunk, largestFrame + 116)));
      }
    }
  });

  test("every flipped byte of a file is caught (checksum, frame, header or index)", () => {
    const bytes = snapshot(512, randomPages(512, 6, false).concat(randomPages(512, 6, true)));
    for (let at = 0; at < bytes.length; at++) {
      const bad = bytes.slice();
      bad[at] = (bad[at] as number) ^ 0x10;
      // The served header and index come from the good bytes (read before the flip appeared).
      const header = decodeHeader(bytes);
      const index = decodeFileIndexFromTail(bytes, bytes.length, { commit: header.commit, pageSize: header.pageSize });
      const v = new LtxStreamVerifier({ file: "f", size: bytes.length, header, index });
      expect(() => verifyInSteps(v, bad, 1024), `flip at ${at}`).toThrow(LtxError);
    }
  });

  test("resumes from persisted progress (JSON) and still catches a flip after the resume point", () => {
    const bytes = snapshot(4096, randomPages(4096, 400, false));
    const first = verifierFor(bytes);
    verifyInSteps(first, bytes, 256 * 1024, 3);
    expect(first.done).toBe(false);
    const saved = JSON.parse(JSON.stringify(first.progress)) as VerifyProgress;
    expect(saved.pos).toBeGreaterThan(0);
    const resumed = verifierFor(bytes, saved);
    expect(resumed.progress).toEqual(saved);
    const rest = verifyInSteps(resumed, bytes, 256 * 1024);
    expect(resumed.done).toBe(true);
    expect(rest[0]?.offset).toBe(saved.pos); // nothing before the resume point is read again
    const bad = bytes.slice();
    bad[bytes.length - 5000] = (bad[bytes.length - 5000] as number) ^ 1;
    const again = verifierFor(bytes, saved);
    expect(() => verifyInSteps(again, bad, 256 * 1024)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^LTX_/) }));
  });

  test("progress that does not fit the file's layout restarts from byte 0", () => {
    const bytes = snapshot(4096, randomPages(4096, 20, true));
    const v = verifierFor(bytes, { pos: 12345, frame: 3, crc: { lo: 1, hi: 2 } });
    expect(v.progress.pos).toBe(0);
    verifyInSteps(v, bytes, 64 * 1024);
    expect(v.done).toBe(true);
  });

  test("an index that is not the file's own is refused before any read", () => {
    const a = snapshot(4096, randomPages(4096, 20, false));
    const b = snapshot(4096, randomPages(4096, 21, false));
    const hb = decodeHeader(b);
    const ib = decodeFileIndexFromTail(b, b.length, { commit: hb.commit, pageSize: hb.pageSize });
    expect(() => new LtxStreamVerifier({ file: "a", size: a.length, header: hb, index: ib })).toThrow(expect.objectContaining({ code: "LTX_BAD_INDEX" }));
  });
});

describe("continuity", () => {
  const FLAG = 1n << 63n;
  const w = (min: number, max: number, pageSize = 1024, checksums?: { preApply: bigint; postApply: bigint }) => {
    const x = new LtxWriter({ pageSize, commit: 2, minTxid: min, maxTxid: max, timestamp: 1_700_000_000_000, ...(checksums ? { checksums } : {}) });
    if (min === 1) x.addPage(1, new Uint8Array(pageSize).fill(1));
    x.addPage(2, new Uint8Array(pageSize).fill(min));
    return decodeLtxFile(x.finish());
  };

  test("checksummed files chain only when pre-apply equals the previous post-apply", () => {
    const snap = w(1, 1, 1024, { preApply: 0n, postApply: FLAG | 0x1234n });
    expect(snap.postApplyChecksum).toBe(FLAG | 0x1234n);
    const end = { txid: 1, pageSize: 1024, postApplyChecksum: snap.postApplyChecksum };
    expect(() => checkContinues(end, "ok", w(2, 2, 1024, { preApply: FLAG | 0x1234n, postApply: FLAG | 0x99n }).header)).not.toThrow();
    expect(() => checkContinues(end, "foreign", w(2, 2, 1024, { preApply: FLAG | 0x4321n, postApply: FLAG | 0x99n }).header)).toThrow(
      expect.objectContaining({ code: "LTX_DISCONTINUOUS", message: expect.stringContaining("pre-apply checksum") }),
    );
    // NoChecksum files (what Litestream writes) have nothing to compare: the TXIDs decide.
    expect(() => checkContinues({ ...end, postApplyChecksum: 0n }, "nochecksum", w(2, 2).header)).not.toThrow();
  });

  test("page size, TXID gaps and chains not starting at 1 are coded errors", () => {
    const end = { txid: 5, pageSize: 1024, postApplyChecksum: 0n };
    expect(() => checkContinues(end, "p", w(6, 6, 4096).header)).toThrow(expect.objectContaining({ code: "LTX_PAGE_SIZE_MISMATCH" }));
    expect(() => checkContinues(end, "gap", w(7, 7).header)).toThrow(expect.objectContaining({ code: "LTX_DISCONTINUOUS" }));
    expect(() => checkContinues(end, "old", w(4, 5).header)).toThrow(expect.objectContaining({ code: "LTX_DISCONTINUOUS" }));
    expect(() => checkContinues(end, "overlap", w(3, 8).header)).not.toThrow();
    expect(() => checkContinues(null, "first", w(2, 2).header)).toThrow(expect.objectContaining({ code: "LTX_DISCONTINUOUS" }));
    expect(() => checkContinues(null, "first", w(1, 1).header)).not.toThrow();
  });
});

describe("planning around quarantined files", () => {
  const f = (level: number, minTxid: number, maxTxid: number): PlanFile & { name: string } => ({ level, minTxid, maxTxid, name: `${level}:${minTxid}-${maxTxid}` });
  const names = (p: { name: string }[]) => p.map((x) => x.name);

  test("an L1 file covering a quarantined L0 file carries the plan past it", () => {
    const files = [f(9, 1, 1), f(0, 2, 2), f(0, 3, 3), f(1, 2, 3), f(0, 4, 4)];
    const r = planAvoiding(files, (x) => x.name === "0:2-2");
    expect(names(r.plan)).toEqual(["9:1-1", "1:2-3", "0:4-4"]);
    expect(r.blockedBy).toEqual([]);
  });

  test("without a cover the plan stops before the quarantined file and names it", () => {
    const files = [f(9, 1, 1), f(0, 2, 2), f(0, 3, 3), f(0, 4, 4)];
    const mid = planAvoiding(files, (x) => x.name === "0:3-3");
    expect(names(mid.plan)).toEqual(["9:1-1", "0:2-2"]);
    expect(names(mid.blockedBy)).toEqual(["0:3-3"]);
    const last = planAvoiding(files, (x) => x.name === "0:4-4");
    expect(names(last.plan)).toEqual(["9:1-1", "0:2-2", "0:3-3"]);
    expect(names(last.blockedBy)).toEqual(["0:4-4"]);
    const snap = planAvoiding(files, (x) => x.name === "9:1-1");
    expect(snap.plan).toEqual([]);
    expect(names(snap.blockedBy)).toEqual(["9:1-1"]);
  });

  test("a gap no quarantined file explains is still PLAN_GAP", () => {
    const files = [f(9, 1, 1), f(0, 2, 2), f(0, 4, 4), f(0, 5, 5)];
    expect(() => planAvoiding(files, (x) => x.name === "0:5-5")).toThrow(expect.objectContaining({ code: "PLAN_GAP" }));
    expect(names(planAvoiding(files.slice(0, 2), () => false).plan)).toEqual(["9:1-1", "0:2-2"]);
  });
});
