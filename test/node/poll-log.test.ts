/**
 * The Durable Object logs its replica's state when it changes, not on every
 * poll: a TXID advancing alone is silent.
 */
import { afterEach, expect, test, vi } from "vitest";
import { type PollSummary, PollLog } from "../../src/durable/poll-log.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

const base: PollSummary = { db: "app", state: "ok", txid: 5, generation: 1, errorCode: null, errorMessage: null, rebuilds: 0, lastHeal: null };

test("first observation, state changes, errors, rebuilds and heals are logged; advancing TXIDs are not", () => {
  const lines: { level: string; v: Record<string, unknown> }[] = [];
  for (const level of ["log", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation((s: unknown) => lines.push({ level, v: JSON.parse(String(s)) as Record<string, unknown> }));
  }
  const log = new PollLog();
  expect(log.note(base)).toBe(true);
  expect(log.note({ ...base, txid: 6 })).toBe(false);
  expect(log.note({ ...base, txid: 7 })).toBe(false);
  expect(log.note({ ...base, txid: 7, state: "stalled", errorCode: "PLAN_GAP", errorMessage: "missing 8-9" })).toBe(true);
  expect(log.note({ ...base, txid: 7, state: "stalled", errorCode: "PLAN_GAP", errorMessage: "missing 8-9" })).toBe(false);
  expect(log.note({ ...base, txid: 10, generation: 2, rebuilds: 1 })).toBe(true);
  expect(log.note({ ...base, txid: 11, generation: 2, rebuilds: 1, lastHeal: { at: 1, reason: "file vanished" } })).toBe(true);
  expect(log.note({ ...base, txid: 12, generation: 2, rebuilds: 1, lastHeal: { at: 1, reason: "file vanished" } })).toBe(false);
  expect(lines.map((l) => [l.level, l.v.state])).toEqual([
    ["log", "ok"],
    ["warn", "stalled"],
    ["log", "ok"],
    ["log", "ok"],
  ]);
  expect(lines[1]!.v).toMatchObject({ event: "replica", db: "app", previous_state: "ok", error_code: "PLAN_GAP", error: "missing 8-9", txid_hex: "0000000000000007" });
  expect(lines[2]!.v).toMatchObject({ rebuilt: true, generation: 2, previous_state: "stalled" });
  expect(lines[3]!.v).toMatchObject({ healed: "file vanished" });
});
