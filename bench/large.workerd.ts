/**
 * Benchmarks on synthetic replicas, inside workerd with the real Worker,
 * Durable Object and local R2 (started by bench/run.ts through
 * bench/vitest.large.config.ts; results go to the plan's results file, and
 * run.ts writes them into RESULTS.md). Nothing here asserts a time: it
 * measures, and run.ts compares with the targets.
 *
 * Memory is the workerd process's, read from /proc by the Node setup: the
 * Worker, its Durable Objects and local R2 share that process, so every
 * figure is a difference between two readings around one step, with the
 * step's peak (VmHWM, reset before it).
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { inject, test } from "vitest";
import { formatLtxFilename } from "../src/ltx/txid.ts";
import { encodeLtxFile } from "../src/ltx/writer.ts";
import { CHUNK_PAGES, chunkOf } from "../src/page-index/chunk.ts";
import { ID_BYTES } from "../src/page-index/root.ts";
import { levelDir } from "../src/replica/replica.ts";
import type { DbStatus, RootPayload } from "../src/durable/protocol.ts";
import type { PlannedReplica } from "./large-plan.ts";
import type { MemoryReading } from "./proc-memory.ts";

const base = inject("benchUrl");
const plan = inject("benchPlan");
/** Parts of a multipart upload (R2 wants equal parts ≥ 5 MiB but the last). */
const PART_BYTES = 64 * 1024 * 1024;

async function memory(resetPeak = false): Promise<MemoryReading> {
  return (await (await fetch(`${base}/memory`, { method: resetPeak ? "POST" : "GET" })).json()) as MemoryReading;
}

/** A file of the replica cache, whole or a byte range. */
async function cached(rel: string, range?: [number, number]): Promise<Uint8Array> {
  const res = await fetch(`${base}/file/${rel}`, range ? { headers: { range: `bytes=${range[0]}-${range[1]}` } } : {});
  if (!res.ok) throw new Error(`${rel}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function report(key: string, value: unknown): Promise<void> {
  const res = await fetch(`${base}/result/${encodeURIComponent(key)}`, { method: "POST", body: JSON.stringify(value) });
  await res.arrayBuffer();
}

function snapshotKey(db: string): string {
  return `${levelDir(db, "s3", 9)}${formatLtxFilename(1, 1)}`;
}

/**
 * Copies a cached file into local R2 under `key`, streamed from the setup's
 * server (multipart when large), so no copy of it stays in this isolate's
 * heap to be collected during a later measurement.
 */
async function upload(rel: string, size: number, key: string): Promise<void> {
  const body = async (range?: [number, number]): Promise<ReadableStream<Uint8Array>> => {
    const res = await fetch(`${base}/file/${rel}`, range ? { headers: { range: `bytes=${range[0]}-${range[1]}` } } : {});
    if (!res.ok || !res.body) throw new Error(`${rel}: HTTP ${res.status}`);
    return res.body;
  };
  if (size <= PART_BYTES) {
    await env.BUCKET.put(key, await body());
    return;
  }
  const up = await env.BUCKET.createMultipartUpload(key);
  const parts: Awaited<ReturnType<typeof up.uploadPart>>[] = [];
  for (let off = 0, n = 1; off < size; off += PART_BYTES, n++) parts.push(await up.uploadPart(n, await body([off, Math.min(size, off + PART_BYTES) - 1])));
  await up.complete(parts);
}

function stub(db: string) {
  return env.DB_INDEX.getByName(db);
}

async function status(db: string): Promise<DbStatus> {
  const r = await stub(db).status(db);
  if (!r.ok) throw new Error(`${db}: ${r.error.code} ${r.error.message}`);
  return r.value;
}

interface QueryReply {
  rows: unknown[][];
  meta: Record<string, number | string | boolean | null>;
  ms: number;
}

async function query(db: string, sql: string, params: unknown[] = [], extra: Record<string, unknown> = {}): Promise<QueryReply> {
  const t0 = Date.now();
  const res = await exports.default.fetch(
    new Request(`http://localhost/db/${db}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql, params, ...extra }) }),
  );
  const body = (await res.json()) as QueryReply & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(`${db}: ${sql}: ${body.error?.code} ${body.error?.message}`);
  return { rows: body.rows, meta: body.meta, ms: Date.now() - t0 };
}

