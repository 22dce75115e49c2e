/**
 * @module
 * One Durable Object per database. It owns the replica position and the page
 * index, builds them from the restore plan on first use, persists them in its
 * SQLite storage (so waking after eviction reads no replica), polls the
 * replica on alarms, heals itself when files vanish, gaps appear or the
 * replica is replaced, and hands Workers the index (whole, paged, or as a
 * delta since the version they hold) over JS RPC.
 *
 * Polling: a cheap listing of level 0 after the current position on most
 * alarms; every {@link FULL_LIST_EVERY}th poll (and whenever something looks
 * off) a full listing, which also notices compaction (pages are re-pointed to
 * the compacted file before retention deletes the old one), wiped replicas
 * and gaps.
 *
 * Integrity (see integrity.ts): small files are verified as they are read,
 * large ones by a scrub in bounded steps after each poll; a file that fails
 * verification or does not continue the chain is quarantined and every plan
 * routes around it; an index naming a quarantined file is never handed out.
 */
import { DurableObject } from "cloudflare:workers";
import { type DatabaseConfig, databaseConfig } from "../config/databases.ts";
import { databasesConfig, openReplica, openStore } from "../config/open-replica.ts";
import type { Env } from "../env.ts";
import { CodedError } from "../errors.ts";
import { formatTxid } from "../ltx/txid.ts";
import type { PageIndex } from "../page-index/page-index.ts";
import type { ChainEnd } from "../plan/continuity.ts";
import { PlanError } from "../plan/errors.ts";
import { type PlanTarget, computeRestorePlan, continuing, extendChain, planAvoiding } from "../plan/plan.ts";
import { CountingStore, newCounters } from "../replica/counting.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import type { ObjectStore } from "../replica/types.ts";
import { mapPool } from "../restore/pool.ts";
import { FETCH_CONCURRENCY } from "../restore/restore.ts";
import { type FilePart, type FileRejected, IndexBuilder, applyChecked, rejectionOf } from "./index-builder.ts";
import { Integrity } from "./integrity.ts";
import { PAYLOAD_PAGES, deltaPayload, fullPayload } from "./payload.ts";
import { IndexStore, type PersistedState } from "./persist.ts";
import type { DbState, DbStatus, Freshness, IndexPayload, RpcResult, ScrubReport, SnapshotRequest, TimeTravelTarget } from "./protocol.ts";
import { SCRUB_BYTES_PER_ALARM } from "./scrub.ts";

export { PAYLOAD_PAGES };

/** Every Nth poll lists all levels (compaction, wipes, gaps). */
export const FULL_LIST_EVERY = 10;
/** Longest back-off after storage errors. */
export const MAX_BACKOFF_MS = 60_000;
/** Longest a waitFor() may block. */
export const MAX_WAIT_MS = 30_000;
/** Shortest interval between polls made for waiters. */
const WAIT_POLL_MS = 200;
const TIME_TRAVEL_CACHE = 4;
const TIME_TRAVEL_BYTES = 32 * 1024 * 1024;
const HEALS_KEPT = 20;

class DbError extends CodedError {}

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : "INTERNAL", message: e.message };
  }
  return { code: "INTERNAL", message: String(e) };
}

