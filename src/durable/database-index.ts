/**
 * @module
 * One Durable Object per database. It owns the replica position and the page
 * index (the {@link Follower}: built from the restore plan on first use,
 * persisted in its SQLite storage so waking after eviction reads no replica,
 * polled, healed, kept honest by the integrity policy), runs polls and the
 * background scrub on alarms, backs off on errors and idles when unused, and
 * hands Workers the index (whole, paged, or as a delta since the version
 * they hold) over JS RPC — never one that names a quarantined file.
 */
import { DurableObject } from "cloudflare:workers";
import { type DatabaseConfig, databaseConfig } from "../config/databases.ts";
import { databasesConfig, openReplica, openStore } from "../config/open-replica.ts";
import type { Env } from "../env.ts";
import { formatTxid } from "../ltx/txid.ts";
import type { IndexRoot } from "../page-index/root.ts";
import { rootPayload } from "./root-payload.ts";
import { CountingStore, newCounters } from "../replica/counting.ts";
import { TimeoutStore } from "../replica/timeout-store.ts";
import type { Replica } from "../replica/replica.ts";
import type { ObjectStore } from "../replica/types.ts";
import type { ChunkedIndex } from "./chunked-index.ts";
import { DbError, FULL_LIST_EVERY, Follower, errorOf } from "./follower.ts";
import { IndexStore, type PersistedState } from "./persist.ts";
import { type DbState, type DbStatus, type Freshness, MAX_CHUNKS_PER_CALL, type RootPayload, type RootRequest, type RpcResult, type ScrubReport, type TimeTravelTarget } from "./protocol.ts";
import type { IndexPosition } from "../page-index/page-index.ts";
import { PollLog } from "./poll-log.ts";
import { SCRUB_BYTES_PER_ALARM, SCRUB_STEPS_PER_ALARM } from "./scrub.ts";
import { buildAt } from "./time-travel.ts";

export { FULL_LIST_EVERY };

/** Longest back-off after storage errors. */
export const MAX_BACKOFF_MS = 60_000;
/** Longest a waitFor() may block. */
export const MAX_WAIT_MS = 30_000;
/** Shortest interval between polls made for waiters. */
const WAIT_POLL_MS = 200;

/** How often an alarm sweeps index chunks no root uses any more. */
const SWEEP_EVERY_MS = 60_000;
/** Bound on one storage request of the DO (reads of whole small files and index ranges are ≤ a few MiB). */
const DO_STORAGE_TIMEOUT_MS = 30_000;

