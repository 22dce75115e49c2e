/**
 * Properties of the page index over random apply sequences (fast-check):
 * entries()/merge() reproduce every lookup, clone() round-trips, a payload
 * merged twice equals it merged once, deltas (with shrinks) keep a copy
 * equal — plus the single-page-file re-set regression.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import type { FileIndex } from "../../src/ltx/file-index.ts";
import type { LtxHeader } from "../../src/ltx/header.ts";
import { type IndexedFile, PageIndex } from "../../src/page-index/page-index.ts";

const PAGE = 4096;
const MAX_PAGES = 40;

interface Step {
  pgnos: number[];
  commit: number;
}

const header = (txid: number, commit: number): LtxHeader => ({
  flags: 2, pageSize: PAGE, commit, minTxid: txid, maxTxid: txid, timestamp: txid * 1000, preApplyChecksum: 0n,
  walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeId: 0n,
});
const fileIndex = (pgnos: number[], salt: number): FileIndex => ({
  count: pgnos.length,
  pgno: Uint32Array.from(pgnos),
  offset: Float64Array.from(pgnos.map((_, i) => 100 + i * 37 + salt)),
  size: Uint32Array.from(pgnos.map((p) => 20 + (p % 7))),
});
const info = (txid: number) => ({ key: `l0/${txid}`, level: 0, minTxid: txid, maxTxid: txid, size: 10_000, etag: `e${txid}`, epoch: txid * 10 });

/** A snapshot of pages 1..commit, then files with any pages ≤ their own Commit (shrinks and regrowth included). */
const steps = fc
  .integer({ min: 1, max: MAX_PAGES })
  .chain((first) =>
    fc.tuple(
      fc.constant<Step>({ pgnos: Array.from({ length: first }, (_, i) => i + 1), commit: first }),
      fc.array(
        fc.integer({ min: 1, max: MAX_PAGES }).chain((commit) =>
          fc.uniqueArray(fc.integer({ min: 1, max: commit }), { maxLength: commit }).map((p): Step => ({ pgnos: p.sort((a, b) => a - b), commit })),
        ),
        { maxLength: 8 },
      ),
    ),
  )
  .map(([snap, rest]) => [snap, ...rest]);

function build(seq: Step[], upTo = seq.length): PageIndex {
  const x = new PageIndex(PAGE);
  seq.slice(0, upTo).forEach((s, i) => x.apply(info(i + 1), header(i + 1, s.commit), fileIndex(s.pgnos, i)));
  return x;
}

/** Every observable of an index: position, lookups, entries and the referenced files. */
function view(x: PageIndex) {
  const lookups = [];
  for (let p = 0; p <= MAX_PAGES + 1; p++) lookups.push(x.lookup(p));
  const files = x.files.map((f) => ({ ...f })).sort((a, b) => a.id - b.id);
  return { position: x.position, lookups, entries: x.entries(), files };
}

/** refs/fileMap invariant: the files are exactly those some entry points at. */
function expectConsistent(x: PageIndex): void {
  const used = new Set(x.entries().fileId);
  expect(new Set(x.files.map((f) => f.id))).toEqual(used);
  for (let p = 1; p <= x.commit; p++) {
    const id = x.fileIdOf(p);
    if (id !== 0) expect(x.lookup(p)?.file.id).toBe(id);
  }
}