export class DatabaseIndex extends DurableObject<Env> {
  private readonly store: IndexStore;
  private state: PersistedState | null;
  private index: PageIndex | null = null;
  private cfg: DatabaseConfig | null = null;
  private replica: Replica | null = null;
  private readonly counters = newCounters();
  private lock: Promise<unknown> = Promise.resolve();
  private pollCount = 0;
  private consecutiveFailures = 0;
  private quietPolls = 0;
  private needFullList = false;
  private lastPollAt: number | null = null;
  private nextPollAt: number | null = null;
  private lastStateSave = 0;
  private readonly builder = new IndexBuilder(() => this.getReplica());
  private readonly integrity: Integrity;
  private readonly timeTravel = new Map<string, PageIndex>();
  private wrapStore: ((s: ObjectStore) => ObjectStore) | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new IndexStore(ctx.storage);
    this.integrity = new Integrity(this.store.sql, this.builder, () => this.getReplica());
    // Time-travel indexes that use a quarantined file are void (rebuilt without it on the next ask).
    this.integrity.onQuarantine = (f) => {
      for (const [k, tt] of [...this.timeTravel]) if (tt.files.some((x) => x.key === f.key && x.etag === f.etag)) this.timeTravel.delete(k);
    };
    this.state = this.store.loadState();
    if (this.state?.position) {
      try {
        this.index = this.store.loadIndex(this.state.position);
        if (this.state.indexMeta) this.index.restoreMeta(this.state.indexMeta);
        // Files of an index stored before the ledger existed are verified by the scrub.
        this.integrity.ledger.adoptUnknown(this.index.files);
      } catch (e) {
        // Stored state that cannot be loaded must never wedge the database: rebuild from the replica.
        this.store.clear();
        this.state = { ...this.state, position: null, generation: this.state.generation + 1, chain: [] };
        this.state.lastError = { ...errorOf(e), at: Date.now() };
      }
    }
  }

  // ---------------------------------------------------------------- RPC API

  /** The index as a full (paged) payload, or a delta since the caller's version. */
  async snapshot(name: string, req: SnapshotRequest = {}): Promise<RpcResult<IndexPayload>> {
    return this.rpc(name, async () => {
      const index = await this.ensureIndex();
      this.integrity.assertServable(index);
      const state = this.mustState();
      const since = req.sinceVersion;
      const delta = req.fromPgno === undefined && req.generation === state.generation && since !== undefined && since <= index.version;
      const d = delta ? deltaPayload(index, state.generation, this.freshness(), since) : null;
      return d ?? this.fullPayload(index, req.fromPgno ?? 1, req.maxPages);
    });
  }

  /** Position, lag, poll state, last error, sizes and storage counters. */
  async status(name: string): Promise<RpcResult<DbStatus>> {
    // Monitoring does not count as use: it neither wakes an idle database nor keeps it polling.
    return this.rpc(
      name,
      async () => {
        try {
          await this.ensureIndex();
        } catch {
          // Reported through lastError / state below.
        }
        return this.describe();
      },
      { use: false },
    );
  }

  /** Polls now and resolves once the position reaches `minTxid` (read-your-writes). */
  async waitFor(name: string, minTxid: number, timeoutMs: number): Promise<RpcResult<IndexPayload["position"]>> {
    return this.rpc(name, async () => {
      let index = await this.ensureIndex();
      const deadline = Date.now() + Math.min(Math.max(0, timeoutMs), MAX_WAIT_MS);
      let attempt = 0;
      while (index.txid < minTxid) {
        if (Date.now() >= deadline && attempt > 0) {
          throw new DbError(
            "WAIT_TIMEOUT",
            `replica is at TXID ${formatTxid(index.txid)}; TXID ${formatTxid(minTxid)} did not arrive within ${timeoutMs} ms`,
          );
        }
        // All waiters share one poll rate (however many wait, ≤ 5 polls a second), and list
        // every level only every third time: waiting must not turn into a listing storm.
        if (Date.now() - (this.lastPollAt ?? 0) >= WAIT_POLL_MS) await this.serialized(() => this.poll(attempt % 3 === 2));
        index = this.index ?? index;
        attempt++;
        if (index.txid < minTxid) await sleep(Math.max(0, Math.min(WAIT_POLL_MS, deadline - Date.now())));
      }
      return index.position;
    });
  }

  /**
   * The index as of an earlier TXID or time, built on demand from a restore
   * plan to that point (without disturbing the live index), paged like snapshot().
   */
  async indexAt(name: string, target: TimeTravelTarget, fromPgno = 1, maxPages?: number): Promise<RpcResult<IndexPayload>> {
    return this.rpc(name, async () => {
      const live = await this.ensureIndex();
      if ("txid" in target && target.txid === live.txid) {
        this.integrity.assertServable(live);
        return this.fullPayload(live, fromPgno, maxPages);
      }
      if ("txid" in target && target.txid > live.txid) {
        throw new DbError(
          "TXID_NOT_YET_AVAILABLE",
          `TXID ${formatTxid(target.txid)} is newer than the replica position ${formatTxid(live.txid)}; pass min_txid to wait for it`,
        );
      }
      const key = JSON.stringify(target);
      let index = this.timeTravel.get(key);
      if (index && this.integrity.hasStaleEpochs(index)) index = undefined;
      if (!index) {
        index = await this.buildAt("txid" in target ? { kind: "txid", txid: target.txid } : { kind: "timestamp", timestamp: target.timestamp });
        // A time at or after the newest file's may resolve to a newer state later: never cache it.
        if ("txid" in target || target.timestamp < live.timestamp) {
          this.timeTravel.set(key, index);
          // Bounded by count and by bytes (a 1 GiB database's index is ~6 MB).
          const bytes = () => [...this.timeTravel.values()].reduce((n, x) => n + x.byteLength, 0);
          while (this.timeTravel.size > TIME_TRAVEL_CACHE || (this.timeTravel.size > 1 && bytes() > TIME_TRAVEL_BYTES)) {
            this.timeTravel.delete(this.timeTravel.keys().next().value as string);
          }
        }
      }
      this.integrity.assertServable(index);
      return this.fullPayload(index, fromPgno, maxPages);
    });
  }

  /** Polls now (a caller asked for a position confirmed within a deadline) and reports freshness. */
  async refresh(name: string): Promise<RpcResult<Freshness>> {
    return this.rpc(name, async () => {
      await this.ensureIndex();
      await this.serialized(() => this.poll(false));
      return this.freshness();
    });
  }

  /** A Worker found a file of the index missing (404): heal now. */
  async reportMissing(name: string, key: string): Promise<RpcResult<IndexPayload["position"]>> {
    return this.rpc(name, async () => {
      const index = await this.ensureIndex();
      // Time-travel indexes pointing at the file are void: rebuilt (or refused with 410) on the next ask.
      for (const [k, tt] of [...this.timeTravel]) if (tt.files.some((f) => f.key === key)) this.timeTravel.delete(k);
      if (index.files.some((f) => f.key === key)) await this.serialized(() => this.poll(true));
      return (this.index ?? index).position;
    });
  }

  /** Stops polling until the next request (tests, maintenance). */
  async stop(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    this.nextPollAt = null;
  }

  /** Test hook: wrap the object store to inject faults a real store cannot produce. */
  setStoreWrapper(wrap: ((s: ObjectStore) => ObjectStore) | null): void {
    this.wrapStore = wrap;
    this.replica = null;
  }

  /**
   * Runs up to `maxSteps` steps of the background file-checksum scrub now
   * (maintenance and tests; alarms run {@link SCRUB_BYTES_PER_ALARM} a time).
   */
  async scrub(name: string, maxSteps = 1): Promise<RpcResult<ScrubReport>> {
    return this.rpc(
      name,
      async () => {
        await this.ensureIndex().catch(() => undefined);
        const steps = await this.serialized(() => this.scrubFor(Number.POSITIVE_INFINITY, Math.max(1, Math.floor(maxSteps))));
        return { steps, pending: this.integrity.scrubPending };
      },
      { use: false },
    );
  }

  /** Checks every quarantined file again now, without waiting for its back-off (after a repair). */
  async recheck(name: string): Promise<RpcResult<DbStatus>> {
    return this.rpc(name, async () => {
      await this.ensureIndex().catch(() => undefined);
      await this.serialized(async () => {
        const readmitted = await this.integrity.recheck(await this.getReplica().listFiles(), Date.now(), true);
        if (readmitted.length > 0 || this.index) await this.poll(true);
      });
      return this.describe();
    });
  }

  override async alarm(): Promise<void> {
    this.nextPollAt = null;
    try {
      if (!this.state) return;
      if (this.isIdle()) return;
      await this.serialized(() => this.poll(false));
      await this.serialized(() => this.scrubFor(SCRUB_BYTES_PER_ALARM, Number.POSITIVE_INFINITY));
    } catch {
      // poll() and scrubFor() record their own errors; never let the runtime retry-storm the alarm.
    } finally {
      if (this.state && !this.isIdle()) await this.arm(this.nextDelay());
    }
  }

  // ------------------------------------------------------------ internals

  /** Runs an RPC body; `use: false` for calls that must not count as use of the database. */
  private async rpc<T>(name: string, fn: () => Promise<T>, { use = true } = {}): Promise<RpcResult<T>> {
    try {
      this.init(name);
      if (use) this.touch();
      return { ok: true, value: await fn() };
    } catch (e) {
      return { ok: false, error: errorOf(e) };
    }
  }

  private init(name: string): void {
    if (this.state && this.state.name !== name) throw new DbError("INTERNAL", `object for ${this.state.name} asked about ${name}`);
    if (!this.cfg) {
      const cfg = databaseConfig(databasesConfig(this.env), name);
      if (!cfg) throw new DbError("DB_NOT_FOUND", `no database named ${JSON.stringify(name)}`);
      this.cfg = cfg;
    }
    if (!this.state) {
      this.state = {
        name,
        generation: 0,
        position: null,
        rebuilds: 0,
        lastOkPollAt: null,
        lastRequestAt: Date.now(),
        lastError: null,
        heals: [],
        chain: [],
      };
    }
  }

  private mustState(): PersistedState {
    if (!this.state) throw new DbError("INTERNAL", "not initialised");
    return this.state;
  }

  private mustCfg(): DatabaseConfig {
    if (!this.cfg) {
      const state = this.mustState();
      const cfg = databaseConfig(databasesConfig(this.env), state.name);
      if (!cfg) throw new DbError("DB_NOT_FOUND", `database ${state.name} is no longer configured`);
      this.cfg = cfg;
    }
    return this.cfg;
  }

  private getReplica(): Replica {
    if (!this.replica) {
      const cfg = this.mustCfg();
      let store: ObjectStore = openStore(this.env, cfg);
      if (this.wrapStore) store = this.wrapStore(store);
      this.replica = openReplica(new CountingStore(store, this.counters), cfg);
    }
    return this.replica;
  }

  /** Records a request; wakes polling if it was idle. */
  private touch(): void {
    const state = this.mustState();
    const now = Date.now();
    state.lastRequestAt = now;
    if (now - this.lastStateSave > 30_000 && state.position) this.saveState();
    if (this.nextPollAt === null && state.position) {
      this.quietPolls = 0;
      this.arm(this.mustCfg().pollIntervalMs).catch(() => (this.nextPollAt = null));
    }
  }

  /** Idle when nobody asked for a while — or when the database is no longer configured. */
  private isIdle(): boolean {
    const state = this.state;
    if (!state) return true;
    let idleAfterMs: number;
    try {
      idleAfterMs = this.mustCfg().idleAfterMs;
    } catch {
      return true;
    }
    return Date.now() - state.lastRequestAt > idleAfterMs;
  }

  private async arm(delayMs: number): Promise<void> {
    const at = Date.now() + delayMs;
    this.nextPollAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private nextDelay(): number {
    const base = this.mustCfg().pollIntervalMs;
    if (this.consecutiveFailures > 0) return Math.min(base * 2 ** Math.min(this.consecutiveFailures, 16), Math.max(base, MAX_BACKOFF_MS));
    // Files still to verify keep the scrub going at the base rate.
    const q = this.integrity.scrubPending > 0 ? 0 : this.quietPolls;
    const factor = q < 30 ? 1 : q < 60 ? 2 : q < 120 ? 4 : 8;
    return base * factor;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private saveState(): void {
    const state = this.mustState();
    if (this.index) state.indexMeta = this.index.meta;
    this.store.saveState(state);
    this.lastStateSave = Date.now();
  }

  private async ensureIndex(): Promise<PageIndex> {
    if (this.index) return this.index;
    await this.serialized(async () => {
      if (this.index) return;
      try {
        await this.rebuild("initial build", null, true);
        this.mustState().lastOkPollAt = Date.now();
        this.consecutiveFailures = 0;
      } catch (e) {
        this.recordError(e);
        // Built short of the replica's newest state (quarantined files): serve what was built, stalled.
        if (!this.index) throw e;
      } finally {
        if (this.index && this.nextPollAt === null) await this.arm(this.mustCfg().pollIntervalMs);
      }
    });
    if (!this.index) throw new DbError("INTERNAL", "index build failed");
    return this.index;
  }

  /** Scrub steps until `maxBytes` were read or `maxSteps` ran; a failed file is quarantined and the plan routed around it. */
  private async scrubFor(maxBytes: number, maxSteps: number): Promise<ScrubReport["steps"]> {
    const steps: ScrubReport["steps"] = [];
    let bytes = 0;
    const inUse = (f: { key: string; etag: string }) => this.inUse(f);
    while (steps.length < maxSteps && bytes < maxBytes) {
      let step;
      try {
        step = await this.integrity.scrubStep(inUse);
      } catch {
        break; // a storage error: the progress is kept, the next alarm tries again
      }
      if (!step) break;
      steps.push(step);
      bytes += Math.max(step.length, 1);
      // A file found bad leaves the plan; one verified again may re-enter it (and must be re-pointed to its new epoch).
      if (step.outcome === "quarantined" || step.outcome === "readmitted") await this.poll(true);
    }
    return steps;
  }

  /** Whether the live index or a cached time-travel index reads from a file (key + ETag). */
  private inUse(f: { key: string; etag: string }): boolean {
    const uses = (x: PageIndex | null | undefined) => x?.files.some((g) => g.key === f.key && g.etag === f.etag) ?? false;
    return uses(this.index) || [...this.timeTravel.values()].some(uses);
  }

  private quarantine(r: FileRejected): void {
    this.integrity.quarantine(r);
    this.needFullList = true;
  }

  /** The page index as of an earlier TXID or time, from a plan that avoids quarantined files. */
  private async buildAt(target: PlanTarget): Promise<PageIndex> {
    const all = await this.getReplica().listFiles();
    this.builder.prune(all);
    const timestampOf = target.kind === "timestamp" ? await this.builder.timestamps(all) : undefined;
    const plan = () => {
      try {
        return { plan: computeRestorePlan(all.filter((f) => !this.integrity.avoid(f)), target, timestampOf) };
      } catch (e) {
        const q = all.filter(this.integrity.avoid);
        if (!(e instanceof PlanError) || q.length === 0) throw e;
        throw new PlanError(e.code, `${e.message} (quarantined files are never used: ${q.map((f) => f.key).slice(0, 3).join(", ")})`);
      }
    };
    const { built } = await this.integrity.buildAvoiding(plan);
    if (!built) throw new PlanError("PLAN_NO_FILES", "empty restore plan");
    return built.index;
  }

  private recordError(e: unknown): void {
    const state = this.mustState();
    this.consecutiveFailures++;
    state.lastError = { ...errorOf(e), at: Date.now() };
    this.saveState();
  }

  /**
   * Builds a fresh index from the latest restore plan. When the history is the
   * same (same page size, not behind), the live index adopts it as a delta;
   * otherwise it replaces it under a new generation.
   */
  private async rebuild(reason: string, listed: LtxFileInfo[] | null, newHistory = false): Promise<void> {
    const state = this.mustState();
    const all = listed ?? (await this.getReplica().listFiles());
    if (all.length === 0) throw new DbError("REPLICA_EMPTY", `no LTX files under ${this.getReplica().description}`);
    const { planned, built } = await this.integrity.buildAvoiding(() => planAvoiding(all, this.integrity.avoid));
    const { plan, blockedBy } = planned;
    const live = this.index;
    // Short of the live position because of quarantined files: keep the live index (never go back in time).
    const keepLive = live !== null && !newHistory && (built === null || (blockedBy.length > 0 && built.index.txid < live.txid));
    if (built && !keepLive) {
      const fresh = built.index;
      if (live && !newHistory && fresh.pageSize === live.pageSize && fresh.txid >= live.txid) {
        const before = live.version;
        live.adopt(fresh);
        this.store.saveIndex(live, before);
      } else {
        if (live) fresh.version = live.version + 1;
        this.index = fresh;
        state.generation++;
        this.store.saveIndex(fresh, null);
      }
      // Time-travel indexes may point at files this rebuild found gone.
      this.timeTravel.clear();
      const index = this.index as PageIndex;
      state.chain = plan.map((f) => f.key);
      state.position = index.position;
      state.postApply = built.end.postApplyChecksum.toString(16);
      if (reason !== "initial build") {
        state.rebuilds++;
        state.heals.push({ at: Date.now(), reason });
        if (state.heals.length > HEALS_KEPT) state.heals.splice(0, state.heals.length - HEALS_KEPT);
      }
      this.saveState();
    }
    if (blockedBy.length > 0) throw this.integrity.blockedError(blockedBy, this.index?.txid ?? null);
  }

  /**
   * Applies files that extend the chain, in order, each checked to continue
   * the one before, then persists. Stops at the first file that is bad or
   * does not continue: it is quarantined and returned (the caller re-plans).
   */
  private async applyFiles(files: LtxFileInfo[]): Promise<FileRejected | null> {
    if (files.length === 0) return null;
    const parts = await mapPool(files, FETCH_CONCURRENCY, (f) =>
      this.builder.read(f).catch((e: unknown): FilePart | FileRejected => {
        const r = rejectionOf(e, f);
        if (r) return r;
        throw e;
      }),
    );
    // Everything is fetched; apply synchronously so no RPC sees half a poll.
    const index = this.index as PageIndex;
    const state = this.mustState();
    const before = index.version;
    let end: ChainEnd = { txid: index.txid, pageSize: index.pageSize, postApplyChecksum: BigInt(`0x${state.postApply ?? "0"}`) };
    let rejected: FileRejected | null = null;
    const applied: string[] = [];
    for (const [i, f] of files.entries()) {
      try {
        const p = parts[i] as FilePart | FileRejected;
        if (!("header" in p)) throw p;
        end = applyChecked(index, end, f, p, this.integrity.admit);
        applied.push(f.key);
      } catch (e) {
        rejected = rejectionOf(e, f);
        if (!rejected) throw e;
        break;
      }
    }
    if (applied.length > 0) {
      state.chain.push(...applied);
      state.position = index.position;
      state.postApply = end.postApplyChecksum.toString(16);
      this.store.saveIndex(index, before);
      this.saveState();
    }
    if (rejected) this.quarantine(rejected);
    return rejected;
  }

  /** One poll. Records success or failure; never throws. */
  private async poll(forceFull: boolean): Promise<void> {
    const state = this.mustState();
    this.lastPollAt = Date.now();
    this.pollCount++;
    try {
      if (!this.index) {
        await this.rebuild("initial build", null, true);
      } else {
        const full = forceFull || this.needFullList || this.pollCount % FULL_LIST_EVERY === 0;
        const advanced = full ? await this.pollFull() : await this.pollQuick();
        this.quietPolls = advanced ? 0 : this.quietPolls + 1;
      }
      this.consecutiveFailures = 0;
      this.needFullList = false;
      state.lastOkPollAt = Date.now();
      state.position = this.index?.position ?? null;
      if (Date.now() - this.lastStateSave > 30_000) this.saveState();
    } catch (e) {
      // A vanished file means our listing is stale: look at everything next time.
      this.needFullList = true;
      this.recordError(e);
    }
  }

  /** L0 after the position only. Falls back to a full listing on anything unusual. */
  private async pollQuick(): Promise<boolean> {
    const index = this.index as PageIndex;
    const l0 = await this.getReplica().listLevel(0, index.txid);
    if (l0.length === 0) return false;
    const chain = extendChain(l0.filter((f) => !this.integrity.avoid(f)), index.txid);
    if (chain.length === 0) return this.pollFull();
    try {
      if (await this.applyFiles(chain)) return this.pollFull();
    } catch (e) {
      if (errorOf(e).code === "STORAGE_NOT_FOUND") return this.pollFull();
      throw e;
    }
    const last = chain[chain.length - 1] as LtxFileInfo;
    if (l0.some((f) => f.minTxid > last.maxTxid + 1 || this.integrity.avoid(f))) this.needFullList = true;
    return true;
  }

  private async pollFull(): Promise<boolean> {
    const index = this.index as PageIndex;
    const txid = index.txid;
    const all = await this.getReplica().listFiles();
    if (all.length === 0) throw new DbError("REPLICA_EMPTY", `no LTX files under ${this.getReplica().description}; serving the last known state`);
    this.builder.prune(all);
    this.integrity.ledger.prune(all, (f) => this.inUse(f));
    // Quarantined files whose back-off passed: small ones are verified again now, large ones by the scrub.
    const readmitted = await this.integrity.recheck(all, Date.now());
    const byKey = new Map(all.map((f) => [f.key, f] as const));
    const refs = index.files;
    const replaced = refs.some((f) => {
      const now = byKey.get(f.key);
      return now !== undefined && now.etag !== f.etag;
    });
    const newest = Math.max(...all.map((f) => f.maxTxid));
    if (replaced || newest < txid) {
      await this.rebuild(replaced ? "replica replaced (same keys, new ETags)" : `replica restarted below TXID ${formatTxid(txid)}`, all, true);
      return true;
    }
    if (refs.length > 0 && refs.every((f) => !byKey.has(f.key))) {
      // Not one file of our chain is left: a wiped and re-seeded replica cannot be told from a
      // fully compacted one, so treat it as a new history (workers reload; nothing is mixed).
      await this.rebuild("every file of the chain is gone (replica replaced?)", all, true);
      return true;
    }
    if (refs.some((f) => !byKey.has(f.key))) {
      await this.rebuild("files removed by compaction or retention", all);
      return (this.index as PageIndex).txid > txid;
    }
    if (readmitted.length > 0 || this.integrity.hasStaleEpochs(index)) {
      // Back in service under a new epoch: re-plan, and re-point pages to it so no cached byte of before is read.
      await this.rebuild(`re-admitted after verifying: ${readmitted.map((f) => f.key).join(", ") || "a re-checked file"}`, all);
      return (this.index as PageIndex).txid > txid;
    }
    const avoided = all.filter(this.integrity.avoid);
    const usable = all.filter((f) => !this.integrity.avoid(f));
    const ext = extendChain(usable, txid);
    const reached = ext.length > 0 ? (ext[ext.length - 1] as LtxFileInfo).maxTxid : txid;
    // A gap a quarantined file explains is reported below, not rebuilt for on every poll.
    if (usable.some((f) => f.minTxid > reached + 1) && continuing(avoided, reached).length === 0) {
      await this.rebuild(`gap after TXID ${formatTxid(reached)}`, all);
      return (this.index as PageIndex).txid > txid;
    }
    try {
      const rejected = await this.applyFiles(ext);
      if (rejected) {
        await this.rebuild(`${rejected.file.key} quarantined (${rejected.code})`, all);
        return (this.index as PageIndex).txid > txid;
      }
    } catch (e) {
      if (errorOf(e).code !== "STORAGE_NOT_FOUND") throw e;
      await this.rebuild("file vanished between listing and reading", null);
      return (this.index as PageIndex).txid > txid;
    }
    // Compaction happened (or a file was quarantined): re-point pages to the files the latest
    // plan uses, before retention deletes the ones we reference.
    const { plan, blockedBy } = planAvoiding(all, this.integrity.avoid);
    const planKeys = plan.map((f) => f.key).join("\n");
    const state = this.mustState();
    const last = plan[plan.length - 1];
    if (last && planKeys !== state.chain.join("\n") && last.maxTxid >= (this.index as PageIndex).txid) {
      await this.rebuild(blockedBy.length > 0 || avoided.length > 0 ? "re-planned around quarantined files" : "re-pointed to compacted files", all);
    }
    if (blockedBy.length > 0) throw this.integrity.blockedError(blockedBy, (this.index as PageIndex).txid);
    return (this.index as PageIndex).txid > txid;
  }

  private freshness(): Freshness {
    const state = this.state;
    const now = Date.now();
    return {
      sinceLastPollMs: state?.lastOkPollAt ? now - state.lastOkPollAt : null,
      newestFileAgeMs: this.index && this.index.timestamp > 0 ? now - this.index.timestamp : null,
      state: this.dbState(),
    };
  }

  private dbState(): DbState {
    if (!this.state || !this.index) return this.consecutiveFailures > 0 ? "error" : "starting";
    if (this.consecutiveFailures > 0) {
      const code = this.state.lastError?.code ?? "";
      return code.startsWith("PLAN_") || code === "LTX_QUARANTINED" ? "stalled" : "error";
    }
    if (this.nextPollAt === null && this.isIdle()) return "idle";
    return "ok";
  }

  private fullPayload(index: PageIndex, fromPgno: number, maxPages = PAYLOAD_PAGES): IndexPayload {
    return fullPayload(index, this.mustState().generation, this.freshness(), fromPgno, maxPages);
  }

  private describe(): DbStatus {
    const state = this.mustState();
    const cfg = this.mustCfg();
    const index = this.index;
    return {
      name: state.name,
      state: this.dbState(),
      generation: state.generation,
      position: index?.position ?? null,
      freshness: this.freshness(),
      pollIntervalMs: cfg.pollIntervalMs,
      currentIntervalMs: this.nextDelay(),
      idleAfterMs: cfg.idleAfterMs,
      lastPollAt: this.lastPollAt,
      lastOkPollAt: state.lastOkPollAt,
      nextPollAt: this.nextPollAt,
      lastError: state.lastError,
      consecutiveFailures: this.consecutiveFailures,
      rebuilds: state.rebuilds,
      heals: state.heals,
      files: index?.files.length ?? 0,
      pages: index?.pageCount ?? 0,
      indexBytes: this.store.storedBytes(),
      layout: this.replica?.layout ?? null,
      source: cfg.source === "s3" ? `s3://${cfg.s3?.bucket ?? ""}/${cfg.prefix}` : `r2://BUCKET/${cfg.prefix}`,
      storage: { ...this.counters },
      ...this.integrity.describe(),
      rowsWritten: this.store.rowsWritten,
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
