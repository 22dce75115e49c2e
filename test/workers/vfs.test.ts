/**
 * @module
 * The LTX VFS: the byte-level read path (offsets, EOF, lock page, page-1
 * patch), the VFS callbacks themselves, and whole databases of several page
 * sizes read through SQLite on both wa-sqlite builds.
 */

import * as VFS from "@journeyapps/wa-sqlite/src/VFS.js";
import { beforeAll, describe, expect, test } from "vitest";
import { SqlEngine } from "../../src/sql/engine.ts";
import { LtxVfs } from "../../src/vfs/ltx-vfs.ts";
import { lockPageNumber, type PageSource } from "../../src/vfs/page-source.ts";
import { patchPage1, readRange } from "../../src/vfs/read-range.ts";
import { chooseBuild, jspiSupported } from "../../src/vfs/sqlite-module.ts";
import { asWalPrimary, buildStandardDb, CodedError, TestPageSource } from "../support/sqlite-db.ts";

const LIMITS = { maxRows: 100_000, maxResultBytes: 50_000_000, timeoutMs: 20_000 };

/** A synthetic source: page `n` is filled with byte `n & 0xff`; page 1 starts with a fake header. */
class PatternSource implements PageSource {
  readonly calls: number[] = [];
  constructor(
    readonly pageSize: number,
    readonly pageCount: number,
    readonly txid: number,
  ) {}
  async readPage(pgno: number): Promise<Uint8Array> {
    this.calls.push(pgno);
    if (pgno < 1 || pgno > this.pageCount) throw new Error(`out of range: ${pgno}`);
    if (pgno === lockPageNumber(this.pageSize)) throw new Error("lock page must never be requested");
    const page = new Uint8Array(this.pageSize).fill(pgno & 0xff);
    if (pgno === 1) {
      page.set(new TextEncoder().encode("SQLite format 3\0"));
      page[18] = 2;
      page[19] = 2;
      page.set([0xaa, 0xbb, 0xcc, 0xdd], 24);
    }
    return page;
  }
}