async function health(): Promise<Record<string, number>> {
  const res = await exports.default.fetch(new Request("http://localhost/health"));
  return ((await res.json()) as { isolate: Record<string, number> }).isolate;
}

const PROBE_SQL = "SELECT id, length(b) FROM t WHERE id = ?";

/** Seeds a replica's snapshot as database `db`. */
async function seed(r: PlannedReplica, db: string): Promise<number> {
  const t0 = Date.now();
  await upload(`${r.meta.name}/${r.meta.file}`, r.meta.fileBytes, snapshotKey(db));
  return Date.now() - t0;
}

test("warm-up: wa-sqlite loaded before any measurement", async () => {
  await seed(plan.warm, "warm");
  const r = await query("warm", PROBE_SQL, [plan.warm.probeId]);
  await report("warm", { rows: r.rows, ms: r.ms });
});

for (const { label, replica } of plan.large) {
  test(`large replica ${label}: index build in the DO, first query, delta`, async () => {
    const db = `large-${label}`;
    const uploadMs = await seed(replica, db);

    // 1. The DO builds its index (status() builds on first use, like a first query would).
    await new Promise((r) => setTimeout(r, 2000));
    const before = await memory(true);
    const t0 = Date.now();
    const built = await status(db);
    const buildMs = Date.now() - t0;
    const afterBuild = await memory();
    if (built.lastError) throw new Error(`build: ${built.lastError.code} ${built.lastError.message}`);

    // 2. The first query in this isolate (its root and chunks are cold; wa-sqlite is warm).
    const h0 = await health();
    const beforeQuery = await memory(true);
    const q = await query(db, PROBE_SQL, [replica.probeId]);
    const afterQuery = await memory();
    const h1 = await health();
    const path = [1, ...replica.probePath];

    const out: Record<string, unknown> = {
      label,
      meta: replica.meta,
      uploadMs,
      build: { ms: buildMs, status: built, memory: { before, after: afterBuild } },
      query: { rows: q.rows, ms: q.ms, meta: q.meta, memory: { before: beforeQuery, after: afterQuery }, health: { before: h0, after: h1 }, path, chunks: [...new Set(path.map(chunkOf))] },
      rootBytes: (built.position ? Math.ceil(built.position.commit / CHUNK_PAGES) : 0) * ID_BYTES,
    };

    // 3. One 3-page L0 file: what the DO does for it, and what an isolate receives.
    if (replica.delta) {
      const s = stub(db);
      const held = await s.root(db, {});
      if (!held.ok || held.value.kind !== "full") throw new Error("no full root");
      const root = held.value.root;
      const bytes = await cached(replica.delta.file);
      await env.BUCKET.put(`${levelDir(db, "s3", 0)}${formatLtxFilename(2, 2)}`, bytes);
      const rowsBefore = (await status(db)).rowsWritten;
      const m0 = await memory(true);
      const p0 = Date.now();
      const polled = await s.refresh(db);
      const pollMs = Date.now() - p0;
      const m1 = await memory();
      if (!polled.ok) throw new Error(`refresh: ${polled.error.message}`);
      const after = await status(db);
      const d = await s.root(db, { lineage: root.lineage, generation: root.generation, version: root.version });
      if (!d.ok) throw new Error(d.error.message);
      const payload: RootPayload = d.value;
      let delta: Record<string, unknown> = { kind: payload.kind };
      if (payload.kind === "delta") {
        const { changed, ids, ...rest } = payload.delta;
        delta = {
          kind: "delta",
          chunks: [...changed],
          idBytes: ids.length + changed.byteLength,
          // Everything else the RPC carries (position, lineage, freshness), as JSON text.
          otherBytes: JSON.stringify({ ...rest, freshness: payload.freshness }).length,
        };
      }
      // Read-your-writes: the isolate syncs to TXID 2 (the delta) instead of serving the root it holds.
      const check = await query(db, replica.delta.sql, [], { min_txid: 2 });
      out.delta = {
        l0Bytes: bytes.length,
        pages: replica.delta.pages,
        pageChunks: [...new Set(replica.delta.pages.map(chunkOf))],
        pollMs,
        memory: { before: m0, after: m1 },
        rowsWritten: after.rowsWritten - rowsBefore,
        position: after.position,
        rpc: delta,
        check: { rows: check.rows, expect: replica.delta.expect, meta: check.meta },
      };
    }
    await report(`large:${label}`, out);
  });
}

