/**
 * The end-to-end integrity case over HTTP: a flipped byte inside an LTX
 * file with the SAME ETag (injected on every read, by the DO and by the
 * isolate: no real store can produce it) is served as wrong rows and cached
 * before anything can know; the scrub detects it; from then on no query gets
 * rows from it; repaired in place (same ETag), it is re-admitted under a new
 * epoch and served correctly — although the isolate cache still holds the
 * bad bytes under the old epoch.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, test } from "vitest";
import type { DatabaseIndex } from "../../src/durable/database-index.ts";
import type { ScrubStepReport } from "../../src/durable/protocol.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { testHooks } from "../../src/query/service.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { expectError } from "../support/http.ts";
import { FLIPPED, type Flip, NEEDLE, flipping, queryNeedle, trackStubs, uniq, useNeedleDb } from "./integrity-support.ts";

type Wrap = ((s: ObjectStore) => ObjectStore) | null;
/** The isolate's page reads go through this wrapper too (service.ts applies it per query). */
const setIsolateStoreWrapper = (w: Wrap): void => {
  testHooks.wrapStore = w;
};

const r2 = new R2Store(env.BUCKET);
const { stubFor } = trackStubs();
const fixture = useNeedleDb();
const needle = queryNeedle;

async function scrubUntil(s: DurableObjectStub<DatabaseIndex>, db: string, outcome: ScrubStepReport["outcome"]): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    const r = await s.scrub(db, 1);
    if (!r.ok) throw new Error(r.error.message);
    if (r.value.steps.some((x) => x.outcome === outcome)) return true;
    if (r.value.steps.length === 0) return false;
  }
  return false;
}

describe("a flipped byte with the same ETag, over HTTP", () => {
  test("detected, never served after detection, served correctly after repair though bad bytes were cached", async () => {
    const db = uniq("http-same-etag");
    const key = `${db}/0009/${formatLtxFilename(1, 1)}`;
    await r2.put(key, fixture.ltx);
    const flips: Flip[] = [{ key, at: fixture.at, on: true }];
    const s = stubFor(db);
    await runInDurableObject(s, (i: DatabaseIndex) => i.setStoreWrapper((inner) => flipping(inner, flips)));
    setIsolateStoreWrapper((inner) => flipping(inner, flips));
    try {
      const wrong = await needle(db);
      expect(wrong.status, wrong.text).toBe(200);
      expect(wrong.text).toContain(FLIPPED); // served and cached (isolate segment cache, Cache API) before detection

      expect(await scrubUntil(s, db, "quarantined")).toBe(true);
      expectError(await needle(db), 502, "LTX_QUARANTINED", new RegExp(key));

      flips[0] = { ...(flips[0] as Flip), on: false }; // repaired in place: same key, same ETag
      const re = await s.recheck(db);
      expect(re.ok).toBe(true);
      expect(await scrubUntil(s, db, "readmitted")).toBe(true);
      const right = await needle(db);
      expect(right.status, right.text).toBe(200);
      expect((JSON.parse(right.text) as { rows: string[][] }).rows).toEqual([[NEEDLE]]);
      // Not from the caches that hold the bad bytes: the new epoch made them unreachable.
      expect((JSON.parse(right.text) as { meta: { storage_requests: number } }).meta.storage_requests).toBeGreaterThan(0);
    } finally {
      setIsolateStoreWrapper(null);
    }
  });
});
