/**
 * @module
 * Runs a pipeline's statements on ONE snapshot, through the ordinary query
 * service. The first successful engine call pins the snapshot (TXID and
 * replica generation); every later call — retries after a failing statement,
 * a second round of a batch, the next pipeline of a read transaction — must
 * read exactly that TXID: from the live index while it is still there, else
 * from a time-travel index of that TXID (same bytes, built by the Durable
 * Object from the restore plan).
 *
 * A statement that fails does not abort the others: its error is recorded and
 * the remaining statements run again. An error is only trusted once it is
 * known to belong to the pinned snapshot, unless it cannot depend on the data
 * (read-only violations, parameter mismatches). Limits on rows, result size,
 * time and storage requests apply to the pipeline as a whole.
 */
import type { DatabaseConfig } from "../config/databases.ts";
import type { Env } from "../env.ts";
import { ApiError, toApiError } from "../api/errors.ts";
import type { Limits } from "../api/limits.ts";
import type { ReadTarget } from "../api/query-request.ts";
import { type QueryOutcome, runStatements } from "../query/service.ts";
import { SqlError } from "../sql/errors.ts";
import { vmStepBudget } from "../sql/vm-budget.ts";
import type { StatementInput, StatementResult } from "../sql/types.ts";
import type { Pin } from "./baton.ts";

export type Outcome = { ok: true; result: StatementResult; durationMs: number } | { ok: false; error: ApiError };

export interface RunContext {
  env: Env;
  cfg: DatabaseConfig;
  limits: Limits;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Errors that depend only on the SQL text, not on the data: true on every snapshot. */
const DATA_INDEPENDENT = new Set(["SQL_READONLY", "SQL_MULTIPLE_STATEMENTS", "SQL_BAD_PARAMS"]);
/** The pipeline ran out of a budget: the failing statement and every later one fail. */
const BUDGET = new Set(["SQL_TOO_MANY_ROWS", "SQL_RESULT_TOO_LARGE", "SQL_TIMEOUT", "SQL_CPU_LIMIT"]);

/** Newest live snapshot this isolate has seen per database: a pin below it is no longer live here. */
const newestLive = new Map<string, Pin>();
/** Databases remembered in {@link newestLive} (least recently updated dropped first). */
const NEWEST_KEPT = 1024;

function noteLive(name: string, p: Pin): void {
  const seen = newestLive.get(name);
  if (seen && seen.generation === p.generation && seen.txid >= p.txid) return;
  newestLive.delete(name);
  newestLive.set(name, p);
  for (const k of newestLive.keys()) {
    if (newestLive.size <= NEWEST_KEPT) break;
    newestLive.delete(k);
  }
}

const PROBE: StatementInput[] = [{ sql: "SELECT 1" }];

function pinOf(o: QueryOutcome): Pin {
  return { txid: o.snapshot.held.root.txid, generation: o.snapshot.held.root.generation };
}

/** Our error for a failed statement, with a hint for writes. */
export function statementError(e: unknown): ApiError {
  const err = toApiError(e);
  if (err.code === "SQL_READONLY" && !err.message.startsWith("ltx-edge")) {
    return new ApiError(err.code, `ltx-edge serves a read-only replica: ${err.message}`, err.status);
  }
  return err;
}

export class SnapshotRunner {
  pin: Pin | null;
  /** Where the kept results came from. */
  servedFrom: "live" | "time_travel" | null = null;
  /** The last engine call that succeeded (its snapshot's freshness, for response metadata). */
  last: QueryOutcome | null = null;
  readonly totals = { calls: 0, execMs: 0, indexMs: 0, storageRequests: 0, cacheOps: 0, vmSteps: 0, bytesFetched: 0, isolateHits: 0, cacheHits: 0, cacheMisses: 0 };
  private readonly minTxid: number | null;
  private rows = 0;
  private bytes = 0;
  private spentMs = 0;
  private lastCall: "live" | "time_travel" = "live";
  private forceTimeTravel = false;

  /** `pin`: the snapshot of the stream's open transaction; `minTxid`: what the pipeline must read at least (ignored when pinned). */
  constructor(
    private readonly ctx: RunContext,
    pin: Pin | null,
    minTxid: number | null,
  ) {
    this.pin = pin;
    this.minTxid = minTxid;
  }

  /** Runs independent statements; returns one outcome each. Throws only for failures of the whole request (storage, waiting, snapshot gone). */
  async runAll(inputs: StatementInput[]): Promise<Outcome[]> {
    const out = new Map<number, Outcome>();
    let rest = inputs.map((_, i) => i);
    for (let round = 0; rest.length > 0; round++) {
      if (round > 3 * inputs.length + 4) throw new ApiError("INTERNAL", "statements did not settle on one snapshot");
      const hadPin = this.pin !== null;
      try {
        const o = await this.runOnce(rest.map((i) => inputs[i] as StatementInput));
        o.results.forEach((r, j) => {
          this.rows += r.rows.length;
          this.bytes += approxResultBytes(r);
          out.set(rest[j] as number, { ok: true, result: r, durationMs: o.execMs });
        });
        rest = [];
      } catch (e) {
        const k = e instanceof SqlError ? e.statementIndex : undefined;
        if (k === undefined || k >= rest.length) throw e;
        const err = statementError(e);
        if (BUDGET.has(err.code)) {
          const whole = new ApiError(err.code, `${err.message} (limits apply to the whole pipeline)`, err.status);
          for (const i of rest.slice(k)) out.set(i, { ok: false, error: whole });
          rest = rest.slice(0, k);
          continue;
        }
        if (!DATA_INDEPENDENT.has(err.code) && !(await this.failedOnPin(hadPin))) continue;
        out.set(rest[k] as number, { ok: false, error: err });
        rest = rest.filter((_, j) => j !== k);
      }
    }
    return inputs.map((_, i) => out.get(i) as Outcome);
  }