/** Byte equality without vitest's (slow, element-wise) deep equality on big arrays. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function buffer(n: number): Uint8Array {
  return new Uint8Array(n).fill(0x5a);
}

describe("readRange", () => {
  test("reads whole pages, partial pages and ranges spanning pages", async () => {
    const src = new PatternSource(1024, 10, 1);
    const whole = buffer(1024);
    expect(await readRange(src, whole, 1024 * 4)).toBe(VFS.SQLITE_OK);
    expect(whole.every((b) => b === 5)).toBe(true);

    const span = buffer(1500);
    expect(await readRange(src, span, 2 * 1024 + 1000)).toBe(VFS.SQLITE_OK);
    expect(span.subarray(0, 24).every((b) => b === 3)).toBe(true);
    expect(span.subarray(24, 1048).every((b) => b === 4)).toBe(true);
    expect(span.subarray(1048).every((b) => b === 5)).toBe(true);
    expect(src.calls.slice(-3)).toEqual([3, 4, 5]);
  });

  test("page 1 is patched in the copy only: 18/19 = 1 and 24..27 = low 32 bits of the TXID", async () => {
    const txid = 2 ** 32 + 0x01020304;
    const raw = new PatternSource(4096, 3, txid);
    const pristine = await raw.readPage(1);
    const kept = new Uint8Array(4096);
    const src: PageSource = {
      pageSize: 4096,
      pageCount: 3,
      txid,
      readPage: async () => kept,
    };
    kept.set(pristine);

    const header = buffer(100); // SQLite's first read
    await readRange(src, header, 0);
    expect([header[18], header[19]]).toEqual([1, 1]);
    expect(Array.from(header.subarray(24, 28))).toEqual([0x01, 0x02, 0x03, 0x04]);
    expect(new TextDecoder().decode(header.subarray(0, 15))).toBe("SQLite format 3");

    const counter = buffer(16); // the change-counter probe at every SHARED lock
    await readRange(src, counter, 24);
    expect(Array.from(counter.subarray(0, 4))).toEqual([0x01, 0x02, 0x03, 0x04]);

    expect(sameBytes(kept, pristine)).toBe(true); // the source's buffer was never written
    expect([kept[18], kept[19]]).toEqual([2, 2]);
    expect(patchPage1(kept, 0xffffffff)[27]).toBe(0xff);
  });

  test.each([512, 4096, 65536])("the lock page reads as zeros without asking the source (page size %i)", async (pageSize) => {
    const lock = lockPageNumber(pageSize);
    expect(lock).toBe(0x40000000 / pageSize + 1);
    const src = new PatternSource(pageSize, lock + 5, 9);
    const buf = buffer(pageSize * 3);
    // the page before, the lock page, the page after
    expect(await readRange(src, buf, (lock - 2) * pageSize)).toBe(VFS.SQLITE_OK);
    expect(src.calls).toEqual([lock - 1, lock + 1]);
    expect(buf.subarray(0, pageSize).every((b) => b === ((lock - 1) & 0xff))).toBe(true);
    expect(buf.subarray(pageSize, 2 * pageSize).every((b) => b === 0)).toBe(true);
    expect(buf.subarray(2 * pageSize).every((b) => b === ((lock + 1) & 0xff))).toBe(true);

    const partial = buffer(16);
    expect(await readRange(src, partial, 0x40000000 + 8)).toBe(VFS.SQLITE_OK);
    expect(partial.every((b) => b === 0)).toBe(true);
    expect(src.calls).toHaveLength(2);
  });

  test("reads past EOF zero-fill and return SQLITE_IOERR_SHORT_READ", async () => {
    const src = new PatternSource(1024, 4, 1);
    const beyond = buffer(1024);
    expect(await readRange(src, beyond, 4 * 1024)).toBe(VFS.SQLITE_IOERR_SHORT_READ);
    expect(beyond.every((b) => b === 0)).toBe(true);
    expect(src.calls).toEqual([]);

    const straddle = buffer(1024);
    expect(await readRange(src, straddle, 3 * 1024 + 512)).toBe(VFS.SQLITE_IOERR_SHORT_READ);
    expect(straddle.subarray(0, 512).every((b) => b === 4)).toBe(true);
    expect(straddle.subarray(512).every((b) => b === 0)).toBe(true);
    expect(src.calls).toEqual([4]);

    const empty = new PatternSource(4096, 0, 1);
    const none = buffer(100);
    expect(await readRange(empty, none, 0)).toBe(VFS.SQLITE_IOERR_SHORT_READ);
    expect(none.every((b) => b === 0)).toBe(true);
  });

  test("source errors propagate unchanged; wrong page lengths are VFS_BAD_PAGE", async () => {
    const boom = new CodedError("PAGE_FETCH_FAILED", "boom");
    const failing: PageSource = { pageSize: 1024, pageCount: 4, txid: 1, readPage: () => Promise.reject(boom) };
    await expect(readRange(failing, buffer(10), 2048)).rejects.toBe(boom);
    const short: PageSource = { pageSize: 1024, pageCount: 4, txid: 1, readPage: async () => new Uint8Array(512) };
    await expect(readRange(short, buffer(10), 2048)).rejects.toMatchObject({ code: "VFS_BAD_PAGE" });
  });
});

describe("LtxVfs callbacks", () => {
  const outFlags = (): DataView => new DataView(new ArrayBuffer(8));
  const MAIN_RW = VFS.SQLITE_OPEN_MAIN_DB | VFS.SQLITE_OPEN_READWRITE | VFS.SQLITE_OPEN_CREATE;

  test("only pinned main databases open, always read-only; journals, WAL and temp files never", () => {
    const vfs = new LtxVfs({});
    vfs.pin("app.db", new PatternSource(4096, 4, 3));
    const flags = outFlags();
    expect(vfs.jOpen("app.db", 1, MAIN_RW, flags)).toBe(VFS.SQLITE_OK);
    expect(flags.getInt32(0, true) & VFS.SQLITE_OPEN_READONLY).toBe(VFS.SQLITE_OPEN_READONLY);
    expect(flags.getInt32(0, true) & VFS.SQLITE_OPEN_READWRITE).toBe(0);
    expect(vfs.jOpen("app.db-journal", 2, VFS.SQLITE_OPEN_MAIN_JOURNAL | VFS.SQLITE_OPEN_CREATE, outFlags())).toBe(
      VFS.SQLITE_CANTOPEN,
    );
    expect(vfs.jOpen("app.db-wal", 3, VFS.SQLITE_OPEN_WAL | VFS.SQLITE_OPEN_CREATE, outFlags())).toBe(VFS.SQLITE_CANTOPEN);
    expect(vfs.jOpen(null, 4, VFS.SQLITE_OPEN_TEMP_DB | VFS.SQLITE_OPEN_CREATE, outFlags())).toBe(VFS.SQLITE_CANTOPEN);
    expect(vfs.jOpen("other.db", 5, MAIN_RW, outFlags())).toBe(VFS.SQLITE_CANTOPEN);
  });

  test("xAccess says journals/WAL/shm are absent; writes, truncates, syncs and deletes are refused", () => {
    const vfs = new LtxVfs({});
    vfs.pin("app.db", new PatternSource(4096, 4, 3));
    vfs.jOpen("app.db", 1, VFS.SQLITE_OPEN_MAIN_DB | VFS.SQLITE_OPEN_READONLY, outFlags());
    const res = outFlags();
    for (const name of ["app.db-journal", "app.db-wal", "app.db-shm", "other.db"]) {
      res.setInt32(0, 7, true);
      expect(vfs.jAccess(name, VFS.SQLITE_ACCESS_EXISTS, res)).toBe(VFS.SQLITE_OK);
      expect(res.getInt32(0, true)).toBe(0);
    }
    vfs.jAccess("app.db", VFS.SQLITE_ACCESS_READWRITE, res);
    expect(res.getInt32(0, true)).toBe(0);
    expect(vfs.jWrite()).toBe(VFS.SQLITE_READONLY);
    expect(vfs.jTruncate()).toBe(VFS.SQLITE_READONLY);
    expect(vfs.jSync()).toBe(VFS.SQLITE_READONLY);
    expect(vfs.jDelete()).toBe(VFS.SQLITE_READONLY);
    expect(vfs.jLock()).toBe(VFS.SQLITE_OK);
    expect(vfs.jUnlock()).toBe(VFS.SQLITE_OK);
    expect(vfs.jDeviceCharacteristics() & VFS.SQLITE_IOCAP_IMMUTABLE).toBe(0);
  });

  test("xFileSize is exactly pageCount × pageSize, even beyond 4 GiB", () => {
    const vfs = new LtxVfs({});
    vfs.pin("big.db", new PatternSource(65536, 70_000, 3));
    vfs.jOpen("big.db", 1, VFS.SQLITE_OPEN_MAIN_DB | VFS.SQLITE_OPEN_READONLY, outFlags());
    const size = outFlags();
    expect(vfs.jFileSize(1, size)).toBe(VFS.SQLITE_OK);
    expect(size.getBigInt64(0, true)).toBe(70_000n * 65536n);
  });

  test("a readPage error becomes SQLITE_IOERR_READ and the original error is kept once", async () => {
    const vfs = new LtxVfs({});
    const boom = new CodedError("PAGE_FETCH_FAILED", "boom");
    vfs.pin("app.db", { pageSize: 1024, pageCount: 8, txid: 1, readPage: () => Promise.reject(boom) });
    vfs.jOpen("app.db", 1, VFS.SQLITE_OPEN_MAIN_DB | VFS.SQLITE_OPEN_READONLY, outFlags());
    expect(await vfs.jRead(1, new Uint8Array(1024), 1024)).toBe(VFS.SQLITE_IOERR_READ);
    expect(vfs.stats("app.db")).toEqual({ pagesRead: 1, vfsReads: 1 });
    expect(vfs.takeError("app.db")).toEqual({ error: boom });
    expect(vfs.takeError("app.db")).toBeNull();
    vfs.unpin("app.db");
    expect(await vfs.jRead(1, new Uint8Array(16), 0)).toBe(VFS.SQLITE_IOERR_READ);
  });
});

describe("build selection", () => {
  test("local workerd has JSPI, so the JSPI build is the default", () => {
    expect(jspiSupported()).toBe(true);
    expect(chooseBuild()).toBe("jspi");
    expect(chooseBuild("asyncify")).toBe("asyncify");
  });
});

for (const build of ["jspi", "asyncify"] as const) {
  describe(`real databases through SQLite (${build})`, () => {
    let engine: SqlEngine;
    beforeAll(async () => {
      engine = await SqlEngine.create({ build });
      expect(engine.build).toBe(build);
    });

    test.each([1024, 4096, 65536])("page size %i: WAL-mode header, full scans, index lookups", async (pageSize) => {
      const fixture = await buildStandardDb(pageSize);
      const file = asWalPrimary(fixture.bytes());
      await fixture.close();
      const pristine = file.slice();
      const src = new TestPageSource(file, 17);
      if (pageSize <= 4096) expect(src.pageCount).toBeGreaterThan(200);

      const { results, stats } = await engine.execute(
        `ps-${pageSize}`,
        src,
        [
          { sql: "SELECT count(*), sum(price), min(name), max(length(payload)) FROM items" },
          { sql: "SELECT count(*) FROM items WHERE category = 3" },
          { sql: "PRAGMA page_size" },
          { sql: "PRAGMA page_count" },
          { sql: "PRAGMA integrity_check" },
        ],
        LIMITS,
      );
      expect(results[0]?.rows).toEqual([[4000n, 4001000, "item-1", 200n]]);
      expect(results[1]?.rows).toEqual([[236n]]);
      expect(results[2]?.rows).toEqual([[BigInt(pageSize)]]);
      expect(results[3]?.rows).toEqual([[BigInt(src.pageCount)]]);
      expect(results[4]?.rows).toEqual([["ok"]]);
      expect(stats.pagesRead).toBe(src.calls.length);
      expect(stats.vfsReads).toBeGreaterThanOrEqual(stats.pagesRead);
      expect(Math.max(...src.calls)).toBeLessThanOrEqual(src.pageCount);
      expect(src.calls).not.toContain(lockPageNumber(pageSize));
      // Nothing was written back into the source's bytes (the header still says WAL).
      expect(sameBytes(file, pristine)).toBe(true);
      expect([file[18], file[19]]).toEqual([2, 2]);
    });

    test("a file size that is not what the header claims: SQLite trusts xFileSize", async () => {
      const fixture = await buildStandardDb(4096, 50);
      const file = asWalPrimary(fixture.bytes());
      await fixture.close();
      // Claim more pages than the header's in-header size (offset 28): the extra pages are zero pages.
      const padded = new Uint8Array(file.length + 4096 * 3);
      padded.set(file);
      const src = new TestPageSource(padded, 5);
      const { results } = await engine.execute("padded", src, [{ sql: "PRAGMA page_count" }], LIMITS);
      expect(results[0]?.rows).toEqual([[BigInt(src.pageCount)]]);
    });

    test("a readPage failure during schema load surfaces the original error", async () => {
      const fixture = await buildStandardDb(4096, 50);
      const src = new TestPageSource(asWalPrimary(fixture.bytes()), 5);
      await fixture.close();
      const boom = new CodedError("PAGE_FETCH_FAILED", "page 1 unavailable");
      src.failWith = (pgno) => (pgno === 1 ? boom : undefined);
      await expect(engine.execute("schema-fail", src, [{ sql: "SELECT 1 FROM items" }], LIMITS)).rejects.toBe(boom);
      src.failWith = null;
      const { results } = await engine.execute("schema-fail", src, [{ sql: "SELECT count(*) FROM items" }], LIMITS);
      expect(results[0]?.rows).toEqual([[50n]]);
    });
  });
}
