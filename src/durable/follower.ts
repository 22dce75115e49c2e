/**
 * @module
 * The Durable Object's follower: the page index and replica position, built
 * from the restore plan, persisted, advanced by polls (a probe for the next
 * level-0 file on most; every {@link FULL_LIST_EVERY}th, and whenever
 * something looks off, a full listing that also notices compaction, wiped
 * replicas and gaps), healed from a fresh plan, and kept
 * honest by the integrity policy (quarantined files are routed around,
 * large files scrubbed after polls).
 *
 * Concurrency: the methods that read the replica and change the index
 * (`rebuild`, `poll`, `scrubFor`) must run one at a time, under the DO's
 * lock; they apply what they fetched synchronously, so an RPC never sees
 * half a poll.
 */
import { formatTxid } from "../ltx/txid.ts";
import { continuing, extendChain, planAvoiding } from "../plan/plan.ts";
import type { LtxFileInfo, Replica } from "../replica/replica.ts";
import { CodedError } from "../errors.ts";
import { ChunkedIndex } from "./chunked-index.ts";
import { type FilePart, IndexBuilder, applyChain, chunkFileOf, readAll, type FileRejected } from "./index-builder.ts";
import { type ChainEnd, checkContinues } from "../plan/continuity.ts";
import { Integrity } from "./integrity.ts";
import type { IndexStore, PersistedState } from "./persist.ts";
import type { ScrubStepReport } from "./protocol.ts";
import { TimeTravelCache } from "./time-travel.ts";

/**
 * Every Nth poll lists all levels (compaction, wipes, gaps, files a probe
 * cannot see): once a minute at the default 1 s interval. The polls between
 * only probe for the next level-0 file (a HEAD, Class B), so an active
 * database costs ~60 listings (Class A) an hour instead of 3,600.
 */
export const FULL_LIST_EVERY = 60;
/** Level-0 files one poll probes for, one by one, before it lists instead (a replica far ahead). */
export const PROBE_MAX = 16;
const HEALS_KEPT = 20;

export class DbError extends CodedError {}

export function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : "INTERNAL", message: e.message };
  }
  return { code: "INTERNAL", message: String(e) };
}

export class Follower {
  state: PersistedState | null;
  index: ChunkedIndex | null = null;
  readonly builder: IndexBuilder;
  readonly integrity: Integrity;
  readonly timeTravel = new TimeTravelCache();
  pollCount = 0;
  consecutiveFailures = 0;
  quietPolls = 0;
  needFullList = false;
  lastPollAt: number | null = null;
  lastStateSave = 0;
  private readonly store: IndexStore;
  private readonly replica: () => Replica;

  /** Loads what storage holds; `replica` is called per use (a replaced store takes effect). */
  constructor(store: IndexStore, replica: () => Replica) {
    this.store = store;
    this.replica = replica;
    this.builder = new IndexBuilder(replica, store.chunks);
    this.integrity = new Integrity(store.sql, this.builder, replica);
    // Time-travel indexes that use a quarantined file are void (rebuilt without it on the next ask).
    this.integrity.onQuarantine = (f) => this.timeTravel.void(f);
    this.timeTravel.attach(store.chunks);
    this.state = store.loadState();
    if (this.state?.position) {
      try {
        this.index = store.loadIndex();
        if (!this.index || this.index.generation !== this.state.generation) throw new DbError("INDEX_INCOMPLETE", "stored index does not match the stored state");
        // Files of an index stored before the ledger existed are verified by the scrub.
        this.integrity.ledger.adoptUnknown(this.index.files);
      } catch (e) {
        // Stored state that cannot be loaded must never wedge the database: rebuild from the replica.
        store.clear();
        this.index = null;
        this.state = { ...this.state, position: null, generation: this.state.generation + 1, chain: [] };
        this.state.lastError = { ...errorOf(e), at: Date.now() };
      }
    }
  }

  mustState(): PersistedState {
    if (!this.state) throw new DbError("INTERNAL", "not initialised");
    return this.state;
  }

  saveState(): void {
    const state = this.mustState();
    this.store.saveState(state);
    this.lastStateSave = Date.now();
  }

  recordError(e: unknown): void {
    const state = this.mustState();
    this.consecutiveFailures++;
    state.lastError = { ...errorOf(e), at: Date.now() };
    this.saveState();
  }

  /** Whether the live index or a cached time-travel index reads from a file (key + ETag). */
  inUse(f: { key: string; etag: string }): boolean {
    return (this.index?.files.some((g) => g.key === f.key && g.etag === f.etag) ?? false) || this.timeTravel.uses(f);
  }

