/**
 * Workerd-side test helpers: copy fixture replicas (served by the global
 * setup) into a real store (local R2 or s3rver), and read a database back
 * page by page through a page index.
 */
import { inject } from "vitest";
import { decodePageFrame } from "../../src/ltx/page.ts";
import { lockPgno } from "../../src/ltx/header.ts";
import type { PageIndex } from "../../src/page-index/page-index.ts";
import { type Layout, levelDir } from "../../src/replica/replica.ts";
import type { WritableObjectStore } from "../../src/replica/types.ts";
import type { FixtureManifest } from "./fixtures.ts";

const cache = new Map<string, Uint8Array>();

export async function fixtureBytes(path: string): Promise<Uint8Array> {
  const hit = cache.get(path);
  if (hit) return hit;
  let bytes: Uint8Array | null = null;
  // The fixture server is local; a connection dropped under heavy load is retried, anything else is not.
  for (let attempt = 1; bytes === null; attempt++) {
    try {
      const res = await fetch(`${inject("fixturesUrl")}/${path}`);
      if (!res.ok) throw new Error(`fixture ${path}: HTTP ${res.status}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      if (attempt >= 3 || (e instanceof Error && e.message.startsWith("fixture "))) throw e;
    }
  }
  cache.set(path, bytes);
  return bytes;
}

export async function manifest(name: string): Promise<FixtureManifest> {
  return JSON.parse(new TextDecoder().decode(await fixtureBytes(`${name}/manifest.json`))) as FixtureManifest;
}

/** LTX files of a fixture replica dir (e.g. "small", "poll/before"), as `ltx/<level>/<name>` paths. */
export function fixtureLtxFiles(dir: string): string[] {
  return inject("fixtureFiles")
    .filter((p) => p.startsWith(`${dir}/ltx/`) && p.endsWith(".ltx"))
    .map((p) => p.slice(dir.length + 1));
}

/** The key of a fixture file (`ltx/<level>/<name>`) under `prefix` in `layout`. */
export function keyFor(prefix: string, layout: Layout, rel: string): string {
  const m = /^ltx\/(\d+)\/(.+)$/.exec(rel);
  if (!m) throw new Error(`not an LTX path: ${rel}`);
  return `${levelDir(prefix, layout, Number(m[1]))}${m[2]}`;
}

/** Copies a fixture replica into a store; returns the keys written. */
export async function seedReplica(store: WritableObjectStore, dir: string, prefix: string, layout: Layout = "s3"): Promise<string[]> {
  const files = fixtureLtxFiles(dir);
  const keys: string[] = [];
  await Promise.all(
    files.map(async (rel) => {
      const key = keyFor(prefix, layout, rel);
      await store.put(key, await fixtureBytes(`${dir}/${rel}`));
      keys.push(key);
    }),
  );
  return keys.sort();
}

/** Deletes every object under a prefix. */
export async function wipe(store: WritableObjectStore, prefix: string): Promise<void> {
  for (const o of await store.list(prefix)) await store.delete(o.key);
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads every page named by the index with one range read per page and assembles the database. */
/** Reads every page of a database through an index (a PageIndex, or a whole chunked index). */
export async function readDatabase(store: WritableObjectStore, index: Pick<PageIndex, "commit" | "pageSize"> & { lookup(p: number): { file: { key: string }; offset: number; size: number } | null }): Promise<Uint8Array> {
  const out = new Uint8Array(index.commit * index.pageSize);
  const lock = lockPgno(index.pageSize);
  const page = new Uint8Array(index.pageSize);
  for (let p = 1; p <= index.commit; p++) {
    if (p === lock) continue;
    const ref = index.lookup(p);
    if (!ref) throw new Error(`page ${p} missing from the index`);
    const r = await store.getRange(ref.file.key, ref.offset, ref.size);
    decodePageFrame(r.bytes, 0, r.bytes.length, page, { file: ref.file.key, absBase: ref.offset, expectedPgno: p });
    out.set(page, (p - 1) * index.pageSize);
  }
  return out;
}

export function expectedSha(m: FixtureManifest, txid: string): string {
  const s = m.all_states.find((x) => x.txid === txid);
  if (!s) throw new Error(`no state ${txid} in ${m.name}`);
  return s.sha256;
}

/** Makes a replica seeded from `poll/before` look like `poll/after`: upload what it adds, delete what it removes. */
export async function advancePoll(store: WritableObjectStore, prefix: string, layout: Layout = "s3"): Promise<void> {
  const before = new Set(fixtureLtxFiles("poll/before"));
  const after = new Set(fixtureLtxFiles("poll/after"));
  for (const rel of after) if (!before.has(rel)) await store.put(keyFor(prefix, layout, rel), await fixtureBytes(`poll/after/${rel}`));
  for (const rel of before) if (!after.has(rel)) await store.delete(keyFor(prefix, layout, rel));
}
