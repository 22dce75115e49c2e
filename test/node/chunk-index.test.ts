/**
 * The chunked page index, pure parts: the streaming page-index decoder agrees
 * with the whole-buffer one on every fixture file and every way of cutting
 * it; chunks built by streaming a restore plan locate every page exactly as
 * the established PageIndex does (every fixture, every restorable TXID, and
 * synthetic plans spanning many chunks with shrinks and regrowth); the chunk
 * encoding is deterministic and round-trips; roots and deltas compose.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { type FileIndex, decodeFileIndexFromTail, locateFileIndex } from "../../src/ltx/file-index.ts";
import { type LtxHeader, lockPgno } from "../../src/ltx/header.ts";
import { FileIndexDecoder, streamFileIndex } from "../../src/ltx/index-stream.ts";
import { encodeLtxFile } from "../../src/ltx/writer.ts";
import { buildChunks, IncompletePlanError, type PlanSource } from "../../src/page-index/chunk-build.ts";
import { CHUNK_PAGES, ChunkData, type ChunkFile, ChunkView, chunkCount, chunkId } from "../../src/page-index/chunk.ts";
import { PageIndex } from "../../src/page-index/page-index.ts";
import { applyDelta, diffRoots, type IndexRoot, hexToId, ID_BYTES, idToHex } from "../../src/page-index/root.ts";
import { DirStore } from "../../src/replica/dir.ts";
import { type LtxFileInfo, Replica } from "../../src/replica/replica.ts";
import { resolvePlan } from "../../src/restore/restore.ts";
import { FIXTURES, type FixtureManifest } from "../support/fixtures.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures");
const manifest = (name: string): FixtureManifest => JSON.parse(readFileSync(join(ROOT, name, "manifest.json"), "utf8")) as FixtureManifest;

const asChunkFile = (f: Pick<LtxFileInfo, "key" | "etag" | "size" | "level" | "minTxid" | "maxTxid">): ChunkFile => ({
  key: f.key,
  etag: f.etag,
  size: f.size,
  level: f.level,
  minTxid: f.minTxid,
  maxTxid: f.maxTxid,
  epoch: 0,
});

/** Every chunk of a plan, built by streaming, as views. */
async function chunksOf(pageSize: number, commit: number, sources: PlanSource[]): Promise<ChunkView[]> {
  const out: ChunkView[] = [];
  await buildChunks(pageSize, commit, sources, (c) => {
    out.push(ChunkView.decode(c.encode()));
  });
  return out;
}

function expectSameLocations(index: PageIndex, chunks: ChunkView[]): void {
  expect(chunks.length).toBe(chunkCount(index.commit));
  for (let p = 1; p <= index.commit; p++) {
    const want = index.lookup(p);
    const got = chunks[Math.floor((p - 1) / CHUNK_PAGES)]?.get(p) ?? null;
    if (want === null) {
      expect(got, `page ${p}`).toBeNull();
      continue;
    }
    expect(got?.file.key, `page ${p}`).toBe(want.file.key);
    expect(got?.offset, `page ${p}`).toBe(want.offset);
    expect(got?.size, `page ${p}`).toBe(want.size);
  }
}

describe("streaming page-index decoder", () => {
  const files: { path: string; bytes: Uint8Array }[] = [];
  for (const name of FIXTURES) {
    for (const f of manifest(name).files ?? []) files.push({ path: `${name}/${f.path}`, bytes: new Uint8Array(readFileSync(join(ROOT, name, f.path))) });
  }

  test("agrees with the whole-buffer decoder on every fixture file, however the bytes are cut", async () => {
    expect(files.length).toBeGreaterThan(100);
    for (const { path, bytes } of files) {
      const whole = decodeFileIndexFromTail(bytes, bytes.length, { file: path });
      const { start, end } = locateFileIndex(bytes, bytes.length, path);
      for (const cut of [1, 3, 7, 64, 1000, end - start]) {
        const got: number[] = [];
        for await (const batch of streamFileIndex(async (o, l) => bytes.slice(o, o + l), start, end, { file: path }, cut)) {
          for (let i = 0; i < batch.count; i++) got.push(batch.pgno[i] as number, batch.offset[i] as number, batch.size[i] as number);
        }
        const want: number[] = [];
        for (let i = 0; i < whole.count; i++) want.push(whole.pgno[i] as number, whole.offset[i] as number, whole.size[i] as number);
        expect(got, `${path} in pieces of ${cut}`).toEqual(want);
      }
    }
  });

  test("rejects what the whole-buffer decoder rejects (flipped bytes in the index)", () => {
    let checked = 0;
    fc.assert(
      fc.property(fc.nat(files.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 50 }), (fi, pos, xor, cut) => {
        const { path, bytes } = files[fi] as { path: string; bytes: Uint8Array };
        const { start, end } = locateFileIndex(bytes, bytes.length, path);
        const bad = bytes.slice();
        const at = start + (pos % (end - start));
        bad[at] = (bad[at] as number) ^ xor;
        let wholeOk = true;
        try {
          decodeFileIndexFromTail(bad, bad.length);
        } catch {
          wholeOk = false;
        }
        let streamOk = true;
        try {
          const dec = new FileIndexDecoder(start, end);
          for (let o = start; o < end; o += cut) dec.push(bad.slice(o, Math.min(end, o + cut)));
          if (!dec.done) streamOk = false;
        } catch {
          streamOk = false;
        }
        checked++;
        expect(streamOk).toBe(wholeOk);
      }),
      { numRuns: 400 },
    );
    expect(checked).toBe(400);
  });
});

