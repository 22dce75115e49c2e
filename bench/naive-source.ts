/**
 * The baseline of issue 9: a PageSource that does what the original
 * Litestream VFS did — one storage range request per SQLite page read, the
 * page's frame only, decoded every time, no cache of any kind (SQLite's own
 * page cache within a query is all there is). For comparison only; nothing
 * in src/ uses it.
 */
import { decodePageFrame } from "../src/ltx/page.ts";
import type { PageIndex } from "../src/page-index/page-index.ts";
import type { ObjectStore } from "../src/replica/types.ts";
import type { PageSource } from "../src/vfs/page-source.ts";

export class NaivePageSource implements PageSource {
  readonly pageSize: number;
  readonly pageCount: number;
  readonly txid: number;
  /** Storage requests made (one per page read). */
  requests = 0;
  bytes = 0;
  readonly #index: PageIndex;
  readonly #store: ObjectStore;

  constructor(index: PageIndex, store: ObjectStore) {
    this.#index = index;
    this.#store = store;
    this.pageSize = index.pageSize;
    this.pageCount = index.commit;
    this.txid = index.txid;
  }

  async readPage(pgno: number): Promise<Uint8Array> {
    const ref = this.#index.locate(pgno);
    if (!ref) throw new Error(`page ${pgno} is not in the index`);
    this.requests++;
    const r = await this.#store.getRange(ref.file.key, ref.offset, ref.size);
    this.bytes += r.bytes.length;
    const page = new Uint8Array(this.pageSize);
    decodePageFrame(r.bytes, 0, ref.size, page, { file: ref.file.key, absBase: ref.offset, expectedPgno: pgno });
    return page;
  }
}
