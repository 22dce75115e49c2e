/** Decodes an LTX file held in memory into its pages (copies), in file order. */
import { type DecodedLtxFile, decodeLtxFile } from "../../src/ltx/decoder.ts";

export function decodePages(bytes: Uint8Array, file?: string): { decoded: DecodedLtxFile; pages: Map<number, Uint8Array>; order: number[] } {
  const pages = new Map<number, Uint8Array>();
  const order: number[] = [];
  const decoded = decodeLtxFile(bytes, {
    ...(file !== undefined ? { file } : {}),
    onPage: (pgno, data) => {
      order.push(pgno);
      pages.set(pgno, data.slice());
    },
  });
  return { decoded, pages, order };
}
