/**
 * @module
 * Stream state carried in the baton. The server keeps nothing between
 * pipelines — any isolate in any colo can continue any stream — so the baton
 * holds all of it: the database, the newest TXID the stream has seen (reads
 * never go back in time), the snapshot of an open read transaction, the
 * savepoint stack and the stored SQL texts.
 *
 * Batons are not signed: everything in one is the client's own state (SQL it
 * sent, TXIDs it was served), each field is validated on the way in, and it
 * grants nothing the client could not ask for directly. The spec's advice to
 * make batons unforgeable protects server-side sessions, which this server
 * does not have.
 */
import { ApiError } from "../api/errors.ts";

const VERSION = "h1";
/** Most SQL texts one stream may store (@libsql/client keeps up to 30). */
export const MAX_STORED_SQL = 150;
/** Most characters of stored SQL per stream: the baton travels with every request. */
export const MAX_STORED_SQL_CHARS = 256 * 1024;

export interface Pin {
  txid: number;
  generation: number;
}

export interface StreamState {
  db: string;
  /** Newest TXID served on this stream; later pipelines read at least this. */
  floor: number | null;
  /** The snapshot of the open transaction, once it has read something. */
  pin: Pin | null;
  autocommit: boolean;
  /** Open savepoints, innermost last. */
  savepoints: string[];
  /** The transaction was opened by SAVEPOINT (releasing the outermost one ends it). */
  savepointTxn: boolean;
  sqls: Map<number, string>;
  /** Pipelines so far: makes every baton differ from the one before. */
  seq: number;
}

export function newStreamState(db: string): StreamState {
  return { db, floor: null, pin: null, autocommit: true, savepoints: [], savepointTxn: false, sqls: new Map(), seq: 0 };
}

export function cloneState(s: StreamState): StreamState {
  return { ...s, pin: s.pin ? { ...s.pin } : null, savepoints: [...s.savepoints], sqls: new Map(s.sqls) };
}

interface Wire {
  d: string;
  f: number | null;
  p: [number, number] | null;
  a: boolean;
  s: string[];
  t: boolean;
  q: [number, string][];
  n: number;
}

function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): string {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
}

export function encodeBaton(s: StreamState): string {
  const w: Wire = {
    d: s.db,
    f: s.floor,
    p: s.pin ? [s.pin.txid, s.pin.generation] : null,
    a: s.autocommit,
    s: s.savepoints,
    t: s.savepointTxn,
    q: [...s.sqls.entries()],
    n: s.seq,
  };
  return `${VERSION}.${toBase64Url(JSON.stringify(w))}`;
}

const isTxid = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Decodes a baton this server issued for database `db`; anything else is 400 INVALID_BATON. */
export function decodeBaton(baton: string, db: string): StreamState {
  const invalid = (why: string): ApiError =>
    new ApiError("INVALID_BATON", `invalid baton (${why}); open a new stream by sending "baton": null`, 400);
  if (!baton.startsWith(`${VERSION}.`)) throw invalid("not issued by this server");
  let w: unknown;
  try {
    w = JSON.parse(fromBase64Url(baton.slice(VERSION.length + 1)));
  } catch {
    throw invalid("undecodable");
  }
  if (typeof w !== "object" || w === null) throw invalid("undecodable");
  const o = w as Record<string, unknown>;
  if (o.d !== db) throw invalid(`it belongs to another database`);
  if (!(o.f === null || isTxid(o.f))) throw invalid("bad TXID");
  const p = o.p;
  if (!(p === null || (Array.isArray(p) && p.length === 2 && isTxid(p[0]) && isCount(p[1])))) throw invalid("bad snapshot");
  if (typeof o.a !== "boolean" || typeof o.t !== "boolean" || !isCount(o.n)) throw invalid("bad state");
  if (!Array.isArray(o.s) || !o.s.every((x) => typeof x === "string")) throw invalid("bad savepoints");
  if (!Array.isArray(o.q) || o.q.length > MAX_STORED_SQL) throw invalid("bad stored SQL");
  const sqls = new Map<number, string>();
  let chars = 0;
  for (const e of o.q) {
    if (!Array.isArray(e) || e.length !== 2 || !Number.isInteger(e[0]) || typeof e[1] !== "string") throw invalid("bad stored SQL");
    chars += (e[1] as string).length;
    sqls.set(e[0] as number, e[1] as string);
  }
  if (chars > MAX_STORED_SQL_CHARS) throw invalid("stored SQL too large");
  return {
    db,
    floor: o.f,
    pin: p === null ? null : { txid: p[0] as number, generation: p[1] as number },
    autocommit: o.a,
    savepoints: o.s as string[],
    savepointTxn: o.t,
    sqls,
    seq: o.n,
  };
}
