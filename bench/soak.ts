/**
 * The soak: `clients` concurrent clients query the `soak` database over HTTP
 * while a writer (bench/live-replica.ts) lands an L0 file every
 * `writeEveryMs`, compacts them into L1 files every `compactEvery` writes and
 * deletes compacted L0 files after `retentionMs`. Before each file lands,
 * the answer to every soak query at its TXID is computed on the writer's own
 * database (better-sqlite3), so each response is checked against the state
 * at the TXID it reports (meta.txid): a different answer, or a TXID never
 * written, is a wrong answer. The workerd process's RSS and the isolate's
 * figures are sampled throughout.
 */
import { performance } from "node:perf_hooks";
import type { DevServer } from "./dev-server.ts";
import { isolateHealth, postQuery } from "./http-query.ts";
import type { LiveReplica } from "./live-replica.ts";
import { workerdMemory } from "./proc-memory.ts";
import { rowsJson } from "./query-kinds.ts";
import { type Summary, summarize } from "./stats.ts";

export interface SoakOptions {
  seconds: number;
  /** false: the clients only, no writes (a control for the memory trend). */
  writes: boolean;
  clients: number;
  writeEveryMs: number;
  compactEvery: number;
  retentionMs: number;
  sampleEveryMs: number;
}

export interface SoakSample {
  /** Seconds since the soak started. */
  t: number;
  rss: number;
  health: Record<string, number>;
}

export interface SoakResult {
  options: SoakOptions;
  queries: number;
  checked: number;
  wrong: number;
  unknownTxid: number;
  wrongExamples: string[];
  statuses: Record<string, number>;
  retried: number;
  byQuery: Record<string, { n: number; wall: Summary }>;
  writes: number;
  files: { l0: number; l1: number; deleted: number };
  txidFrom: number;
  txidTo: number;
  txidsServed: number;
  /** How long the position an answer was served at had already been superseded in R2, ms. */
  behind: Summary;
  writeMs: Summary;
  memory: SoakSample[];
  /** Memory samples that could not be taken, and why (the first few). */
  sampleErrors: string[];
  restoreMatches?: boolean;
}

