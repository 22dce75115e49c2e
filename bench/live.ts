/**
 * A replica that changes under the Worker (wrangler dev), written by
 * bench/live-replica.ts into local R2:
 * - replication lag: an L0 file lands in R2 → the first query that sees its
 *   TXID (and the Durable Object's position, GET /db/:name, for where the
 *   time goes), at the default poll interval and at 100 ms;
 * - a soak: concurrent clients query `medium` while new L0 files keep
 *   landing and being compacted and retired; every answer is checked against
 *   the writer's own database at the TXID the response reports (meta.txid),
 *   and the workerd process's memory is sampled.
 */
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type LocalR2, openLocalR2 } from "../src/cli/local-r2.ts";
import { locateProject, readBucketName } from "../src/cli/wrangler-config.ts";
import { Replica } from "../src/replica/replica.ts";
import { DirStore } from "../src/replica/dir.ts";
import { restoreToBytes } from "../src/restore/restore.ts";
import { type DevServer, startDev, stopDev } from "./dev-server.ts";
import { mustQuery, postQuery, type QueryReply } from "./http-query.ts";
import { LiveReplica } from "./live-replica.ts";
import { copyReplicaS3 } from "./medium-files.ts";
import type { NativeLib } from "./native.ts";
import { type Summary, summarize } from "./stats.ts";
import { type SoakOptions, type SoakResult, runSoak } from "./soak.ts";

const ROOT = join(import.meta.dirname, "..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LagRow {
  label: string;
  pollIntervalMs: number;
  /** Landed in R2 → the Durable Object's position has it; → a query answers at it. */
  doLag: Summary;
  queryLag: Summary;
  wrong: number;
}

export interface LiveResult {
  lag: LagRow[];
  /** The same clients for a while with no writes first: where a memory trend comes from. */
  control: SoakResult | null;
  soak: SoakResult | null;
  errors: string[];
}

/** Polls until `seen()` is true; returns performance.now() then (throws after `ms`). */
async function until(seen: () => Promise<boolean>, ms: number): Promise<number> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await seen()) return performance.now();
    await sleep(10);
  }
  throw new Error(`not seen within ${ms} ms`);
}

async function positionTxid(dev: DevServer, db: string): Promise<number> {
  const res = await fetch(`${dev.base}/db/${db}`);
  const body = (await res.json()) as { position?: { txid?: number } };
  return body.position?.txid ?? 0;
}

/** `samples` writes to a one-table database, each timed until the DO and a query see it. */
async function measureLag(dev: DevServer, live: LiveReplica, label: string, pollIntervalMs: number, samples: number, extra: Record<string, unknown>): Promise<LagRow> {
  const db = live.prefix;
  const sql = "SELECT v FROM kv WHERE id = 1";
  await mustQuery(dev.base, db, sql, extra);
  const doLag: number[] = [];
  const queryLag: number[] = [];
  let wrong = 0;
  for (let i = 0; i < samples; i++) {
    // Writes at random phases of the poll cycle.
    await sleep(200 + Math.random() * Math.max(1000, pollIntervalMs));
    const w = await live.write((d) => d.prepare("UPDATE kv SET v = v + 1 WHERE id = 1").run());
    const want = live.db.prepare(sql).raw(true).all()[0]?.[0];
    let reply: QueryReply | null = null;
    const [doAt, queryAt] = await Promise.all([
      until(async () => (await positionTxid(dev, db)) >= w.txid, 60_000),
      until(async () => {
        reply = await postQuery(dev.base, db, sql, extra);
        return reply.status === 200 && reply.meta.txid >= w.txid;
      }, 60_000),
    ]);
    const got = (reply as QueryReply | null)?.rows[0]?.[0];
    if ((reply as QueryReply | null)?.meta.txid === w.txid && got !== want) wrong++;
    doLag.push(doAt - w.landedAt);
    queryLag.push(queryAt - w.landedAt);
  }
  return { label, pollIntervalMs, doLag: summarize(doLag), queryLag: summarize(queryLag), wrong };
}