export class DatabaseIndex extends DurableObject<Env> {
  private readonly store: IndexStore;
  /** Index, position and integrity; its replica-reading methods run under `lock` (see {@link serialized}). */
  private readonly follower: Follower;
  private cfg: DatabaseConfig | null = null;
  private replica: Replica | null = null;
  private readonly counters = newCounters();
  private lock: Promise<unknown> = Promise.resolve();
  private nextPollAt: number | null = null;
  /** When superseded index chunks were last swept (see ChunkStore.sweep). */
  private lastSweep = 0;
  private readonly pollLog = new PollLog();
  private wrapStore: ((s: ObjectStore) => ObjectStore) | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new IndexStore(ctx.storage);
    this.follower = new Follower(this.store, () => this.getReplica());
  }

  private get index(): ChunkedIndex | null {
    return this.follower.index;
  }

  private get state(): PersistedState | null {
    return this.follower.state;
  }

  // ---------------------------------------------------------------- RPC API

  /**
   * The live index for an isolate that holds `req` (nothing, or a version of
   * it): "same", the chunks changed since (a delta of a few dozen bytes after
   * one L0 file), or the whole root (16 bytes per 4096 pages). Never one that
   * names a quarantined file.
   */
  async root(name: string, req: RootRequest = {}): Promise<RpcResult<RootPayload>> {
    return this.rpc(name, async () => {
      const index = await this.ensureIndex();
      this.follower.integrity.assertServable(index);
      return rootPayload(index.root, req, this.freshness(), this.store.chunks);
    });
  }

  /**
   * Index chunks by id (at most {@link MAX_CHUNKS_PER_CALL}), for isolates
   * loading the chunks a query touches. Chunks are immutable; a chunk no root
   * has used for a while may be gone (INDEX_CHUNK_GONE: sync the root again).
   */
  async chunks(name: string, ids: string[]): Promise<RpcResult<Uint8Array[]>> {
    return this.rpc(
      name,
      async () => {
        if (!Array.isArray(ids) || ids.length > MAX_CHUNKS_PER_CALL) throw new DbError("BAD_REQUEST", `ask for 1 to ${MAX_CHUNKS_PER_CALL} chunks per call`);
        return ids.map((id) => {
          const b = typeof id === "string" ? this.store.chunks.get(id) : null;
          if (!b) throw new DbError("INDEX_CHUNK_GONE", `index chunk ${String(id)} is no longer stored; the index moved on`);
          return b;
        });
      },
      { use: false },
    );
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
  async waitFor(name: string, minTxid: number, timeoutMs: number): Promise<RpcResult<IndexPosition>> {
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
        // All waiters share one poll rate (however many wait, ≤ 5 polls a second), and a poll only
        // probes for the next level-0 file unless its schedule says list: waiting never turns into a listing storm.
        if (Date.now() - (this.follower.lastPollAt ?? 0) >= WAIT_POLL_MS) await this.serialized(() => this.follower.poll(false));
        index = this.index ?? index;
        attempt++;
        if (index.txid < minTxid) await sleep(Math.max(0, Math.min(WAIT_POLL_MS, deadline - Date.now())));
      }
      return index.position;
    });
  }

  /**
   * The root of the index as of an earlier TXID or time, built on demand from
   * a restore plan to that point (without disturbing the live index); its
   * chunks load through chunks() like the live ones.
   */
  async rootAt(name: string, target: TimeTravelTarget): Promise<RpcResult<{ root: IndexRoot; freshness: Freshness }>> {
    return this.rpc(name, async () => {
      const live = await this.ensureIndex();
      if ("txid" in target && target.txid === live.txid) {
        this.follower.integrity.assertServable(live);
        return { root: live.root, freshness: this.freshness() };
      }
      if ("txid" in target && target.txid > live.txid) {
        throw new DbError(
          "TXID_NOT_YET_AVAILABLE",
          `TXID ${formatTxid(target.txid)} is newer than the replica position ${formatTxid(live.txid)}; pass min_txid to wait for it`,
        );
      }
      const { integrity, timeTravel, builder } = this.follower;
      const key = JSON.stringify(target);
      let root = timeTravel.get(key);
      let files = root ? timeTravel.filesOf(key) : [];
      if (root && integrity.hasStaleEpochs({ files, txid: root.txid })) root = undefined;
      if (!root) {
        const plan = "txid" in target ? ({ kind: "txid", txid: target.txid } as const) : ({ kind: "timestamp", timestamp: target.timestamp } as const);
        const built = await this.serialized(async () => buildAt(await this.getReplica().listFiles(), plan, builder, integrity));
        // Its own lineage-qualified identity: version -1 never matches a live version, so no delta is ever taken from it.
        const id = { lineage: live.root.lineage, generation: live.generation, version: -1 };
        files = [...built.built.files.values()].map((x) => x.file);
        // A time at or after the newest file's may resolve to a newer state later: never kept.
        const keep = "txid" in target || target.timestamp < live.timestamp;
        root = keep ? timeTravel.set(key, built, id) : timeTravel.setTransient(built, id);
      }
      integrity.assertServable({ files, txid: root.txid });
      return { root, freshness: this.freshness() };
    });
  }

  /** Polls now (a caller asked for a position confirmed within a deadline) and reports freshness. */
  async refresh(name: string): Promise<RpcResult<Freshness>> {
    return this.rpc(name, async () => {
      await this.ensureIndex();
      await this.serialized(() => this.follower.poll(false));
      return this.freshness();
    });
  }

  /** A Worker found a file of the index missing (404): heal now. */
  async reportMissing(name: string, key: string): Promise<RpcResult<IndexPosition>> {
    return this.rpc(name, async () => {
      const index = await this.ensureIndex();
      // Time-travel indexes pointing at the file are void: rebuilt (or refused with 410) on the next ask.
      this.follower.timeTravel.void({ key });
      if (index.files.some((f) => f.key === key)) await this.serialized(() => this.follower.poll(true));
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
   * (maintenance and tests; an alarm runs up to {@link SCRUB_STEPS_PER_ALARM}).
   */
  async scrub(name: string, maxSteps = 1): Promise<RpcResult<ScrubReport>> {
    return this.rpc(
      name,
      async () => {
        await this.ensureIndex().catch(() => undefined);
        const steps = await this.serialized(() => this.follower.scrubFor(Number.POSITIVE_INFINITY, Math.max(1, Math.floor(maxSteps))));
        return { steps, pending: this.follower.integrity.scrubPending };
      },
      { use: false },
    );
  }

  /** Checks every quarantined file again now, without waiting for its back-off (after a repair). */
  async recheck(name: string): Promise<RpcResult<DbStatus>> {
    return this.rpc(name, async () => {
      await this.ensureIndex().catch(() => undefined);
      await this.serialized(async () => {
        await this.follower.integrity.recheck(await this.getReplica().listFiles(), Date.now(), true);
        await this.follower.poll(true);
      });
      return this.describe();
    });
  }

  override async alarm(): Promise<void> {
    this.nextPollAt = null;
    try {
      if (!this.state) return;
      if (this.isIdle()) return;
      await this.serialized(() => this.follower.poll(false));
      await this.serialized(() => this.follower.scrubFor(SCRUB_BYTES_PER_ALARM, SCRUB_STEPS_PER_ALARM));
      if (Date.now() - this.lastSweep >= SWEEP_EVERY_MS) {
        this.lastSweep = Date.now();
        this.store.chunks.sweep();
      }
    } catch {
      // poll() and scrubFor() record their own errors; never let the runtime retry-storm the alarm.
    } finally {
      this.logChange();
      if (this.state && !this.isIdle()) await this.arm(this.nextDelay());
    }
  }

  /** Logs the replica's state when it changed since the last log (src/durable/poll-log.ts). */
  private logChange(): void {
    if (this.state) this.pollLog.noteState(this.state, this.dbState(), this.index?.txid ?? null, this.follower.consecutiveFailures > 0);
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
    } finally {
      this.logChange();
    }
  }

  private init(name: string): void {
    if (this.state && this.state.name !== name) throw new DbError("INTERNAL", `object for ${this.state.name} asked about ${name}`);
    if (!this.cfg) {
      const cfg = databaseConfig(databasesConfig(this.env), name);
      if (!cfg) throw new DbError("DB_NOT_FOUND", `no database named ${JSON.stringify(name)}`);
      this.cfg = cfg;
    }
    if (!this.follower.state) {
      this.follower.state = {
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

  private mustCfg(): DatabaseConfig {
    if (!this.cfg) {
      const state = this.follower.mustState();
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
      // A hung read must never hold the DO's poll (and every RPC queued behind it) forever.
      this.replica = openReplica(new CountingStore(new TimeoutStore(store, DO_STORAGE_TIMEOUT_MS), this.counters), cfg);
    }
    return this.replica;
  }

  /** Records a request; wakes polling if it was idle. */
  private touch(): void {
    const state = this.follower.mustState();
    const now = Date.now();
    state.lastRequestAt = now;
    if (now - this.follower.lastStateSave > 30_000 && state.position) this.follower.saveState();
    if (this.nextPollAt === null && state.position) {
      this.follower.quietPolls = 0;
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
    const failures = this.follower.consecutiveFailures;
    if (failures > 0) return Math.min(base * 2 ** Math.min(failures, 16), Math.max(base, MAX_BACKOFF_MS));
    // Files still to verify keep the scrub going at the base rate.
    const q = this.follower.integrity.scrubPending > 0 ? 0 : this.follower.quietPolls;
    const factor = q < 30 ? 1 : q < 60 ? 2 : q < 120 ? 4 : 8;
    return base * factor;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async ensureIndex(): Promise<ChunkedIndex> {
    if (this.index) return this.index;
    await this.serialized(async () => {
      if (this.index) return;
      try {
        await this.follower.rebuild("initial build", null, true);
        this.follower.mustState().lastOkPollAt = Date.now();
        this.follower.consecutiveFailures = 0;
      } catch (e) {
        this.follower.recordError(e);
        // Built short of the replica's newest state (quarantined files): serve what was built, stalled.
        if (!this.index) throw e;
      } finally {
        if (this.index && this.nextPollAt === null) await this.arm(this.mustCfg().pollIntervalMs);
      }
    });
    if (!this.index) throw new DbError("INTERNAL", "index build failed");
    return this.index;
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
    if (!this.state || !this.index) return this.follower.consecutiveFailures > 0 ? "error" : "starting";
    if (this.follower.consecutiveFailures > 0) {
      const code = this.state.lastError?.code ?? "";
      return code.startsWith("PLAN_") || code === "LTX_QUARANTINED" ? "stalled" : "error";
    }
    if (this.nextPollAt === null && this.isIdle()) return "idle";
    return "ok";
  }

  private describe(): DbStatus {
    const state = this.follower.mustState();
    const cfg = this.mustCfg();
    const index = this.index;
    const chunkStats = this.store.chunks.stats();
    return {
      name: state.name,
      state: this.dbState(),
      generation: state.generation,
      position: index?.position ?? null,
      freshness: this.freshness(),
      pollIntervalMs: cfg.pollIntervalMs,
      currentIntervalMs: this.nextDelay(),
      idleAfterMs: cfg.idleAfterMs,
      lastPollAt: this.follower.lastPollAt,
      lastOkPollAt: state.lastOkPollAt,
      nextPollAt: this.nextPollAt,
      lastError: state.lastError,
      consecutiveFailures: this.follower.consecutiveFailures,
      rebuilds: state.rebuilds,
      heals: state.heals,
      files: index?.files.length ?? 0,
      pages: index ? [...index.fileUse.values()].reduce((n, x) => n + x.pages, 0) : 0,
      indexChunks: chunkStats.chunks,
      indexBytes: chunkStats.bytes,
      layout: this.replica?.layout ?? null,
      source: cfg.source === "s3" ? `s3://${cfg.s3?.bucket ?? ""}/${cfg.prefix}` : `r2://BUCKET/${cfg.prefix}`,
      storage: { ...this.counters },
      ...this.follower.integrity.describe((f) => this.follower.inUse(f)),
      rowsWritten: this.store.rowsWritten,
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
