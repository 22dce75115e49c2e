/**
 * "Most polls list only level 0 after the current position; every 10th poll
 * lists all levels" (docs/consistency.md), "one Class A list per poll,
 * usually on level 0 only" (docs/limits.md). Every list call the Durable
 * Object makes is recorded by prefix through a wrapper around the real local
 * R2 store; the polls are driven by runDurableObjectAlarm.
 */
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, expect, test } from "vitest";
import { formatTxid } from "../../src/ltx/txid.ts";
import { R2Store } from "../../src/replica/r2.ts";
import { type DoStub, listRecorder, statusOf, wrapDoStore } from "../support/durable.ts";
import { manifest, seedReplica } from "../support/seed.ts";

const r2 = new R2Store(env.BUCKET);

const stubs: DoStub[] = [];
afterEach(async () => {
  for (const s of stubs.splice(0)) await s.stop();
});

test("30 polls: one list each, level 0 after the position, except polls 10, 20 and 30, which list every level", async () => {
  const name = `full-list-${Date.now().toString(36)}`;
  await seedReplica(r2, "poll/before", name, "s3");
  const m = await manifest("poll");
  const position = Number.parseInt(m.before_final_txid ?? "", 16);
  const stub = env.DB_INDEX.getByName(name);
  stubs.push(stub);
  // Recorded from the start: the initial build lists everything once (and learns the layout).
  const rec = listRecorder();
  await wrapDoStore(stub, rec.wrap);
  expect((await statusOf(stub, name)).position?.txid).toBe(position);
  expect(rec.calls).toEqual([{ prefix: `${name}/`, startAfter: undefined }]);
  const l0 = { prefix: `${name}/0000/`, startAfter: `${name}/0000/${formatTxid(position)}-ffffffffffffffff.ltx` };
  const all = { prefix: `${name}/`, startAfter: undefined };
  const kinds: string[] = [];
  for (let poll = 1; poll <= 30; poll++) {
    const before = rec.calls.length;
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const calls = rec.calls.slice(before);
    expect(calls, `poll ${poll}`).toHaveLength(1);
    const call = calls[0];
    expect(call, `poll ${poll}`).toEqual(poll % 10 === 0 ? all : l0);
    kinds.push(call?.prefix === all.prefix ? "all" : "l0");
  }
  expect(kinds.filter((k) => k === "all")).toHaveLength(3);
  expect(kinds.filter((k) => k === "l0")).toHaveLength(27);
  const s = await statusOf(stub, name);
  expect(s.state).toBe("ok");
  expect(s.position?.txid).toBe(position);
});