  /**
   * Builds a fresh index from the latest restore plan that avoids quarantined
   * files. When the history is the same (same page size, not behind), the live
   * index adopts it as a delta; otherwise it replaces it under a new
   * generation. Never goes back in time because of quarantined files: then
   * the live index stays and LTX_QUARANTINED names them.
   */
  async rebuild(reason: string, listed: LtxFileInfo[] | null, newHistory = false): Promise<void> {
    const state = this.mustState();
    const all = listed ?? (await this.replica().listFiles());
    if (all.length === 0) throw new DbError("REPLICA_EMPTY", `no LTX files under ${this.replica().description}`);
    const { planned, built } = await this.integrity.buildAvoiding(() => planAvoiding(all, this.integrity.avoid));
    const { plan, blockedBy } = planned;
    const live = this.index;
    const keepLive = live !== null && !newHistory && (built === null || (blockedBy.length > 0 && built.built.txid < live.txid));
    // Pages read from a file found bad (or from an earlier admission of a re-admitted one) may sit in
    // SQLite page caches of reused connections at this very TXID: only a new generation makes every
    // isolate drop them (and its copies of the index) instead of taking a delta.
    const tainted = live !== null && live.files.some((f) => this.integrity.ledger.blocks(f) !== null);
    if (built && !keepLive) {
      const fresh = built.built;
      if (live && !newHistory && !tainted && fresh.pageSize === live.pageSize && fresh.txid >= live.txid) {
        live.replace(fresh, false);
      } else if (live) {
        live.replace(fresh, true);
      } else {
        state.lineage ??= crypto.randomUUID();
        this.index = ChunkedIndex.create(this.store.chunks, this.store.sql, fresh, { lineage: state.lineage, generation: state.generation + 1, version: 1 });
      }
      state.generation = (this.index as ChunkedIndex).generation;
      // Time-travel indexes may point at files this rebuild found gone.
      this.timeTravel.clear();
      state.chain = plan.map((f) => f.key);
      state.position = (this.index as ChunkedIndex).position;
      state.postApply = built.end.postApplyChecksum.toString(16);
      if (reason !== "initial build") {
        state.rebuilds++;
        state.heals.push({ at: Date.now(), reason });
        if (state.heals.length > HEALS_KEPT) state.heals.splice(0, state.heals.length - HEALS_KEPT);
      }
      this.saveState();
    }
    if (blockedBy.length > 0) throw this.integrity.blockedError(blockedBy, this.index);
  }