describe("chunks built from restore plans", () => {
  test.each(FIXTURES)("%s: every restorable TXID locates every page as the PageIndex does", async (name) => {
    const m = manifest(name);
    const replica = new Replica(new DirStore(join(ROOT, name)), { prefix: "" });
    const listed = await replica.listFiles();
    const states = m.all_states.filter((s) => s.restorable === true);
    expect(states.length).toBeGreaterThan(0);
    for (const s of states) {
      const { plan } = await resolvePlan(replica, { kind: "txid", txid: s.txid_int }, listed);
      const parts = await Promise.all(plan.map((f) => replica.readIndex(f)));
      const index = new PageIndex(parts[0]?.header.pageSize ?? 0);
      plan.forEach((f, i) => index.apply(f, (parts[i] as { header: LtxHeader }).header, (parts[i] as { index: FileIndex }).index));
      expect(index.commit).toBe(s.page_count);
      const chunks = await chunksOf(
        index.pageSize,
        index.commit,
        plan.map((f, i) => ({ file: asChunkFile(f), entries: [(parts[i] as { index: FileIndex }).index] })),
      );
      expectSameLocations(index, chunks);
    }
  });

  /** A synthetic file: pages → frames at made-up offsets (the chunk layer never reads frames). */
  const synthetic = (key: string, level: number, min: number, max: number, pgnos: number[]): { info: LtxFileInfo; index: FileIndex } => ({
    info: { key, level, minTxid: min, maxTxid: max, size: 1e9, etag: `"${key}"`, uploaded: 0 },
    index: {
      count: pgnos.length,
      pgno: Uint32Array.from(pgnos),
      offset: Float64Array.from(pgnos.map((p) => 100 + p * 37)),
      size: Uint32Array.from(pgnos.map((p) => 20 + (p % 17))),
    },
  });
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  const header = (min: number, max: number, commit: number, pageSize: number): LtxHeader => ({
    flags: 2, pageSize, commit, minTxid: min, maxTxid: max, timestamp: max, preApplyChecksum: 0n, walOffset: 0, walSize: 0, walSalt1: 0, walSalt2: 0, nodeId: 0n,
  });

  test("plans spanning many chunks, with shrink and regrowth, across batch boundaries", async () => {
    fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 * CHUNK_PAGES }),
        fc.array(fc.record({ commit: fc.integer({ min: 1, max: 5 * CHUNK_PAGES }), pages: fc.array(fc.nat(), { maxLength: 300 }) }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 5000 }),
        async (snapCommit, changes, batch) => {
          const pageSize = 1024;
          const lock = lockPgno(pageSize);
          const files = [synthetic("snap", 9, 1, 1, range(1, snapCommit).filter((p) => p !== lock))];
          let commit = snapCommit;
          changes.forEach((c, i) => {
            // Growth must bring every new page (as Litestream's L0 files do).
            const pg = new Set(c.pages.map((x) => (x % c.commit) + 1));
            for (let p = commit + 1; p <= c.commit; p++) pg.add(p);
            pg.delete(lock);
            files.push(synthetic(`l0-${i}`, 0, i + 2, i + 2, [...pg].sort((a, b) => a - b)));
            commit = c.commit;
          });
          const index = new PageIndex(pageSize);
          const commits = [snapCommit, ...changes.map((c) => c.commit)];
          files.forEach((f, i) => index.apply(f.info, header(f.info.minTxid, f.info.maxTxid, commits[i] as number, pageSize), f.index));
          // Feed each file's entries in batches of `batch`, as range reads would.
          const sources: PlanSource[] = files.map((f) => ({
            file: asChunkFile(f.info),
            entries: (function* () {
              for (let i = 0; i < f.index.count; i += batch) {
                yield { count: Math.min(batch, f.index.count - i), pgno: f.index.pgno.subarray(i, i + batch), offset: f.index.offset.subarray(i, i + batch), size: f.index.size.subarray(i, i + batch) };
              }
            })(),
          }));
          expectSameLocations(index, await chunksOf(pageSize, commit, sources));
        },
      ),
      { numRuns: 40 },
    );
  });

  test("a plan that leaves a page without a version is refused", async () => {
    const f = synthetic("snap", 9, 1, 1, [1, 2, 4]);
    await expect(chunksOf(4096, 4, [{ file: asChunkFile(f.info), entries: [f.index] }])).rejects.toBeInstanceOf(IncompletePlanError);
  });

  test("a real LTX snapshot of more than one chunk, streamed in small ranges", async () => {
    const pageSize = 512;
    const commit = 3 * CHUNK_PAGES + 123;
    const page = (p: number) => new Uint8Array(pageSize).fill(p % 251);
    const bytes = encodeLtxFile({ pageSize, commit, minTxid: 1, maxTxid: 1 }, range(1, commit).map((p) => [p, page(p)] as const));
    const { start, end } = locateFileIndex(bytes, bytes.length);
    const info: LtxFileInfo = { key: "db/0009/snap.ltx", level: 9, minTxid: 1, maxTxid: 1, size: bytes.length, etag: "e", uploaded: 0 };
    const chunks = await chunksOf(pageSize, commit, [
      { file: asChunkFile(info), entries: streamFileIndex(async (o, l) => bytes.slice(o, o + l), start, end, { commit, pageSize }, 4096) },
    ]);
    const whole = decodeFileIndexFromTail(bytes, bytes.length);
    const index = new PageIndex(pageSize);
    index.apply(info, header(1, 1, commit, pageSize), whole);
    expectSameLocations(index, chunks);
  });
});

