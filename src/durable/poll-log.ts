/**
 * @module
 * Logs what a database's Durable Object does with its replica when it
 * changes — not on every poll: a state change (ok → stalled, error → ok), a
 * new error code, a rebuild under a new generation, a heal. A busy replica
 * advancing every second logs nothing; one that stops advancing logs once.
 */
import { logEvent } from "../observe/log.ts";
import { formatTxid } from "../ltx/txid.ts";

/** What is compared between two observations. */
export interface PollSummary {
  db: string;
  state: string;
  txid: number | null;
  generation: number;
  errorCode: string | null;
  errorMessage: string | null;
  rebuilds: number;
  /** When the newest heal happened, and why (null: never). */
  lastHeal: { at: number; reason: string } | null;
}

/** The fields of a database's persisted state (src/durable/persist.ts) a summary reads; kept structural so Node tests need no Workers types. */
interface StateFields {
  name: string;
  generation: number;
  rebuilds: number;
  lastError: { code: string; message: string } | null;
  heals: { at: number; reason: string }[];
}

export class PollLog {
  #last: PollSummary | null = null;

  /** {@link note} for a database's persisted state; its last error counts only while polls are failing. */
  noteState(s: StateFields, state: string, txid: number | null, failing: boolean): boolean {
    return this.note({
      db: s.name,
      state,
      txid,
      generation: s.generation,
      errorCode: failing ? (s.lastError?.code ?? null) : null,
      errorMessage: failing ? (s.lastError?.message ?? null) : null,
      rebuilds: s.rebuilds,
      lastHeal: s.heals[s.heals.length - 1] ?? null,
    });
  }

  /** Logs `now` when it differs from the last summary in anything but the TXID; returns whether it logged. */
  note(now: PollSummary): boolean {
    const prev = this.#last;
    this.#last = now;
    if (prev && prev.state === now.state && prev.errorCode === now.errorCode && prev.generation === now.generation && prev.rebuilds === now.rebuilds && prev.lastHeal?.at === now.lastHeal?.at) {
      return false;
    }
    const level = now.state === "error" ? "error" : now.state === "stalled" ? "warn" : "info";
    logEvent(
      "replica",
      {
        db: now.db,
        state: now.state,
        previous_state: prev?.state,
        txid: now.txid,
        txid_hex: now.txid !== null ? formatTxid(now.txid) : undefined,
        generation: now.generation,
        rebuilt: prev !== null && now.rebuilds > prev.rebuilds ? true : undefined,
        healed: prev !== null && now.lastHeal !== null && now.lastHeal.at !== prev.lastHeal?.at ? now.lastHeal.reason : undefined,
        error_code: now.errorCode ?? undefined,
        error: now.errorMessage ?? undefined,
      },
      level,
    );
    return true;
  }
}