test("polling: Class A / Class B operations of an idle, a quiet and a busy database", async () => {
  const { replica, quietSeconds, busySeconds, busyFilesPerSecond, baseIntervalMs } = plan.polling;
  const page = replica.pollPage;
  if (!page) throw new Error("no poll page");
  const U = replica.meta.spec.pageSize;
  /** L0 file `txid`: the poll page rewritten (its chain pointer kept, the TXID in its data). */
  const l0 = (txid: number): Uint8Array => {
    const data = new Uint8Array(U);
    new DataView(data.buffer).setUint32(0, page.next);
    new DataView(data.buffer).setUint32(4, txid);
    return encodeLtxFile({ pageSize: U, commit: replica.meta.pages, minTxid: txid, maxTxid: txid, timestamp: Date.UTC(2026, 0, 1) + txid * 1000 }, [[page.pgno, data]]);
  };

  /**
   * Runs the DO's alarms over `seconds` of simulated time at the production
   * interval (`baseIntervalMs`, scaled by the DO's own back-off: the config
   * here is hourly so nothing fires by itself), with L0 files arriving at
   * `filesPerSecond`; returns the DO's storage counters over that time.
   */
  async function simulate(db: string, seconds: number, filesPerSecond: number): Promise<Record<string, unknown>> {
    const s = stub(db);
    const start = await status(db);
    let t = 0;
    let alarms = 0;
    let polls = 0;
    let lastPollAt = start.lastPollAt;
    let sent = 0;
    let txid = start.position?.txid ?? 1;
    const t0 = Date.now();
    while (t < seconds * 1000) {
      const due = Math.floor((t / 1000) * filesPerSecond);
      for (; sent < due; sent++) {
        txid++;
        await env.BUCKET.put(`${levelDir(db, "s3", 0)}${formatLtxFilename(txid, txid)}`, l0(txid));
      }
      if (!(await runDurableObjectAlarm(s))) break; // not armed: the database went idle
      alarms++;
      const now = await status(db);
      // An alarm of an idle database returns without polling.
      if (now.lastPollAt !== lastPollAt) polls++;
      lastPollAt = now.lastPollAt;
      t += (now.currentIntervalMs / now.pollIntervalMs) * baseIntervalMs;
    }
    const end = await status(db);
    return {
      seconds,
      simulatedMs: t,
      wallMs: Date.now() - t0,
      alarms,
      polls,
      filesSent: sent,
      txidFrom: start.position?.txid ?? null,
      txidTo: end.position?.txid ?? null,
      lastError: end.lastError,
      lists: end.storage.lists - start.storage.lists,
      gets: end.storage.gets - start.storage.gets,
      heads: end.storage.heads - start.storage.heads,
      bytes: end.storage.bytes - start.storage.bytes,
      finalIntervalMs: (end.currentIntervalMs / end.pollIntervalMs) * baseIntervalMs,
    };
  }

  const out: Record<string, unknown> = { baseIntervalMs, busyFilesPerSecond };
  for (const db of ["poll-quiet", "poll-busy", "poll-idle"]) {
    await seed(replica, db);
    // In use: one query (the idle one's idle_after_ms is 1 s in the bench config).
    await query(db, PROBE_SQL, [1]);
  }
  out.quiet = await simulate("poll-quiet", quietSeconds, 0);
  out.busy = await simulate("poll-busy", busySeconds, busyFilesPerSecond);
  await new Promise((r) => setTimeout(r, 1500));
  out.idle = await simulate("poll-idle", quietSeconds, 0);
  await report("polling", out);
});