describe("chunk encoding", () => {
  const a: ChunkFile = { key: "a", etag: "1", size: 10, level: 0, minTxid: 2, maxTxid: 2, epoch: 0 };
  const b: ChunkFile = { key: "b", etag: "1", size: 10, level: 9, minTxid: 1, maxTxid: 1, epoch: 3 };

  test("deterministic: equal contents give equal bytes and ids, whatever the order of edits", async () => {
    const x = new ChunkData(2, 4096, CHUNK_PAGES);
    const y = new ChunkData(2, 4096, CHUNK_PAGES);
    const first = 2 * CHUNK_PAGES + 1;
    x.set(first, b, 100, 50);
    x.set(first + 1, a, 200, 60);
    y.set(first + 1, b, 1, 1); // overwritten below
    y.set(first + 1, a, 200, 60);
    y.set(first, b, 100, 50);
    const ex = x.encode();
    const ey = y.encode();
    expect(ey).toEqual(ex);
    expect(await chunkId(ey)).toBe(await chunkId(ex));
    expect(ChunkData.decode(ex).encode()).toEqual(ex);
    const v = ChunkView.decode(ex);
    expect(v.get(first)).toEqual({ file: b, offset: 100, size: 50 });
    expect(v.get(first + 2)).toBeNull();
    expect(v.get(first - 1)).toBeNull();
    expect(v.files).toEqual([a, b]); // only files in use, sorted
  });

  test("truncation drops pages and unused files; a changed epoch is a different chunk", async () => {
    const x = new ChunkData(0, 4096, 10);
    x.set(1, a, 1, 1);
    x.set(10, b, 2, 2);
    const before = await chunkId(x.encode());
    x.truncate(5);
    const v = ChunkView.decode(x.encode());
    expect(v.count).toBe(5);
    expect(v.files).toEqual([a]);
    const y = new ChunkData(0, 4096, 10);
    y.set(1, a, 1, 1);
    y.set(10, { ...b, epoch: 4 }, 2, 2);
    expect(await chunkId(y.encode())).not.toBe(before);
  });

  test("malformed bytes are refused", () => {
    const good = new ChunkData(0, 4096, 1);
    good.set(1, a, 1, 1);
    const bytes = good.encode();
    expect(() => ChunkView.decode(bytes.subarray(0, 10))).toThrow(/too short/);
    const bad = bytes.slice();
    bad[0] = 0;
    expect(() => ChunkView.decode(bad)).toThrow(/magic/);
    expect(() => ChunkView.decode(bytes.subarray(0, bytes.length - 1))).toThrow();
  });
});

describe("roots and deltas", () => {
  const root = (version: number, commit: number, ids: string[]): IndexRoot => {
    const chunks = new Uint8Array(ids.length * ID_BYTES);
    ids.forEach((h, i) => hexToId(h, chunks, i));
    return { lineage: "L", generation: 1, version, pageSize: 4096, commit, txid: version, timestamp: 0, chunks };
  };
  const h = (n: number) => n.toString(16).padStart(32, "0");

  test("a delta carries only changed chunks and reproduces the newer root", () => {
    const r1 = root(1, 3 * CHUNK_PAGES, [h(1), h(2), h(3)]);
    const r2 = root(2, 4 * CHUNK_PAGES - 5, [h(1), h(9), h(3), h(4)]);
    const d = diffRoots(r1, r2);
    expect(Array.from(d.changed)).toEqual([1, 3]);
    expect(d.ids.length).toBe(2 * ID_BYTES);
    const r = applyDelta(r1, d);
    expect(r).toEqual(r2);
    expect(idToHex(r1.chunks, 1)).toBe(h(2)); // the older root is untouched
    // Shrinking drops chunks.
    const r3 = root(3, CHUNK_PAGES, [h(1)]);
    expect(applyDelta(r2, diffRoots(r2, r3))).toEqual(r3);
    expect(() => applyDelta(r1, diffRoots(r2, r3))).toThrow(/does not apply/);
  });
});