  /** One poll. Records success or failure; never throws. */
  async poll(forceFull: boolean): Promise<void> {
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

  /**
   * Scrub steps until `maxBytes` were read or `maxSteps` ran. A file found bad
   * leaves the plan, one verified again may re-enter it (re-pointed to its new
   * epoch): both re-plan at once. Storage errors end the run (kept progress).
   */
  async scrubFor(maxBytes: number, maxSteps: number): Promise<ScrubStepReport[]> {
    const steps: ScrubStepReport[] = [];
    let bytes = 0;
    while (steps.length < maxSteps && bytes < maxBytes) {
      const step = await this.integrity.scrubStep((f) => this.inUse(f)).catch(() => null);
      if (!step) break;
      steps.push(step);
      bytes += Math.max(step.length, 1);
      if ((step.outcome === "quarantined" || step.outcome === "readmitted") && this.index) await this.poll(true);
    }
    return steps;
  }

  /** Applies files that extend the chain, then persists; a file that is bad or does not continue is quarantined and returned. */
  private async applyFiles(files: LtxFileInfo[]): Promise<FileRejected | null> {
    if (files.length === 0) return null;
    const parts = await readAll(this.builder, files);
    const index = this.index as ChunkedIndex;
    const state = this.mustState();
    const from = { txid: index.txid, pageSize: index.pageSize, postApplyChecksum: BigInt(`0x${state.postApply ?? "0"}`) };
    const { end, applied, rejected } = await applyChain(this.builder, index, from, files, parts, this.integrity.admit);
    if (applied.length > 0) {
      state.chain.push(...applied.map((f) => f.key));
      state.position = index.position;
      state.postApply = end.postApplyChecksum.toString(16);
      this.saveState();
    }
    if (rejected) {
      this.integrity.quarantine(rejected);
      this.needFullList = true;
    }
    return rejected;
  }

  /**
   * Re-points pages to the compacted files of `plan` (each checked to
   * continue the one before, like a rebuild would), costing the size of
   * those files' indexes rather than the database's. False when the plan
   * does not describe the live position (a rebuild must decide).
   */
  private async repointTo(plan: readonly LtxFileInfo[]): Promise<boolean> {
    const index = this.index as ChunkedIndex;
    const lastFile = plan[plan.length - 1];
    if (!lastFile || lastFile.maxTxid !== index.txid) return false;
    const parts = await readAll(this.builder, plan);
    let end: ChainEnd | null = null;
    for (const [i, f] of plan.entries()) {
      const p = parts[i] as FilePart | FileRejected;
      if (!("header" in p)) return false;
      try {
        checkContinues(end, f.key, p.header);
      } catch {
        return false;
      }
      end = { txid: p.header.maxTxid, pageSize: p.header.pageSize, postApplyChecksum: p.postApplyChecksum };
    }
    if ((parts[parts.length - 1] as FilePart).header.commit !== index.commit) return false;
    const used = new Set(index.files.map((f) => `${f.key}\n${f.etag}`));
    for (const [i, f] of plan.entries()) {
      if (used.has(`${f.key}\n${f.etag}`)) continue;
      const p = parts[i] as FilePart;
      await index.repoint(chunkFileOf(f, this.integrity.admit(f, p)), this.builder.entries(f, p));
    }
    const state = this.mustState();
    state.chain = plan.map((f) => f.key);
    state.position = index.position;
    this.saveState();
    return true;
  }

  /**
   * Probes for the next level-0 files, one TXID after another (a HEAD each),
   * and applies what it finds. Anything unusual — a file to avoid, a file
   * gone between probe and read, a replica far ahead — leads to a full
   * listing (now, or on the next poll).
   */
  private async pollQuick(): Promise<boolean> {
    const index = this.index as ChunkedIndex;
    const replica = this.replica();
    if (replica.layout === null) return this.pollFull();
    const found: LtxFileInfo[] = [];
    while (found.length < PROBE_MAX) {
      const next = await replica.probeL0(index.txid + found.length + 1);
      if (!next) break;
      if (this.integrity.avoid(next)) {
        this.needFullList = true;
        break;
      }
      found.push(next);
    }
    if (found.length === 0) return false;
    try {
      if (await this.applyFiles(found)) return this.pollFull();
    } catch (e) {
      if (errorOf(e).code === "STORAGE_NOT_FOUND") return this.pollFull();
      throw e;
    }
    // More may be waiting than probing one by one should fetch: list them next time.
    if (found.length === PROBE_MAX) this.needFullList = true;
    return true;
  }

  private async pollFull(): Promise<boolean> {
    const index = this.index as ChunkedIndex;
    const txid = index.txid;
    const advanced = () => (this.index as ChunkedIndex).txid > txid;
    const all = await this.replica().listFiles();
    if (all.length === 0) throw new DbError("REPLICA_EMPTY", `no LTX files under ${this.replica().description}; serving the last known state`);
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
      return advanced();
    }
    if (readmitted.length > 0 || this.integrity.hasStaleEpochs(index)) {
      // Back in service under a new epoch: re-plan, and re-point pages to it so no cached byte of before is read.
      await this.rebuild(`re-admitted after verifying: ${readmitted.map((f) => f.key).join(", ") || "a re-checked file"}`, all);
      return advanced();
    }
    const avoided = all.filter(this.integrity.avoid);
    const usable = all.filter((f) => !this.integrity.avoid(f));
    const ext = extendChain(usable, txid);
    const reached = ext.length > 0 ? (ext[ext.length - 1] as LtxFileInfo).maxTxid : txid;
    // A gap a quarantined file explains is reported below, not rebuilt for on every poll.
    if (usable.some((f) => f.minTxid > reached + 1) && continuing(avoided, reached).length === 0) {
      await this.rebuild(`gap after TXID ${formatTxid(reached)}`, all);
      return advanced();
    }
    try {
      const rejected = await this.applyFiles(ext);
      if (rejected) {
        await this.rebuild(`${rejected.file.key} quarantined (${rejected.code})`, all);
        return advanced();
      }
    } catch (e) {
      if (errorOf(e).code !== "STORAGE_NOT_FOUND") throw e;
      await this.rebuild("file vanished between listing and reading", null);
      return advanced();
    }
    // Compaction happened (or a file was quarantined): re-point pages to the files the latest
    // plan uses, before retention deletes the ones we reference.
    const { plan, blockedBy } = planAvoiding(all, this.integrity.avoid);
    const last = plan[plan.length - 1];
    if (last && plan.map((f) => f.key).join("\n") !== this.mustState().chain.join("\n") && last.maxTxid >= (this.index as ChunkedIndex).txid) {
      // Moving pages off quarantined files needs the full plan; compaction alone only re-points.
      if (avoided.length > 0 || !(await this.repointTo(plan))) {
        await this.rebuild(avoided.length > 0 ? "re-planned around quarantined files" : "re-pointed to compacted files", all);
      }
    }
    if (blockedBy.length > 0) throw this.integrity.blockedError(blockedBy, this.index);
    return advanced();
  }
}