describe("PageIndex properties", () => {
  test("entries()/merge() of any apply sequence reproduce the same lookups", () => {
    fc.assert(
      fc.property(steps, (seq) => {
        const x = build(seq);
        expectConsistent(x);
        const copy = new PageIndex(PAGE);
        copy.merge(x.position, x.files, x.entries());
        expect(view(copy)).toEqual(view(x));
        expectConsistent(copy);
      }),
    );
  });

  test("clone() round-trips", () => {
    fc.assert(
      fc.property(steps, (seq) => {
        const x = build(seq);
        const c = x.clone();
        expect(view(c)).toEqual(view(x));
        expect(c.meta).toEqual(x.meta);
        expectConsistent(c);
      }),
    );
  });

  test("merging a payload (full or delta) twice equals merging it once", () => {
    fc.assert(
      fc.property(steps, fc.nat(), (seq, cut) => {
        const x = build(seq);
        const since = build(seq, 1 + (cut % seq.length)).version;
        const base = build(seq, 1 + (cut % seq.length));
        const delta = x.entries(since);
        const payload = { position: x.position, files: x.filesFor(delta), entries: delta, truncateTo: x.lowestCommitSince(since) };
        const once = base.clone();
        once.merge(payload.position, payload.files, payload.entries, payload.truncateTo);
        const twice = base.clone();
        twice.merge(payload.position, payload.files, payload.entries, payload.truncateTo);
        twice.merge(payload.position, payload.files, payload.entries, payload.truncateTo);
        expect(view(twice)).toEqual(view(once));
        expect(view(once)).toEqual(view(x));
        expectConsistent(twice);
        // A full payload, twice.
        const full = new PageIndex(PAGE);
        full.merge(x.position, x.files, x.entries());
        full.merge(x.position, x.files, x.entries());
        expect(view(full)).toEqual(view(x));
        expectConsistent(full);
      }),
    );
  });

  test("a full load in pages plus a catch-up delta from the oldest page's version equals the index", () => {
    fc.assert(
      fc.property(steps, fc.integer({ min: 1, max: 7 }), fc.nat(), (seq, pageLen, cut) => {
        const mid = 1 + (cut % seq.length);
        const early = build(seq, mid);
        const x = build(seq);
        // The first pages come from the early version, the rest from the final one (the DO moved on).
        const copy = new PageIndex(PAGE);
        for (let from = 1; from <= Math.max(early.commit, 1); from += pageLen) {
          const src = from === 1 ? early : x;
          copy.merge(src.position, src.filesFor(src.entries(0, from, pageLen)), src.entries(0, from, pageLen));
        }
        const d = x.entries(early.version);
        copy.merge(x.position, x.filesFor(d), d, x.lowestCommitSince(early.version));
        for (let p = 1; p <= x.commit; p++) expect(copy.lookup(p)).toEqual(x.lookup(p));
        expectConsistent(copy);
      }),
    );
  });
});

describe("PageIndex regression: re-setting a page to the file it already points at", () => {
  test("a single-page file survives a delta that re-sets its page (paged full load catch-up)", () => {
    const x = new PageIndex(PAGE);
    x.apply(info(1), header(1, 10), fileIndex([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0));
    const before = x.version;
    x.apply(info(2), header(2, 10), fileIndex([5], 1)); // exactly one page
    const copy = new PageIndex(PAGE);
    copy.merge(x.position, x.files, x.entries());
    const delta = x.entries(before);
    expect(Array.from(delta.pgno)).toEqual([5]);
    copy.merge(x.position, x.filesFor(delta), delta);
    const ref = copy.lookup(5);
    expect(ref?.file.key).toBe("l0/2");
    expect(copy.files.map((f: IndexedFile) => f.key).sort()).toEqual(["l0/1", "l0/2"]);
    expect(copy.missingPages()).toEqual([]);
    expectConsistent(copy);
  });

  test("apply, merge and adopt carry the admission epoch; a new epoch re-points the file's pages", () => {
    const x = new PageIndex(PAGE);
    x.apply(info(1), header(1, 3), fileIndex([1, 2, 3], 0));
    expect(x.lookup(2)?.file.epoch).toBe(10);
    const copy = new PageIndex(PAGE);
    copy.merge(x.position, x.files, x.entries());
    expect(copy.lookup(2)?.file.epoch).toBe(10);
    const fresh = new PageIndex(PAGE);
    fresh.apply({ ...info(1), epoch: 11 }, header(1, 3), fileIndex([1, 2, 3], 0));
    const v = x.version;
    expect(x.adopt(fresh)).toBe(3);
    expect(x.lookup(2)?.file.epoch).toBe(11);
    expect(x.files).toHaveLength(1);
    copy.merge(x.position, x.filesFor(x.entries(v)), x.entries(v));
    expect(copy.lookup(3)?.file.epoch).toBe(11);
    expect(copy.files).toHaveLength(1);
  });
});