interface SoakQuery {
  id: string;
  sql: string;
  params: unknown[][];
  weight: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function soakQueries(live: LiveReplica): SoakQuery[] {
  const hot = live.db.prepare("SELECT id, ref FROM events WHERE id >= 1000 ORDER BY id LIMIT 20").raw(true).all();
  return [
    { id: "point", sql: "SELECT id, amount, note FROM events WHERE id = ?", params: hot.map((r) => [r[0]]), weight: 30 },
    { id: "ref", sql: "SELECT id, amount FROM events WHERE ref = ?", params: hot.map((r) => [r[1]]), weight: 15 },
    { id: "range", sql: "SELECT count(*), sum(amount), max(note) FROM events WHERE id BETWEEN 1000 AND 1999", params: [[]], weight: 15 },
    { id: "tail", sql: "SELECT id, ref, amount FROM events WHERE id > 199990 ORDER BY id", params: [[]], weight: 15 },
    { id: "scan", sql: "SELECT count(*), sum(amount), max(id) FROM events", params: [[]], weight: 12 },
    { id: "group", sql: "SELECT kind, count(*), sum(amount) FROM events GROUP BY kind ORDER BY kind", params: [[]], weight: 13 },
  ];
}

const keyOf = (q: SoakQuery, params: unknown[]) => `${q.id}|${JSON.stringify(params)}`;

export async function runSoak(dev: DevServer, live: LiveReplica, o: SoakOptions, log: (s: string) => void): Promise<SoakResult> {
  const queries = soakQueries(live);
  const hotIds = queries[0]?.params.map((p) => p[0] as number) ?? [];
  const expected = new Map<number, Map<string, string>>();
  const answersNow = (txid: number) => {
    const m = new Map<string, string>();
    for (const q of queries) {
      const stmt = live.db.prepare(q.sql).raw(true);
      for (const p of q.params) m.set(keyOf(q, p), rowsJson(stmt.all(...p)));
    }
    expected.set(txid, m);
  };
  answersNow(live.txid);
  const txidFrom = live.txid;
  const totalWeight = queries.reduce((n, q) => n + q.weight, 0);
  const pick = (): SoakQuery => {
    let x = Math.random() * totalWeight;
    for (const q of queries) if ((x -= q.weight) < 0) return q;
    return queries[0] as SoakQuery;
  };
  const r: SoakResult = {
    options: o,
    queries: 0,
    checked: 0,
    wrong: 0,
    unknownTxid: 0,
    wrongExamples: [],
    statuses: {},
    retried: 0,
    byQuery: {},
    writes: 0,
    files: live.files,
    txidFrom,
    txidTo: txidFrom,
    txidsServed: 0,
    behind: summarize([]),
    writeMs: summarize([]),
    memory: [],
    sampleErrors: [],
  };
  const walls: Record<string, number[]> = {};
  const behind: number[] = [];
  const served = new Set<number>();
  const start = performance.now();
  const end = start + o.seconds * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const q = pick();
      const params = q.params[Math.floor(Math.random() * q.params.length)] ?? [];
      let reply;
      try {
        reply = await postQuery(dev.base, "soak", q.sql, { params });
      } catch (e) {
        const k = `connection: ${e instanceof Error ? e.message : String(e)}`;
        r.statuses[k] = (r.statuses[k] ?? 0) + 1;
        continue;
      }
      r.queries++;
      const status = reply.status === 200 ? "200" : `${reply.status} ${reply.error?.code ?? ""}`;
      r.statuses[status] = (r.statuses[status] ?? 0) + 1;
      if (reply.status !== 200) continue;
      (walls[q.id] ??= []).push(reply.ms);
      if (reply.meta.retried) r.retried++;
      const txid = reply.meta.txid;
      served.add(txid);
      const next = live.landed.get(txid + 1);
      behind.push(next === undefined ? 0 : Math.max(0, performance.now() - reply.ms - next));
      const want = expected.get(txid)?.get(keyOf(q, params));
      r.checked++;
      if (want === undefined) {
        r.unknownTxid++;
        r.wrong++;
      } else if (rowsJson(reply.rows) !== want) {
        r.wrong++;
        if (r.wrongExamples.length < 5) r.wrongExamples.push(`${q.id} ${JSON.stringify(params)} at TXID ${txid}: got ${rowsJson(reply.rows).slice(0, 200)}, want ${want.slice(0, 200)}`);
      }
    }
  };
  const writer = async () => {
    const times: number[] = [];
    let nextId = 1 + Number(live.db.prepare("SELECT max(id) FROM events").raw(true).all()[0]?.[0] ?? 0);
    while (o.writes && performance.now() < end) {
      const t0 = performance.now();
      const txid = live.txid + 1;
      const ids = Array.from({ length: 3 }, () => hotIds[Math.floor(Math.random() * hotIds.length)]);
      const insert = txid % 4 === 0 ? nextId++ : null;
      await live.write((db) => {
        db.prepare("UPDATE events SET amount = amount + 1, note = ? WHERE id IN (?, ?, ?)").run(`soak ${txid}`, ...ids);
        db.prepare("UPDATE events SET amount = amount - 1 WHERE id = ?").run(1 + Math.floor(Math.random() * 200_000));
        if (insert !== null) db.prepare("INSERT INTO events(id, ref, kind, amount, payload, note) VALUES (?, ?, 'kind-soak', ?, ?, 'soak')").run(insert, `ref-soak-${insert}`, txid, `soak payload ${insert}`);
      }, answersNow);
      r.writes++;
      if (r.writes % o.compactEvery === 0) await live.compact();
      await live.retire(o.retentionMs);
      times.push(performance.now() - t0);
      await sleep(Math.max(0, Math.min(end - performance.now(), o.writeEveryMs - (performance.now() - t0))));
    }
    r.writeMs = summarize(times);
  };
  const sampler = async () => {
    let lastLog = 0;
    while (performance.now() < end) {
      const t = (performance.now() - start) / 1000;
      try {
        r.memory.push({ t, rss: workerdMemory(dev.process.pid ?? 0).rss, health: await isolateHealth(dev.base) });
      } catch (e) {
        const why = `at ${t.toFixed(0)} s: ${e instanceof Error ? e.message : String(e)}`;
        if (r.sampleErrors.length < 3) r.sampleErrors.push(why);
      }
      if (t - lastLog >= 30) {
        lastLog = t;
        log(`  soak: ${t.toFixed(0)} s, ${r.queries} queries, ${r.wrong} wrong, TXID ${live.txid}`);
      }
      await sleep(o.sampleEveryMs);
    }
  };
  await Promise.all([writer(), sampler(), ...Array.from({ length: o.clients }, client)]);
  r.txidTo = live.txid;
  r.txidsServed = served.size;
  r.behind = summarize(behind);
  for (const [id, xs] of Object.entries(walls)) r.byQuery[id] = { n: xs.length, wall: summarize(xs) };
  return r;
}