  /** Did the call that just failed read the pinned snapshot? Pins (and says no) when there was no pin yet. */
  private async failedOnPin(hadPin: boolean): Promise<boolean> {
    if (hadPin && this.lastCall === "time_travel") return true;
    if (!hadPin) {
      this.pin = pinOf(await this.call(PROBE, { kind: "live", minTxid: this.minTxid }, "live"));
      return false;
    }
    const pin = this.pin as Pin;
    const probe = pinOf(await this.call(PROBE, { kind: "live", minTxid: pin.txid }, "live"));
    if (probe.generation !== pin.generation) throw this.historyChanged();
    // The live index only moves forward: still at the pin now means it was at the pin during the failed call.
    if (probe.txid === pin.txid) return true;
    this.forceTimeTravel = true;
    return false;
  }

  private async runOnce(inputs: StatementInput[]): Promise<QueryOutcome> {
    if (!this.pin) {
      const o = await this.call(inputs, { kind: "live", minTxid: this.minTxid }, "live");
      this.pin = pinOf(o);
      this.servedFrom = "live";
      return o;
    }
    const pin = this.pin;
    const seen = newestLive.get(this.ctx.cfg.name);
    const stillLive = !(seen && seen.generation === pin.generation && seen.txid > pin.txid);
    if (!this.forceTimeTravel && stillLive) {
      const o = await this.call(inputs, { kind: "live", minTxid: pin.txid }, "live");
      const got = pinOf(o);
      if (got.generation !== pin.generation) throw this.historyChanged();
      if (got.txid === pin.txid) {
        this.servedFrom ??= "live";
        return o;
      }
    }
    const o = await this.call(inputs, { kind: "txid", txid: pin.txid }, "time_travel");
    if (pinOf(o).generation !== pin.generation) throw this.historyChanged();
    this.servedFrom = "time_travel";
    return o;
  }

  private historyChanged(): ApiError {
    return new ApiError(
      "INDEX_GENERATION_CHANGED",
      "the replica's history changed (it was wiped or restored) since this stream's snapshot was taken; open a new stream",
      503,
    );
  }

  /** One runStatements call with what is left of the pipeline's budgets. */
  private async call(inputs: StatementInput[], target: ReadTarget, kind: "live" | "time_travel"): Promise<QueryOutcome> {
    const { env, cfg, limits: l, waitUntil } = this.ctx;
    this.lastCall = kind;
    const limits: Limits = {
      ...l,
      maxRows: Math.max(0, l.maxRows - this.rows),
      maxResponseBytes: Math.max(0, l.maxResponseBytes - this.bytes),
      // The pipeline's subrequest budget: storage reads and Cache API operations alike.
      maxStorageRequests: Math.max(0, l.maxStorageRequests - this.totals.storageRequests - this.totals.cacheOps),
      queryTimeoutMs: Math.max(0, l.queryTimeoutMs - this.spentMs),
      // One VM-step budget for the whole pipeline (the pipeline's, not each call's).
      maxVmSteps: Math.max(1, vmStepBudget({ maxVmSteps: l.maxVmSteps, timeoutMs: l.queryTimeoutMs }) - this.totals.vmSteps),
    };
    const t0 = Date.now();
    let o: QueryOutcome;
    try {
      o = await runStatements(env, cfg, inputs, target, limits, waitUntil);
    } catch (e) {
      this.spentMs += Date.now() - t0;
      const code = (e as { code?: unknown }).code;
      if (kind === "time_travel" && typeof code === "string" && (code.startsWith("PLAN_") || code === "TXID_NOT_YET_AVAILABLE")) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new ApiError(code, `this stream's snapshot (replication index ${this.pin?.txid}) can no longer be read: ${msg}`);
      }
      throw e;
    }
    this.spentMs += o.execMs;
    const t = this.totals;
    t.calls++;
    t.execMs += o.execMs;
    t.indexMs += o.snapshot.indexMs;
    t.storageRequests += o.stats.storageRequests;
    t.cacheOps += o.stats.cacheOps;
    t.vmSteps += o.stats.vmSteps;
    t.bytesFetched += o.stats.bytesFetched;
    t.isolateHits += o.stats.isolateHits + o.stats.pageHits;
    t.cacheHits += o.stats.cacheHits;
    t.cacheMisses += o.stats.cacheMisses;
    if (kind === "live") noteLive(cfg.name, pinOf(o));
    this.last = o;
    return o;
  }
}

/** Rough size of a result in bytes, as the engine estimates it for the response-size limit. */
export function approxResultBytes(r: StatementResult): number {
  let n = 16;
  for (const c of r.columns) n += c.length + 3;
  for (const row of r.rows) {
    n += 3;
    for (const v of row) {
      if (v === null) n += 5;
      else if (typeof v === "string") n += v.length + 3;
      else if (v instanceof Uint8Array) n += Math.ceil(v.length / 3) * 4 + 14;
      else n += 21;
    }
  }
  return n;
}
