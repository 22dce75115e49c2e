/**
 * Integrity over HTTP: a large LTX file whose stored bytes carry a flipped
 * byte is served (nothing can know before its checksum is verified) until
 * the Durable Object's scrub finds it; from then on no query gets rows from
 * it (502 LTX_QUARANTINED, and GET /db/:name names it); once the good bytes
 * are back, queries return the right rows.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, test } from "vitest";
import type { DbStatus } from "../../src/durable/protocol.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { expectError } from "../support/http.ts";
import { FLIPPED, FLIP_MASK, NEEDLE, queryNeedle, trackStubs, uniq, useNeedleDb } from "./integrity-support.ts";

const r2 = new R2Store(env.BUCKET);
const { stubFor } = trackStubs();
const fixture = useNeedleDb();
const needle = queryNeedle;

async function call(path: string) {
  const res = await exports.default.fetch(`http://localhost${path}`);
  return { status: res.status, text: await res.text() };
}

describe("a corrupt large file over HTTP", () => {
  test("served until the scrub finds it, then never again (502 LTX_QUARANTINED, named in status); correct once repaired", async () => {
    const db = uniq("http-flip");
    const key = `${db}/0009/${formatLtxFilename(1, 1)}`;
    const bad = fixture.ltx.slice();
    bad[fixture.at] = (bad[fixture.at] as number) ^ FLIP_MASK; // 'N' → 'M'
    await r2.put(key, bad);

    const before = await needle(db);
    expect(before.status, before.text).toBe(200);
    expect(before.text).toContain(FLIPPED); // wrong bytes, as stored: only the file checksum can tell

    const s = stubFor(db);
    let found = false;
    for (let i = 0; i < 10 && !found; i++) {
      const r = await s.scrub(db, 1);
      if (!r.ok) throw new Error(r.error.message);
      found = r.value.steps.some((x) => x.outcome === "quarantined");
    }
    expect(found).toBe(true);
    for (let i = 0; i < 2; i++) {
      const r = await needle(db);
      expectError(r, 502, "LTX_QUARANTINED", new RegExp(key));
      expect(r.text).not.toContain(FLIPPED);
    }
    const status = await call(`/db/${db}`);
    const st = JSON.parse(status.text) as DbStatus;
    expect(st.state).toBe("stalled");
    expect(st.quarantined.map((q) => [q.key, q.code])).toEqual([[key, "LTX_CHECKSUM_MISMATCH"]]);

    await r2.put(key, fixture.ltx); // repaired: a new upload (new ETag)
    await s.recheck(db); // a full listing now (instead of waiting for the next one)
    const after = await needle(db);
    expect(after.status, after.text).toBe(200);
    expect(after.text).toContain(NEEDLE);
    expect((JSON.parse(after.text) as { rows: string[][] }).rows).toEqual([[NEEDLE]]);
  });
});
