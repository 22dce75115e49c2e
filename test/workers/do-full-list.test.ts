/**
 * Polling costs what docs/limits.md says: a poll probes for the next level-0
 * file with one HEAD (Class B) and lists nothing; every 60th poll lists the
 * whole replica (Class A: compaction, wipes, gaps); new files are found by
 * probing one TXID after another. Every list and head call the Durable Object
 * makes is recorded through a wrapper around the real local R2 store; the
 * polls are driven by runDurableObjectAlarm.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, expect, test } from "vitest";
import { FULL_LIST_EVERY } from "../../src/durable/follower.ts";
import { formatLtxFilename } from "../../src/ltx/txid.ts";
import { R2Store } from "../../src/replica/r2.ts";
import type { ObjectStore } from "../../src/replica/types.ts";
import { type DoStub, headRecorder, listRecorder, statusOf, wrapDoStore } from "../support/durable.ts";
import { fixtureBytes, fixtureLtxFiles, keyFor, manifest, seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);

const stubs: DoStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

test(`quiet: one HEAD per poll and no listing, except every ${FULL_LIST_EVERY}th poll, which lists everything once`, async () => {
  const name = `full-list-${Date.now().toString(36)}`;
  await seedReplica(r2, "poll/before", name, "s3");
  const m = await manifest("poll");
  const position = Number.parseInt(m.before_final_txid ?? "", 16);
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);
  const lists = listRecorder();
  const heads = headRecorder();
  await wrapDoStore(stub, (inner: ObjectStore) => heads.wrap(lists.wrap(inner)));
  // The initial build lists everything once (and learns the layout).
  expect((await statusOf(stub, name)).position?.txid).toBe(position);
  expect(lists.calls).toEqual([{ prefix: `${name}/`, startAfter: undefined }]);
  const probe = `${name}/0000/${formatLtxFilename(position + 1, position + 1)}`;
  for (let poll = 1; poll <= 2 * FULL_LIST_EVERY; poll++) {
    const [l, h] = [lists.calls.length, heads.keys.length];
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    if (poll % FULL_LIST_EVERY === 0) {
      expect(lists.calls.slice(l), `poll ${poll}`).toEqual([{ prefix: `${name}/`, startAfter: undefined }]);
      expect(heads.keys.slice(h), `poll ${poll}`).toEqual([]);
    } else {
      expect(lists.calls.slice(l), `poll ${poll}`).toEqual([]);
      expect(heads.keys.slice(h), `poll ${poll}`).toEqual([probe]);
    }
  }
  // 2 listings in 120 polls (2 minutes at the default interval), where one per poll was the rule before.
  expect(lists.calls).toHaveLength(1 + 2);
  const s = await statusOf(stub, name);
  expect(s.state).toBe("ok");
  expect(s.position?.txid).toBe(position);
});

test("busy: new level-0 files are found by probing the next TXID, without listing", async () => {
  const name = `probe-${Date.now().toString(36)}`;
  await seedReplica(r2, "poll/before", name, "s3");
  const m = await manifest("poll");
  const position = Number.parseInt(m.before_final_txid ?? "", 16);
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);
  const lists = listRecorder();
  const heads = headRecorder();
  await wrapDoStore(stub, (inner: ObjectStore) => heads.wrap(lists.wrap(inner)));
  expect((await statusOf(stub, name)).position?.txid).toBe(position);
  // The next three L0 files Litestream wrote (they continue the position).
  const next = fixtureLtxFiles("poll/after")
    .filter((rel) => rel.startsWith("ltx/0/"))
    .map((rel) => ({ rel, txid: Number.parseInt(rel.slice(6, 22), 16) }))
    .filter((f) => f.txid > position)
    .sort((a, b) => a.txid - b.txid)
    .slice(0, 3);
  expect(next.map((f) => f.txid)).toEqual([position + 1, position + 2, position + 3]);
  for (const f of next) await r2.put(keyFor(name, "s3", f.rel), await fixtureBytes(`poll/after/${f.rel}`));
  const [l, h] = [lists.calls.length, heads.keys.length];
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect(lists.calls.slice(l)).toEqual([]);
  const key = (t: number) => `${name}/0000/${formatLtxFilename(t, t)}`;
  expect(heads.keys.slice(h)).toEqual([key(position + 1), key(position + 2), key(position + 3), key(position + 4)]);
  const s = await statusOf(stub, name);
  expect(s.position?.txid).toBe(position + 3);
  expect(s.state).toBe("ok");
});