async function lagDatabase(lib: NativeLib, r2: LocalR2, dir: string, prefix: string): Promise<LiveReplica> {
  const path = join(dir, `${prefix}.db`);
  const db = new lib.ctor(path);
  db.exec("PRAGMA journal_mode = DELETE; CREATE TABLE kv(id INTEGER PRIMARY KEY, v INTEGER); WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 100) INSERT INTO kv SELECT x, 0 FROM s;");
  db.close();
  return LiveReplica.open(lib, { bucket: r2.bucket, prefix, dbPath: path, mirror: join(dir, "mirror"), txid: 0, snapshot: true });
}

export interface LiveOptions {
  lagSamples: number;
  /** Seconds of the no-writes control before the soak (0: none). */
  controlSeconds: number;
  soak: Omit<SoakOptions, "writes">;
}

/** Lag and soak under one wrangler dev; `restored` is the medium database file at the replica's last TXID. */
export async function benchLive(lib: NativeLib, medium: string, restored: string, mediumTxid: number, o: LiveOptions, log: (s: string) => void): Promise<LiveResult> {
  const state = await mkdtemp(join(tmpdir(), "ltx-edge-bench-live-"));
  const work = await mkdtemp(join(tmpdir(), "ltx-edge-bench-live-work-"));
  const result: LiveResult = { lag: [], control: null, soak: null, errors: [] };
  // Miniflare's local R2, opened next to wrangler dev's (as `ltx-edge seed` does while dev runs).
  const r2 = await openLocalR2(state, readBucketName(locateProject(ROOT)));
  const lives: LiveReplica[] = [];
  let dev: DevServer | null = null;
  try {
    const lag1000 = await lagDatabase(lib, r2, work, "lag-default");
    const lag100 = await lagDatabase(lib, r2, work, "lag-100");
    lives.push(lag1000, lag100);
    // The soak's database: the medium replica, then the writer's copy of the restored file follows it.
    await copyReplicaS3(medium, "soak", r2.bucket, join(work, "mirror"));
    const soakPath = join(work, "soak.db");
    await copyFile(restored, soakPath);
    const soak = await LiveReplica.open(lib, { bucket: r2.bucket, prefix: "soak", dbPath: soakPath, mirror: join(work, "mirror"), txid: mediumTxid, snapshot: false });
    lives.push(soak);
    dev = await startDev(state, { DATABASES: { databases: { "lag-default": { prefix: "lag-default" }, "lag-100": { prefix: "lag-100", poll_interval_ms: 100 }, soak: { prefix: "soak" } } } });
    const d = dev;
    const lagRows: [string, LiveReplica, number, Record<string, unknown>][] = [
      ["default poll interval (1 s)", lag1000, 1000, {}],
      ["poll_interval_ms = 100", lag100, 100, {}],
      ["poll_interval_ms = 100, request max_staleness_ms = 100", lag100, 100, { max_staleness_ms: 100 }],
    ];
    for (const [label, live, poll, extra] of lagRows) {
      log(`  lag: ${label}`);
      try {
        result.lag.push(await measureLag(d, live, label, poll, o.lagSamples, extra));
      } catch (e) {
        result.errors.push(`lag, ${label}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (o.controlSeconds > 0) {
      log(`  soak control: ${o.controlSeconds} s, ${o.soak.clients} clients, no writes`);
      result.control = await runSoak(d, soak, { ...o.soak, seconds: o.controlSeconds, writes: false }, log);
    }
    log(`  soak: ${(o.soak.seconds / 60).toFixed(1)} min, ${o.soak.clients} clients`);
    result.soak = await runSoak(d, soak, { ...o.soak, writes: true }, log);
    // The replica as written (mirror) must restore to the writer's bytes.
    const restoredNow = await restoreToBytes(new Replica(new DirStore(join(work, "mirror")), { prefix: "soak" }));
    result.soak.restoreMatches = Buffer.compare(Buffer.from(restoredNow.bytes), Buffer.from(soak.bytes)) === 0;
  } catch (e) {
    result.errors.push(`live: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    for (const l of lives) l.close();
    if (dev) await stopDev(dev.process, state);
    await r2.dispose();
    await rm(state, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
  return result;
}
